/**
 * What every door gets at cold start from `buildEngine` and `buildGuard`: settings resolved from the options and the
 * `IDEMPOTENCY_*` variables, their warnings logged, the user's telemetry, clock and large-result store used, and the
 * in-process cache sized as asked.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildEngine, buildGuard } from '../../src/core/door.js';
import { IdempotencyConfigError } from '../../src/core/errors.js';
import type { CommonOptions } from '../../src/core/options.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { captureLogs } from '../support/log-capture.js';
import { MemoryResultStore } from '../support/memory-result-store.js';
import { recordingTelemetry } from './recording-telemetry.js';

const request = (key: string) => ({ org: 'acme', scope: 'charge', key, fingerprint: 'fp' });

function options(overrides: Partial<CommonOptions> = {}): CommonOptions {
  return { store: new MemoryStore(), environment: 'test', mode: 'enforce', waitBudgetMs: 0, ...overrides };
}

/** Runs `key` once to completion with `result`, then asks again: how the duplicate was answered. */
async function completeThenReplay(engine: ReturnType<typeof buildEngine>, key: string, result: unknown) {
  const first = await engine.begin(request(key));
  if (first.kind !== 'execute') throw new Error(`Expected to run, got ${first.kind}.`);
  await engine.complete(first.lease, result);
  return engine.begin(request(key));
}

describe('the engine a door builds', () => {
  it('logs the settings’ warnings through the given telemetry', () => {
    const telemetry = recordingTelemetry();
    buildEngine(options({ environment: 'prod', lockTtlSeconds: 30, telemetry: telemetry.telemetry }), {});
    expect(telemetry.warnings).toEqual([
      expect.stringMatching(/`lockTtlSeconds` to be at least 120 in prod/),
    ]);
  });

  it('writes its own log lines without a telemetry of the user’s', () => {
    const logs = captureLogs();
    try {
      buildEngine(options({ environment: 'prod', lockTtlSeconds: 30 }), {});
    } finally {
      logs.stop();
    }
    expect(logs.lines.some((line) => line.includes('at least 120 in prod'))).toBe(true);
  });

  it('reads the IDEMPOTENCY_* variables it is given over the options', () => {
    const engine = buildEngine(options({ mode: 'enforce' }), { IDEMPOTENCY_MODE: 'off' });
    expect(engine.mode).toBe('off');
  });

  it('stamps records with the given clock', async () => {
    const store = new MemoryStore();
    const engine = buildEngine(options({ store, clock: () => 1_800_000_000_000 }), {});
    await engine.begin(request('k-clock'));
    expect(store.records()[0]?.createdAt).toBe(1_800_000_000_000);
  });

  it('keeps a result too large for the record in the given large-result store', async () => {
    const largeResults = new MemoryResultStore();
    const engine = buildEngine(options({ largeResults }), {});
    // Random bytes do not compress: past the record's 350,000-byte limit however brotli tries.
    const large = { blob: randomBytes(500_000).toString('base64') };
    const replay = await completeThenReplay(engine, 'k-large', large);
    expect(largeResults.objects.size).toBe(1);
    expect(replay).toMatchObject({ kind: 'replay', result: large });
  });
});

describe('the cache a door builds', () => {
  it('is none unless asked for', async () => {
    for (const cache of [undefined, false]) {
      const replay = await completeThenReplay(buildEngine(options({ cache }), {}), 'k', { ok: 1 });
      expect(replay).toMatchObject({ kind: 'replay', fromCache: false });
    }
  });

  it('answers a replay from memory with `cache: true`', async () => {
    const replay = await completeThenReplay(buildEngine(options({ cache: true }), {}), 'k', { ok: 1 });
    expect(replay).toMatchObject({ kind: 'replay', fromCache: true });
  });

  it('is sized by the cache options given', async () => {
    const replay = await completeThenReplay(buildEngine(options({ cache: { maxEntries: 0 } }), {}), 'k', 1);
    expect(replay).toMatchObject({ kind: 'replay', fromCache: false });
    const roomy = await completeThenReplay(buildEngine(options({ cache: { maxEntries: 5 } }), {}), 'k', 1);
    expect(roomy).toMatchObject({ kind: 'replay', fromCache: true });
  });
});

describe('the guard a door builds', () => {
  it('renews as often as `renewEvery` says', () => {
    expect(buildGuard(options({ lockTtlSeconds: 60, renewEvery: 5000 }), 'myDoor', {}).renewEveryMs).toBe(
      5000,
    );
  });

  it('names the door when `renewEvery` is not shorter than the lock TTL', () => {
    expect(() => buildGuard(options({ lockTtlSeconds: 60, renewEvery: 60_000 }), 'myDoor', {})).toThrow(
      IdempotencyConfigError,
    );
    expect(() => buildGuard(options({ lockTtlSeconds: 60, renewEvery: 60_000 }), 'myDoor', {})).toThrow(
      /`renewEvery` of `myDoor`/,
    );
  });

  it('guards with an engine built from the same options and variables', () => {
    const guard = buildGuard(options(), 'myDoor', { IDEMPOTENCY_MODE: 'observe' });
    expect(guard.engine.mode).toBe('observe');
  });
});
