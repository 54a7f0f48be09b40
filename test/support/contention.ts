import { type ChildProcess, spawn } from 'node:child_process';

/**
 * `IDEMKIT_CONTENTION=N` keeps N busy processes running for the whole test run (`npm run soak:contended`
 * uses one per core), so the reliability suite is shown to hold on a loaded machine, not only a quiet one.
 * Each burner spins on the CPU and exits on its own when this process goes away.
 */
const BURNER = `
const parent = process.ppid;
for (;;) {
  for (let i = 0; i < 5e7; i++);
  if (process.ppid !== parent) process.exit(0);
}`;

let burners: ChildProcess[] = [];

export function setup(): void {
  const raw = process.env.IDEMKIT_CONTENTION;
  if (raw === undefined || raw === '') return;
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new Error(
      `Expected \`IDEMKIT_CONTENTION\` to be the number of busy processes (1 to 64), got '${raw}'; unset it for an unloaded run.`,
    );
  }
  burners = Array.from({ length: count }, () => spawn(process.execPath, ['-e', BURNER], { stdio: 'ignore' }));
  process.stderr.write(`[contention] ${count} busy processes keep the CPU loaded during this run\n`);
}

export function teardown(): void {
  for (const burner of burners) burner.kill('SIGKILL');
  burners = [];
}
