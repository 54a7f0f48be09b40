import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RecordCache } from '../../src/core/cache.js';
import { type Decision, IdempotencyEngine, type Lease } from '../../src/core/engine.js';
import type { Mode } from '../../src/core/options.js';
import { resolveSettings } from '../../src/core/settings.js';
import { Signal } from '../../src/core/telemetry.js';
import { RecordStatus } from '../../src/core/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { MemoryResultStore, type PutFault } from '../support/memory-result-store.js';
import { recordingTelemetry } from './recording-telemetry.js';

// The engine's side of large results (docs/protocol.md section 3, "Large results"), through its port: a result store
// in memory whose faults a test chooses (a write that fails or never ends, an object gone, altered or unreadable).
// S3ResultStore itself is tested against s3rver (test/stores, test/core/make-idempotent.test.ts).

const START = 1_700_000_000_000;
const LOCK_TTL_MS = 60_000;

/** Engines sharing one record store and one result store, each with its own clock reading and telemetry. */
function world(options: { largeResults?: MemoryResultStore; compressAboveBytes?: number } = {}) {
  const store = new MemoryStore();
  const largeResults = options.largeResults ?? new MemoryResultStore();
  const clock = { now: START };
  function engine(config: { mode?: Mode; cache?: boolean; withLargeResults?: boolean } = {}): {
    engine: IdempotencyEngine;
    telemetry: ReturnType<typeof recordingTelemetry>;
  } {
    const telemetry = recordingTelemetry();
    const { settings } = resolveSettings(
      {
        environment: 'test',
        mode: config.mode ?? 'enforce',
        waitBudgetMs: 0,
        lockTtlSeconds: LOCK_TTL_MS / 1000,
      },
      {},
    );
    return {
      engine: new IdempotencyEngine({
        store,
        settings,
        telemetry: telemetry.telemetry,
        cache: config.cache === true ? new RecordCache({}) : undefined,
        clock: () => clock.now,
        random: () => 0,
        sleep: async () => {},
        codecLimits: { compressAboveBytes: options.compressAboveBytes ?? 1_000_000, maxResultBytes: 100 },
        largeResults: config.withLargeResults === false ? undefined : largeResults,
      }),
      telemetry,
    };
  }
  return { store, largeResults, clock, engine };
}

const request = (key: string) => ({ org: 'acme', scope: 'charge', key, fingerprint: 'fp-1' });
const big = { rows: 'x'.repeat(300) };
const fallback = { statusCode: 201 };
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

function leaseOf(decision: Decision): Lease {
  if (decision.kind !== 'execute') throw new Error(`Expected an execute decision, got ${decision.kind}.`);
  return decision.lease;
}

function storeErrors(telemetry: ReturnType<typeof recordingTelemetry>) {
  return telemetry.signals
    .filter((entry) => entry.signal === Signal.StoreError)
    .map((entry) => entry.facts.detail);
}

describe('a result too large for the record, with a large-result store', () => {
  it('is written whole first, named by its record and SHA-256, and the record points at it beside the fallback', async () => {
    const { store, largeResults, engine } = world();
    const { engine: owner, telemetry } = engine();
    const lease = leaseOf(await owner.begin(request('k-whole')));
    expect(await owner.complete(lease, big, { fallback })).toBe(true);
    const body = Buffer.from(JSON.stringify(big), 'utf8');
    const [record] = store.records();
    const written = largeResults.puts;
    expect(written.map(({ name, sha256: digest }) => ({ name, digest }))).toEqual([
      { name: `${record?.pk}/${sha256(body)}`, digest: sha256(body) },
    ]);
    expect(Buffer.from(written[0]?.body ?? [])).toEqual(body);
    expect(record).toMatchObject({
      status: RecordStatus.Completed,
      result: JSON.stringify(fallback),
      resultDropped: 'too_large',
      resultRef: {
        key: `results/${record?.pk}/${sha256(body)}`,
        sha256: sha256(body),
        size: body.length,
        form: 'text',
      },
    });
    // Kept whole, it is not counted as a result too large.
    expect(telemetry.names()).toEqual([Signal.FirstExecution]);
  });

  it('is replayed whole by another engine, reading no more than its size and one byte', async () => {
    const { largeResults, engine } = world();
    const { engine: owner } = engine();
    await owner.complete(leaseOf(await owner.begin(request('k-replay'))), big, { fallback });
    const { engine: other, telemetry } = engine();
    const replay = await other.begin(request('k-replay'));
    expect(replay).toMatchObject({ kind: 'replay', result: big, fromCache: false });
    expect(replay.kind === 'replay' && replay.dropped).toBeUndefined();
    const size = Buffer.byteLength(JSON.stringify(big));
    expect(largeResults.reads).toEqual([{ key: expect.any(String), maxBytes: size }]);
    expect(telemetry.signals).toEqual([
      {
        signal: Signal.Replay,
        facts: expect.objectContaining({ detail: expect.objectContaining({ resultDropped: undefined }) }),
      },
    ]);
  });

  it('is replayed whole when it was kept compressed', async () => {
    // Hex digests compress to about half: still far over the 100-byte limit.
    const rows = Array.from({ length: 40 }, (_, index) => sha256(`row ${index}`));
    const { store, engine } = world({ compressAboveBytes: 10 });
    const { engine: owner } = engine();
    await owner.complete(leaseOf(await owner.begin(request('k-compressed'))), { rows }, { fallback });
    const ref = store.records()[0]?.resultRef;
    expect(ref?.form).toBe('bytes');
    expect(ref?.size).toBeLessThan(JSON.stringify({ rows }).length);
    expect(await engine().engine.begin(request('k-compressed'))).toMatchObject({
      kind: 'replay',
      result: { rows },
    });
  });

  it('is replayed whole from the local cache of the engine that completed it', async () => {
    const { largeResults, engine } = world();
    const { engine: owner, telemetry } = engine({ cache: true });
    await owner.complete(leaseOf(await owner.begin(request('k-cached'))), big, { fallback });
    const replay = await owner.begin(request('k-cached'));
    expect(replay).toMatchObject({ kind: 'replay', result: big, fromCache: true });
    expect(replay.kind === 'replay' && replay.dropped).toBeUndefined();
    expect(largeResults.reads).toHaveLength(1);
    expect(telemetry.names()).toEqual([Signal.FirstExecution, Signal.Replay]);
  });

  it('keeps no object for a job that failed permanently: its FAILED record is counted as too large', async () => {
    const { store, largeResults, engine } = world();
    const { engine: owner, telemetry } = engine();
    await owner.complete(leaseOf(await owner.begin(request('k-failed'))), big, { status: 'FAILED' });
    expect(largeResults.puts).toEqual([]);
    expect(store.records()[0]).toMatchObject({ status: RecordStatus.Failed, resultDropped: 'too_large' });
    expect(store.records()[0]).not.toHaveProperty('resultRef');
    expect(telemetry.names()).toContain(Signal.ResultTooLarge);
  });
});

describe('an object write that does not succeed', () => {
  const bytes = Buffer.byteLength(JSON.stringify(big));

  async function completeWith(putFault: PutFault | undefined, leaseLeftMs?: number) {
    const results = new MemoryResultStore();
    results.putFault = putFault;
    const w = world({ largeResults: results });
    const { engine: owner, telemetry } = w.engine();
    const lease = leaseOf(await owner.begin(request('k-put')));
    if (leaseLeftMs !== undefined) w.clock.now = lease.leaseUntil - leaseLeftMs;
    const completed = await owner.complete(lease, big, { fallback });
    const replayer = w.engine();
    const replay = await replayer.engine.begin(request('k-put'));
    return { ...w, results, telemetry, completed, replay, replayTelemetry: replayer.telemetry };
  }

  it('fails: the record completes as the fallback with no pointer, counted as a store error and as too large', async () => {
    const { store, telemetry, completed, replay, replayTelemetry } = await completeWith('fails');
    expect(completed).toBe(true);
    expect(store.records()[0]).toMatchObject({ status: RecordStatus.Completed, resultDropped: 'too_large' });
    expect(store.records()[0]).not.toHaveProperty('resultRef');
    expect(storeErrors(telemetry)).toEqual([{ operation: 'putLargeResult', error: 'SlowDown' }]);
    expect(telemetry.signals.find((entry) => entry.signal === Signal.ResultTooLarge)?.facts.detail).toEqual({
      reason: 'too_large',
      bytes,
    });
    // The operation never runs again: the retry is the omitted-body replay.
    expect(replay).toMatchObject({ kind: 'replay', result: fallback, dropped: 'too_large' });
    expect(replayTelemetry.signals.map(({ signal, facts }) => [signal, facts.detail?.resultDropped])).toEqual(
      [[Signal.Replay, 'too_large']],
    );
  });

  it('is not started when the lease ends within a second, and says so', async () => {
    const { results, telemetry, completed, replay } = await completeWith(undefined, 1000);
    expect(completed).toBe(true);
    expect(results.puts).toEqual([]);
    expect(storeErrors(telemetry)).toEqual([{ operation: 'putLargeResult', bytes, error: 'LeaseEnding' }]);
    expect(replay).toMatchObject({ kind: 'replay', result: fallback, dropped: 'too_large' });
  });

  it('is started with a millisecond to spare, and aborted at its deadline', async () => {
    const { results, store, telemetry, completed, replay } = await completeWith('hangs', 1001);
    expect(completed).toBe(true);
    expect(results.puts.map((put) => put.signal?.aborted)).toEqual([true]);
    expect(storeErrors(telemetry)).toEqual([{ operation: 'putLargeResult', error: 'TimeoutError' }]);
    expect(store.records()[0]).not.toHaveProperty('resultRef');
    expect(replay).toMatchObject({ kind: 'replay', result: fallback, dropped: 'too_large' });
  });

  it('is not waited for past its deadline when the store ignores the abort', async () => {
    const { results, telemetry, completed, replay } = await completeWith('hangs-deaf', 1002);
    expect(completed).toBe(true);
    expect(results.puts).toHaveLength(1);
    expect(storeErrors(telemetry)).toEqual([{ operation: 'putLargeResult', error: 'TimeoutError' }]);
    expect(replay).toMatchObject({ kind: 'replay', result: fallback, dropped: 'too_large' });
  });
});

describe('a replay whose object cannot be used', () => {
  async function completed() {
    const w = world();
    const results = w.largeResults;
    const { engine: owner } = w.engine();
    await owner.complete(leaseOf(await owner.begin(request('k-object'))), big, { fallback });
    const [key] = [...results.objects.keys()] as [string];
    return { ...w, results, key };
  }

  it.each([
    ['is gone', 'NoSuchObject', (objects: Map<string, Uint8Array>, key: string) => objects.delete(key)],
    [
      'was altered, at the same length',
      'DigestMismatch',
      (objects: Map<string, Uint8Array>, key: string) =>
        objects.set(key, Buffer.from(JSON.stringify({ rows: 'y'.repeat(300) }))),
    ],
    [
      'was replaced by a longer one',
      'DigestMismatch',
      (objects: Map<string, Uint8Array>, key: string) =>
        objects.set(key, Buffer.concat([objects.get(key) ?? Buffer.alloc(0), Buffer.from(' ')])),
    ],
  ])(
    '%s: answers the fallback without the body, counted as a store error %s',
    async (_case, error, damage) => {
      const { results, key, engine } = await completed();
      damage(results.objects, key);
      const { engine: other, telemetry } = engine();
      expect(await other.begin(request('k-object'))).toMatchObject({
        kind: 'replay',
        result: fallback,
        dropped: 'too_large',
      });
      expect(storeErrors(telemetry)).toEqual([{ operation: 'getLargeResult', error }]);
    },
  );

  it('cannot be read: answers the fallback without the body, counted once with the store’s error', async () => {
    const { results, engine } = await completed();
    results.getFault = Object.assign(new Error('denied'), { name: 'AccessDenied' });
    const { engine: other, telemetry } = engine();
    expect(await other.begin(request('k-object'))).toMatchObject({ kind: 'replay', dropped: 'too_large' });
    expect(storeErrors(telemetry)).toEqual([{ operation: 'getLargeResult', error: 'AccessDenied' }]);
  });

  it('has the size and digest its record says but does not decode: answered without the body', async () => {
    const { store, largeResults: results, engine } = world();
    const lease = leaseOf(await engine().engine.begin(request('k-undecodable')));
    // Written by another writer: the record says the bytes are the codec's compressed form, and they are not.
    const bytes = Buffer.from('not brotli at all');
    results.objects.set('results/undecodable', bytes);
    await store.complete(lease.pk, lease.token, {
      status: RecordStatus.Completed,
      result: JSON.stringify(fallback),
      resultDropped: 'too_large',
      resultRef: { key: 'results/undecodable', sha256: sha256(bytes), size: bytes.length, form: 'bytes' },
      completedAt: START,
      expiresAt: lease.expiresAt,
    });
    const { engine: other, telemetry } = engine();
    expect(await other.begin(request('k-undecodable'))).toMatchObject({
      kind: 'replay',
      result: fallback,
      dropped: 'too_large',
    });
    expect(storeErrors(telemetry)).toEqual([{ operation: 'getLargeResult', error: 'DigestMismatch' }]);
  });
});

describe('a record that points at an object, where the object is not needed', () => {
  it('is not read in observe mode, which runs the request anyway', async () => {
    const { largeResults, engine } = world();
    const { engine: owner } = engine();
    await owner.complete(leaseOf(await owner.begin(request('k-observe'))), big, { fallback });
    const { engine: observer, telemetry } = engine({ mode: 'observe' });
    expect(await observer.begin(request('k-observe'))).toMatchObject({ kind: 'replay' });
    expect(largeResults.reads).toEqual([]);
    expect(telemetry.names()).toEqual([Signal.WouldReplay]);
  });

  it('is answered as the fallback by an engine with no large-result store, which reads nothing', async () => {
    const { largeResults, engine } = world();
    const { engine: owner } = engine();
    await owner.complete(leaseOf(await owner.begin(request('k-older'))), big, { fallback });
    expect(await engine({ withLargeResults: false }).engine.begin(request('k-older'))).toMatchObject({
      kind: 'replay',
      result: fallback,
      dropped: 'too_large',
    });
    expect(largeResults.reads).toEqual([]);
  });
});
