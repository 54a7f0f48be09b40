import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvokeError, invokeHandler } from '../../playground/invoke.js';
import { invoke } from '../cli/support.js';
import { REPO_ROOT } from './processes.js';

const folder = mkdtempSync(join(tmpdir(), 'idemkit-invoke-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** The HTTP API sample with a body the reference handler accepts and a fresh key. */
function orderEvent(key: string): string {
  const event = JSON.parse(readFileSync(join(REPO_ROOT, 'events/apigw-http-api-v2.json'), 'utf8'));
  event.headers['idempotency-key'] = key;
  event.body = JSON.stringify({ items: [{ sku: 'tea', quantity: 2 }] });
  const file = join(folder, `${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify(event));
  return file;
}

describe('npm run invoke', () => {
  it('runs the handler once and replays the stored response to every later invocation', async () => {
    const key = `secret-${randomUUID()}`;
    const run = await invoke([
      'infra/handlers/orders-api.ts',
      orderEvent(key),
      '--times',
      '3',
      '--store',
      'memory',
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const results = run.stdout.split('\n').filter((line) => /^#\d/.test(line));
    expect(results).toHaveLength(3);
    expect(results[0]).toMatch(/^#1 in \d+ ms: 201 \{/);
    expect(results[1]).toMatch(/^#2 in \d+ ms: 201 \(Idempotent-Replayed: true\)/);
    expect(results[2]).toMatch(/^#3 in \d+ ms: 201 \(Idempotent-Replayed: true\)/);
    expect(run.stdout.match(/first_execution/g)).toHaveLength(1);
    expect(run.stdout.match(/create-order\s+replay/g)).toHaveLength(2);
    expect(run.stdout + run.stderr).not.toContain(key);
  }, 90_000);

  it('refuses a bad flag with one line naming it, exit 2', async () => {
    const run = await invoke(['infra/handlers/orders-api.ts', orderEvent('k'), '--times', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('idemkit: Expected `--times` to be a whole number 1 to 1000, got "0".');
  }, 60_000);

  it('says how to start a playground when none runs', async () => {
    await expect(
      invokeHandler({
        handlerFile: 'infra/handlers/orders-api.ts',
        eventFile: orderEvent('k'),
        stateFile: join(folder, 'no-state.json'),
        out: () => undefined,
      }),
    ).rejects.toThrow(
      new InvokeError(
        'No playground is running (nothing recorded in .cache/playground/state.json); start one with `npm start` in another terminal, or pass `--store memory`.',
      ),
    );
  });

  it('names a missing event file', async () => {
    await expect(
      invokeHandler({
        handlerFile: 'infra/handlers/orders-api.ts',
        eventFile: 'events/nope.json',
        store: 'memory',
      }),
    ).rejects.toThrow(/Expected <event.json> to be a file, got 'events\/nope.json'/);
  });
});
