import { createInterface } from 'node:readline/promises';
import cliProgress from 'cli-progress';
import { CliError } from './errors.js';

/**
 * Where the CLI writes and how it asks. The real process streams by default; tests pass their own.
 *
 * @example
 * const io = processIo();
 * io.out('done');
 */
export interface Io {
  /** One line (or a JSON document) on stdout. */
  out(line: string): void;
  /** One line on stderr: progress, warnings, errors. */
  err(line: string): void;
  /** stderr is a terminal: draw a progress bar. */
  readonly progressTty: boolean;
  /** stdin and stderr are terminals: a prompt can be answered. */
  readonly canPrompt: boolean;
  /** Asks a yes/no question; `true` on y or yes. */
  ask(question: string): Promise<boolean>;
  readonly stderr: NodeJS.WritableStream;
}

/** The process's own streams. */
export function processIo(): Io {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    progressTty: process.stderr.isTTY === true,
    canPrompt: process.stdin.isTTY === true && process.stderr.isTTY === true,
    stderr: process.stderr,
    async ask(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await rl.question(`${question} [y/N] `);
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    },
  };
}

/**
 * Confirms a destructive action: `--yes` skips the question; without a terminal to ask on, it refuses
 * with the fix rather than waiting for input that never comes (CI).
 *
 * @example
 * await confirm(io, options.yes, 'Delete 3 messages from orders-dlq?', 'delete from the DLQ');
 */
export async function confirm(
  io: Io,
  yes: boolean | undefined,
  question: string,
  action: string,
): Promise<void> {
  if (yes === true) return;
  if (!io.canPrompt) {
    throw new CliError(
      `Refusing to ${action} without confirmation: there is no terminal to ask on; pass \`--yes\`.`,
    );
  }
  if (!(await io.ask(question))) throw new CliError(`Cancelled: nothing was changed.`, { exitCode: 1 });
}

/** Live progress of a replay: a bar on a terminal, a plain line at most once a second otherwise. */
export interface Progress {
  update(values: { done: number; moved: number; skipped: number; failed: number }): void;
  stop(): void;
}

/**
 * Progress for `dlq replay`. `total` is the DLQ depth or `--max`, an estimate that the bar grows past
 * when messages arrive during the run.
 *
 * @example
 * const progress = startProgress(io, 1000, json);
 */
export function startProgress(io: Io, total: number, quiet: boolean): Progress {
  const started = Date.now();
  if (quiet) return { update() {}, stop() {} };
  if (io.progressTty) {
    const bar = new cliProgress.SingleBar(
      {
        stream: io.stderr,
        format:
          'replay |{bar}| {value}/{total} | moved {moved} skipped {skipped} failed {failed} | {speed}/s | ETA {eta_formatted}',
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(total, 1), 0, { moved: 0, skipped: 0, failed: 0, speed: '0' });
    return {
      update(values) {
        if (values.done > bar.getTotal()) bar.setTotal(values.done);
        bar.update(values.done, { ...values, speed: rate(values.moved, started) });
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(values) {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      io.err(
        `progress: ${values.done} seen, ${values.moved} moved, ${values.skipped} skipped, ${values.failed} failed, ${rate(values.moved, started)}/s`,
      );
    },
    stop() {},
  };
}

function rate(count: number, started: number): string {
  const seconds = (Date.now() - started) / 1000;
  return seconds <= 0 ? '0' : (count / seconds).toFixed(0);
}

/** A duration as an operator reads it: `45 s`, `12 min`, `3.5 h`, `2.0 d`. */
export function formatDuration(ms: number): string {
  const seconds = Math.abs(ms) / 1000;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

/** Aligns rows of cells into columns. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * Reads an integer flag: one line naming the flag, the range and what was received when it is not one.
 *
 * @example
 * integerFlag('--max', '100', 1); // 100
 */
export function integerFlag(
  flag: string,
  value: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < min || number > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min} to ${max}`;
    throw new CliError(`Expected \`${flag}\` to be a whole number ${range}, got ${JSON.stringify(value)}.`);
  }
  return number;
}
