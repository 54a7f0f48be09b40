import { describe, expect, it } from 'vitest';
import { RecordCache } from '../../src/core/cache.js';
import { type Decision, IdempotencyEngine, type Lease } from '../../src/core/engine.js';
import type { CommonOptions } from '../../src/core/options.js';
import { resolveSettings } from '../../src/core/settings.js';
import { Signal } from '../../src/core/telemetry.js';
import { RecordStatus } from '../../src/core/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

const START = 1_700_000_000_250;

/** An engine on a memory store with a clock that moves only when told, and waits that take no time. */
function rig(
  options: Omit<Partial<CommonOptions>, 'store' | 'clock' | 'cache'> & {
    store?: MemoryStore;
    clock?: { now: number };
    cache?: boolean;
    maxResultBytes?: number;
  } = {},
) {
  const { store = new MemoryStore(), clock = { now: START }, cache, maxResultBytes, ...rest } = options;
  const telemetry = recordingTelemetry();
  const calls: string[] = [];
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const member = Reflect.get(target, name, receiver);
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return (member as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const { settings } = resolveSettings(
    {
      environment: 'test',
      mode: 'enforce',
      waitBudgetMs: 0,
      lockTtlSeconds: 60,
      expiresAfterSeconds: 3600,
      ...rest,
    },
    {},
  );
  const engine = new IdempotencyEngine({
    store: counted,
    settings,
    telemetry: telemetry.telemetry,
    cache: cache === true ? new RecordCache({}) : undefined,
    clock: () => clock.now,
    random: () => 0,
    sleep: async (ms) => {
      clock.now += ms;
    },
    codecLimits: maxResultBytes === undefined ? undefined : { compressAboveBytes: 1_000_000, maxResultBytes },
  });
  return { engine, store, telemetry, calls, clock };
}

const request = (key: string) => ({ org: 'acme', scope: 'charge', key, fingerprint: 'fp-1' });

function leaseOf(decision: Decision): Lease {
  if (decision.kind !== 'execute') throw new Error(`Expected an execute decision, got ${decision.kind}.`);
  return decision.lease;
}

describe('a first execution’s record', () => {
  it('has a lease of the lock TTL and lives expiresAfterSeconds from the claim’s second', async () => {
    const { engine, store } = rig();
    const lease = leaseOf(await engine.begin(request('k-lifetimes')));
    expect(lease.leaseUntil).toBe(START + 60_000);
    expect(lease.expiresAt).toBe(Math.floor(START / 1000) + 3600);
    expect(store.records()[0]).toMatchObject({
      status: RecordStatus.InProgress,
      leaseUntil: START + 60_000,
      expiresAt: Math.floor(START / 1000) + 3600,
      attempt: 1,
    });
  });

  it('moves its lifetime with a renewal, never backwards', async () => {
    const clock = { now: START };
    const { engine } = rig({ clock });
    const lease = leaseOf(await engine.begin(request('k-renew')));
    clock.now += 10_000_000;
    const renewed = await engine.renew(lease);
    expect(renewed?.leaseUntil).toBe(clock.now + 60_000);
    expect(renewed?.expiresAt).toBe(Math.floor(clock.now / 1000) + 3600);
    if (renewed === undefined) throw new Error('Expected the renewal to hold.');
    const later = { ...renewed, expiresAt: renewed.expiresAt + 100_000 };
    expect((await engine.renew(later))?.expiresAt).toBe(later.expiresAt);
  });
});

describe('a duplicate while the owner runs', () => {
  it('reads the record once per poll, with no further claim', async () => {
    const store = new MemoryStore();
    const clock = { now: START };
    await rig({ store, clock }).engine.begin(request('k-polls'));
    const waiter = rig({ store, clock, waitBudgetMs: 200 });
    await waiter.engine.begin(request('k-polls'));
    // 25, 50, 100, then the 25 ms left of the budget.
    expect(waiter.calls).toEqual(['claim', 'get', 'get', 'get', 'get']);
  });

  it('claims again, once, when the owner released during the wait', async () => {
    const store = new MemoryStore();
    const clock = { now: START };
    const owner = rig({ store, clock });
    const lease = leaseOf(await owner.engine.begin(request('k-released')));
    const waiter = rig({ store, clock, waitBudgetMs: 5000 });
    const deciding = waiter.engine.begin(request('k-released'));
    await owner.engine.release(lease);
    const decision = await deciding;
    expect(decision.kind).toBe('execute');
    expect(waiter.calls.filter((call) => call === 'claim')).toHaveLength(2);
  });

  it('is never waited on in observe mode, whatever the budget, and counts would_reject', async () => {
    const store = new MemoryStore();
    const clock = { now: START };
    await rig({ store, clock }).engine.begin(request('k-observe'));
    const observer = rig({ store, clock, mode: 'observe', waitBudgetMs: 5000 });
    const decision = await observer.engine.begin(request('k-observe'));
    expect(decision.kind).toBe('in_progress');
    expect(observer.calls).toEqual(['claim']);
    expect(observer.telemetry.names()).toEqual([Signal.WouldReject]);
  });
});

describe('peeking at a record without claiming (the edge)', () => {
  it('finds nothing to answer for no record, a stuck one or an expired one', async () => {
    const clock = { now: START };
    const { engine } = rig({ clock });
    expect(await engine.peek(request('k-none'))).toBeUndefined();
    await engine.begin({ ...request('k-stuck'), remainingTimeMs: 10 });
    clock.now += 20;
    expect(await engine.peek(request('k-stuck'))).toBeUndefined();
    const done = leaseOf(await engine.begin(request('k-expired')));
    await engine.complete(done, { ok: 1 });
    clock.now += 3601_000;
    expect(await engine.peek(request('k-expired'))).toBeUndefined();
  });

  it('answers a live lease as in progress, a completed one as a replay, and says where the replay came from', async () => {
    const clock = { now: START };
    const { engine, calls } = rig({ clock, cache: true });
    await engine.begin(request('k-live'));
    expect(await engine.peek(request('k-live'))).toMatchObject({ kind: 'in_progress' });
    const lease = leaseOf(await engine.begin(request('k-done')));
    await engine.complete(lease, { ok: 2 });
    calls.length = 0;
    expect(await engine.peek(request('k-done'))).toMatchObject({ kind: 'replay', fromCache: true });
    expect(calls).toEqual([]);
    const fresh = rig({ store: undefined, clock });
    expect(await fresh.engine.peek(request('k-done'))).toBeUndefined();
  });

  it('reads the store when the cache has nothing, and says the replay came from it', async () => {
    const store = new MemoryStore();
    const clock = { now: START };
    const writer = rig({ store, clock });
    const lease = leaseOf(await writer.engine.begin(request('k-store')));
    await writer.engine.complete(lease, { ok: 3 });
    const reader = rig({ store, clock, cache: true });
    expect(await reader.engine.peek(request('k-store'))).toMatchObject({
      kind: 'replay',
      fromCache: false,
      result: { ok: 3 },
    });
    expect(reader.calls).toEqual(['get']);
  });
});

describe('a result too large for the record', () => {
  it('is stored as the fallback, marked too_large, and counted with its size', async () => {
    const { engine, store, telemetry } = rig({ maxResultBytes: 100 });
    const lease = leaseOf(await engine.begin(request('k-large')));
    const big = { rows: 'x'.repeat(200) };
    expect(await engine.complete(lease, big, { fallback: { statusCode: 201 } })).toBe(true);
    expect(store.records()[0]).toMatchObject({
      status: RecordStatus.Completed,
      result: '{"statusCode":201}',
      resultDropped: 'too_large',
    });
    const tooLarge = telemetry.signals.find((entry) => entry.signal === Signal.ResultTooLarge);
    expect(tooLarge?.facts.detail).toEqual({ reason: 'too_large', bytes: JSON.stringify(big).length });
  });

  it('is stored without a body when there is no fallback, or the fallback does not fit either', async () => {
    const { engine, store } = rig({ maxResultBytes: 20 });
    const lease = leaseOf(await engine.begin(request('k-large-2')));
    await engine.complete(lease, 'y'.repeat(50), { fallback: { statusCode: 201, note: 'z'.repeat(50) } });
    expect(store.records()[0]?.result).toBeUndefined();
    expect(store.records()[0]?.resultDropped).toBe('too_large');
  });

  it('is stored as the fallback when the door already knows it did not fit (a stream)', async () => {
    const { engine, store } = rig();
    const lease = leaseOf(await engine.begin(request('k-stream')));
    await engine.complete(lease, undefined, { dropped: 'too_large', fallback: { statusCode: 200 } });
    expect(store.records()[0]).toMatchObject({ result: '{"statusCode":200}', resultDropped: 'too_large' });
  });
});
