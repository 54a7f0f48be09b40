/**
 * Captures every line written to stdout and stderr (Powertools Logger and Metrics write there), so a
 * test can check that no raw key, payload or result ever reaches a log line.
 */
export interface LogCapture {
  readonly lines: string[];
  stop(): void;
}

export function captureLogs(): LogCapture {
  const lines: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const tap =
    (original: typeof process.stdout.write) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      lines.push(
        ...String(chunk)
          .split('\n')
          .filter((line) => line !== ''),
      );
      // Keep the test output quiet: captured lines are checked, not printed.
      void original;
      void rest;
      return true;
    };
  process.stdout.write = tap(originals.out) as typeof process.stdout.write;
  process.stderr.write = tap(originals.err) as typeof process.stderr.write;
  return {
    lines,
    stop() {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    },
  };
}
