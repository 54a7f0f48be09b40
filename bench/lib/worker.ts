import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
export const TMP_DIR = fileURLToPath(new URL('../.tmp/', import.meta.url));

/**
 * Runs `bench/workers/<name>.ts` in a fresh Node process and returns what it sends back. Its stdout goes to
 * /dev/null: idemkit's default telemetry writes a JSON log line and an EMF metric per decision, which is part
 * of the cost measured but not something to print. Its stderr is kept in `bench/.tmp/<name>.stderr`.
 */
export async function runWorker<T>(
  name: string,
  input: unknown,
  nodeFlags: readonly string[] = [],
): Promise<T> {
  const stderrPath = `${TMP_DIR}${name}.stderr`;
  const stderr = openSync(stderrPath, 'w');
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', `${BENCH_DIR}workers/${name}.ts`], {
    stdio: ['ignore', 'ignore', stderr, 'ipc'],
    env: { ...process.env, BENCH_INPUT: JSON.stringify(input), AWS_LAMBDA_FUNCTION_NAME: 'orders-api' },
  });
  closeSync(stderr);
  const stopChild = () => child.kill('SIGKILL');
  process.once('exit', stopChild);
  try {
    return await new Promise<T>((resolve, reject) => {
      let result: { ok: true; value: T } | { ok: false; error: string } | undefined;
      child.on('message', (message) => {
        result = message as typeof result;
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (result?.ok === true) resolve(result.value);
        else {
          const tail = readFileSync(stderrPath, 'utf8').slice(-3000);
          reject(
            new Error(
              `bench worker ${name} failed (${signal ?? `exit ${code}`}): ${result?.ok === false ? result.error : ''}\n${tail}`,
            ),
          );
        }
      });
    });
  } finally {
    process.off('exit', stopChild);
  }
}

/** The worker side: reads the input, runs, sends the result (or the error) to the parent and exits. */
export function workerMain<I, O>(run: (input: I) => Promise<O>): void {
  const input = JSON.parse(process.env.BENCH_INPUT ?? '{}') as I;
  run(input).then(
    (value) => process.send?.({ ok: true, value }, () => process.exit(0)),
    (error: unknown) =>
      process.send?.(
        { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) },
        () => process.exit(1),
      ),
  );
}
