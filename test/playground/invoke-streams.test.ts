import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { invoke } from '../cli/support.js';
import { REPO_ROOT } from './processes.js';

/** Each stream sample, how many distinct jobs it holds, and the raw keys no output line may show. */
const SAMPLES = [
  { sample: 'kinesis-batch', scope: 'ship-order', jobs: 2, rawKeys: ['o-1001', 'o-1002'] },
  {
    sample: 'dynamodb-stream-batch',
    scope: 'index-order',
    jobs: 3,
    rawKeys: (
      JSON.parse(readFileSync(join(REPO_ROOT, 'events/dynamodb-stream-batch.json'), 'utf8')) as {
        Records: { eventID: string }[];
      }
    ).Records.map((record) => record.eventID),
  },
  { sample: 'msk-batch', scope: 'capture-payment', jobs: 2, rawKeys: ['p-3001', 'p-3002'] },
] as const;

describe('npm run invoke with the stream samples', () => {
  it.each(SAMPLES)(
    'runs each job of the $sample sample once, then acknowledges the redelivered batch from the store',
    async ({ sample, scope, jobs, rawKeys }) => {
      const run = await invoke([
        'playground/stream-handlers.ts',
        `events/${sample}.json`,
        '--times',
        '2',
        '--store',
        'memory',
      ]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      const lines = run.stdout.split('\n');
      const first = lines.findIndex((line) => line.startsWith('#1 '));
      const second = lines.findIndex((line) => line.startsWith('#2 '));
      expect(lines[first]).toMatch(/^#1 in \d+ ms: \{"batchItemFailures":\[\]\}$/);
      expect(lines[second]).toMatch(/^#2 in \d+ ms: \{"batchItemFailures":\[\]\}$/);
      const decisions = (from: number, to: number) =>
        lines.slice(from, to).filter((line) => line.includes(` ${scope} `));
      // Duplicates inside the batch collapse before any I/O: one first execution per distinct job.
      const firstRun = decisions(0, first);
      expect(firstRun).toHaveLength(jobs);
      expect(firstRun.every((line) => /\bfirst_execution\b/.test(line))).toBe(true);
      const redelivery = decisions(first + 1, second);
      expect(redelivery).toHaveLength(jobs);
      expect(redelivery.every((line) => /\breplay\b/.test(line))).toBe(true);
      for (const key of rawKeys) expect(run.stdout + run.stderr).not.toContain(key);
    },
    90_000,
  );
});
