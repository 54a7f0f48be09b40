import { randomBytes } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CacheOptions } from '../../src/core/cache.js';
import { RecordCache } from '../../src/core/cache.js';
import type { CodecLimits } from '../../src/core/codec.js';
import { type BeginInput, type Decision, IdempotencyEngine, type Lease } from '../../src/core/engine.js';
import type { CommonOptions } from '../../src/core/options.js';
import { resolveSettings } from '../../src/core/settings.js';
import { RECORD_VERSION, type Store } from '../../src/core/types.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { recordingTelemetry } from './recording-telemetry.js';

const { client, counter } = localClient();
let store: DynamoDBStore;

beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'engine'), client });
});
afterAll(() => client.destroy());
beforeEach(() => counter.reset());

let keys = 0;
/** A key no other test uses, so tests share one table without seeing each other's records. */
const freshKey = () => `key-${process.pid}-${Date.now()}-${++keys}`;

interface Subject {
  engine: IdempotencyEngine;
  telemetry: ReturnType<typeof recordingTelemetry>;
}

function makeEngine(
  options: Partial<Omit<CommonOptions, 'cache'>> & {
    cache?: CacheOptions;
    codecLimits?: CodecLimits;
    onStore?: Store;
  } = {},
): Subject {
  const telemetry = recordingTelemetry();
  const { settings } = resolveSettings({ environment: 'test', mode: 'enforce', jitterMs: 5, ...options }, {});
  const engine = new IdempotencyEngine({
    store: options.onStore ?? store,
    settings,
    telemetry: telemetry.telemetry,
    cache: options.cache === undefined ? undefined : new RecordCache(options.cache),
    clock: options.clock,
    codecLimits: options.codecLimits,
  });
  return { engine, telemetry };
}

function input(overrides: Partial<BeginInput> = {}): BeginInput {
  return { org: 'acme', scope: 'charge', key: freshKey(), fingerprint: 'fp-1', ...overrides };
}

function leaseOf(decision: Decision): Lease {
  if (decision.kind !== 'execute') throw new Error(`Expected an execute decision, got ${decision.kind}.`);
  return decision.lease;
}

/** A clock that only moves when told, so lease ends are reached without sleeping. */
function manualClock(start = Date.now()) {
  let now = start;
  return {
    clock: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('round trips on DynamoDB Local', () => {
  it('takes 2 on a first execution (claim, complete), 1 on a replay and 0 on a warm cache hit', async () => {
    const warm = makeEngine({ cache: {} }).engine;
    const request = input();
    const lease = leaseOf(await warm.begin(request));
    await warm.complete(lease, { ok: true, at: new Date(0) });
    expect(counter.calls).toEqual(['PutItemCommand', 'UpdateItemCommand']);

    counter.reset();
    const cold = await makeEngine().engine.begin(request);
    expect(cold).toMatchObject({
      kind: 'replay',
      result: { ok: true, at: '1970-01-01T00:00:00.000Z' },
      fromCache: false,
    });
    expect(counter.calls).toEqual(['PutItemCommand']);

    counter.reset();
    expect(await warm.begin(request)).toMatchObject({ kind: 'replay', fromCache: true });
    expect(counter.count()).toBe(0);
  });

  it('takes 1 on a mismatch', async () => {
    const { engine } = makeEngine();
    const request = input();
    await engine.complete(leaseOf(await engine.begin(request)), 'done');
    counter.reset();
    expect(await engine.begin({ ...request, fingerprint: 'fp-other' })).toMatchObject({ kind: 'mismatch' });
    expect(counter.calls).toEqual(['PutItemCommand']);
  });

  it('takes 1 on an in-progress answer when there is no wait budget', async () => {
    const { engine } = makeEngine({ waitBudgetMs: 0 });
    const request = input();
    await engine.begin(request);
    counter.reset();
    expect(await engine.begin(request)).toMatchObject({ kind: 'in_progress' });
    expect(counter.calls).toEqual(['PutItemCommand']);
  });

  it('takes 0 on a cached mismatch, and the cache also replays a record first read from the store', async () => {
    const owner = makeEngine().engine;
    const request = input();
    await owner.complete(leaseOf(await owner.begin(request)), 'done');
    const { engine } = makeEngine({ cache: {} });
    expect(await engine.begin(request)).toMatchObject({ kind: 'replay', fromCache: false });
    counter.reset();
    expect(await engine.begin(request)).toMatchObject({ kind: 'replay', fromCache: true, result: 'done' });
    expect(await engine.begin({ ...request, fingerprint: 'fp-other' })).toMatchObject({ kind: 'mismatch' });
    expect(counter.count()).toBe(0);
  });
});

describe('signals', () => {
  /** A memory store whose every call takes a few milliseconds, as a real table does. */
  function slowStore(): Store {
    const memory = new MemoryStore();
    const slow =
      <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
      async (...args: A) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return call(...args);
      };
    return {
      claim: slow(memory.claim.bind(memory)),
      get: slow(memory.get.bind(memory)),
      complete: slow(memory.complete.bind(memory)),
      release: slow(memory.release.bind(memory)),
      renew: slow(memory.renew.bind(memory)),
    };
  }

  it('emits one signal per decision, and no waited for a claim that merely took time', async () => {
    const slow = slowStore();
    const owner = makeEngine({ onStore: slow });
    const request = input();
    await owner.engine.complete(leaseOf(await owner.engine.begin(request)), 'done');
    const running = input();
    await owner.engine.begin(running);
    const duplicate = makeEngine({ onStore: slow, waitBudgetMs: 0 });
    await duplicate.engine.begin(request);
    await duplicate.engine.begin({ ...request, fingerprint: 'other' });
    await duplicate.engine.begin(running);
    expect(owner.telemetry.names()).toEqual(['first_execution', 'first_execution']);
    expect(duplicate.telemetry.names()).toEqual(['replay', 'mismatch', 'in_progress']);
  });
});

describe('lease takeover', () => {
  it('lets a newcomer take over a lease that ended; the late owner cannot complete or release', async () => {
    const time = manualClock();
    const late = makeEngine({ lockTtlSeconds: 1, clock: time.clock });
    const newcomer = makeEngine({ lockTtlSeconds: 1, clock: time.clock });
    const request = input();
    const lateLease = leaseOf(await late.engine.begin(request));

    time.advance(1001);
    const newLease = leaseOf(await newcomer.engine.begin(request));
    expect(newLease.token).not.toBe(lateLease.token);
    expect(newLease.attempt).toBe(1);
    const held = await store.get(newLease.pk);

    expect(await late.engine.complete(lateLease, 'late result')).toBe(false);
    expect(await late.engine.release(lateLease)).toBe(false);
    expect(await store.get(newLease.pk)).toStrictEqual(held);
    expect(held).toMatchObject({ status: 'IN_PROGRESS', leaseToken: newLease.token });
    expect(late.telemetry.signals.filter((entry) => entry.signal === 'lease_lost')).toEqual([
      expect.objectContaining({ facts: expect.objectContaining({ detail: { during: 'complete' } }) }),
      expect.objectContaining({ facts: expect.objectContaining({ detail: { during: 'release' } }) }),
    ]);
    expect(late.telemetry.names()).not.toContain('released');

    expect(await newcomer.engine.complete(newLease, 'new result')).toBe(true);
    expect(await makeEngine({ clock: time.clock }).engine.begin(request)).toMatchObject({
      kind: 'replay',
      result: 'new result',
    });
  });

  it('answers a second complete by the same owner as done, without counting a lost lease', async () => {
    const { engine, telemetry } = makeEngine();
    const lease = leaseOf(await engine.begin(input()));
    expect(await engine.complete(lease, 'result')).toBe(true);
    expect(await engine.complete(lease, 'result')).toBe(true);
    expect(telemetry.names()).not.toContain('lease_lost');
    expect((await store.get(lease.pk))?.status).toBe('COMPLETED');
  });

  it("keeps a renewed lease live past the record's first lifetime: nobody claims a record whose owner runs", async () => {
    const time = manualClock();
    const owner = makeEngine({ lockTtlSeconds: 1, expiresAfterSeconds: 5, clock: time.clock });
    const newcomer = makeEngine({
      lockTtlSeconds: 1,
      expiresAfterSeconds: 5,
      waitBudgetMs: 0,
      clock: time.clock,
    });
    const request = input();
    let lease = leaseOf(await owner.engine.begin(request));
    // The owner runs for 8 s, renewing as its keeper would: three lifetimes of 5 s would have ended meanwhile.
    for (let step = 0; step < 10; step++) {
      time.advance(800);
      lease = (await owner.engine.renew(lease)) ?? lease;
    }
    expect(await newcomer.engine.begin(request)).toMatchObject({ kind: 'in_progress' });
    expect(await owner.engine.complete(lease, 'done')).toBe(true);
    expect(owner.telemetry.names()).not.toContain('lease_lost');
  });

  it('does not let anyone take over a lease that has not ended', async () => {
    const time = manualClock();
    const { engine } = makeEngine({ lockTtlSeconds: 1, waitBudgetMs: 0, clock: time.clock });
    const request = input();
    await engine.begin(request);
    time.advance(1000);
    expect(await engine.begin(request)).toMatchObject({ kind: 'in_progress' });
  });

  it('renews a lease so it outlives the lock TTL, and a lost lease cannot be renewed', async () => {
    const time = manualClock();
    const owner = makeEngine({ lockTtlSeconds: 1, waitBudgetMs: 0, clock: time.clock });
    const request = input();
    const lease = leaseOf(await owner.engine.begin(request));
    time.advance(900);
    const renewed = await owner.engine.renew(lease);
    expect(renewed?.leaseUntil).toBe(time.clock() + 1000);
    time.advance(900);
    expect(await owner.engine.begin(request)).toMatchObject({ kind: 'in_progress' });
    time.advance(200);
    leaseOf(await makeEngine({ lockTtlSeconds: 1, clock: time.clock }).engine.begin(request));
    expect(await owner.engine.renew(lease)).toBeUndefined();
    expect(owner.telemetry.names()).toContain('lease_lost');
  });
});

describe('lease length', () => {
  it('is the lock TTL when no Lambda context is known', async () => {
    const time = manualClock();
    const { engine } = makeEngine({ lockTtlSeconds: 60, clock: time.clock });
    const lease = leaseOf(await engine.begin(input()));
    expect(lease.leaseUntil).toBe(time.clock() + 60_000);
    expect((await store.get(lease.pk))?.leaseUntil).toBe(time.clock() + 60_000);
  });

  it('is the remaining Lambda time when shorter than the lock TTL', async () => {
    const time = manualClock();
    const { engine } = makeEngine({ lockTtlSeconds: 60, clock: time.clock });
    const lease = leaseOf(await engine.begin(input({ remainingTimeMs: 5_000 })));
    expect(lease.leaseUntil).toBe(time.clock() + 5_000);
  });

  it('is the lock TTL when the remaining Lambda time is longer', async () => {
    const time = manualClock();
    const { engine } = makeEngine({ lockTtlSeconds: 60, clock: time.clock });
    const lease = leaseOf(await engine.begin(input({ remainingTimeMs: 900_000 })));
    expect(lease.leaseUntil).toBe(time.clock() + 60_000);
  });

  it('honours a remaining time of 0: the lease ends now and the next millisecond may take over', async () => {
    const time = manualClock();
    const { engine } = makeEngine({ lockTtlSeconds: 60, waitBudgetMs: 0, clock: time.clock });
    const request = input({ remainingTimeMs: 0 });
    const lease = leaseOf(await engine.begin(request));
    expect(lease.leaseUntil).toBe(time.clock());
    expect(await engine.begin({ ...request, remainingTimeMs: undefined })).toMatchObject({
      kind: 'in_progress',
      retryAfterSeconds: 1,
    });
    time.advance(1);
    expect((await engine.begin({ ...request, remainingTimeMs: undefined })).kind).toBe('execute');
  });
});

describe('waiting on a running first request', () => {
  it('waits and replays when the owner completes during the wait', async () => {
    const owner = makeEngine().engine;
    const duplicate = makeEngine({ waitBudgetMs: 5_000 });
    const request = input();
    const lease = leaseOf(await owner.begin(request));
    counter.reset();
    const waiting = duplicate.engine.begin(request);
    // The owner completes once the duplicate is polling, not after a fixed pause a loaded machine can outrun.
    for (const deadline = Date.now() + 60_000; counter.count('GetItemCommand') === 0; ) {
      if (Date.now() > deadline) throw new Error('the duplicate never polled');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await owner.complete(lease, { id: 'order-1' });
    expect(await waiting).toMatchObject({ kind: 'replay', result: { id: 'order-1' } });
    expect(counter.count('GetItemCommand')).toBeGreaterThanOrEqual(1);
    expect(duplicate.telemetry.names()).toEqual(['waited', 'replay']);
  });

  it('answers in_progress once the wait budget is spent, with a Retry-After within the lease left', async () => {
    const owner = makeEngine({ lockTtlSeconds: 30 }).engine;
    const duplicate = makeEngine({ waitBudgetMs: 100 });
    const request = input();
    const lease = leaseOf(await owner.begin(request));
    const startedAt = Date.now();
    const decision = await duplicate.engine.begin(request);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(100);
    expect(decision.kind).toBe('in_progress');
    const leaseLeft = Math.ceil((lease.leaseUntil - Date.now()) / 1000);
    expect(decision.kind === 'in_progress' && decision.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(decision.kind === 'in_progress' && decision.retryAfterSeconds).toBeLessThanOrEqual(leaseLeft + 1);
    expect(duplicate.telemetry.names()).toEqual(['waited', 'in_progress']);
  });

  it("estimates Retry-After from how long the scope's first executions took, not from the lease left", async () => {
    const time = manualClock();
    const owner = makeEngine({ lockTtlSeconds: 30, clock: time.clock }).engine;
    const duplicate = makeEngine({ lockTtlSeconds: 30, waitBudgetMs: 0, clock: time.clock }).engine;
    // Two first executions of 3 s each, seen by the duplicate's engine through their replays.
    for (let run = 0; run < 2; run++) {
      const request = input();
      const lease = leaseOf(await owner.begin(request));
      time.advance(3000);
      await owner.complete(lease, 'done');
      expect(await duplicate.begin(request)).toMatchObject({ kind: 'replay' });
    }
    const running = input();
    leaseOf(await owner.begin(running));
    time.advance(1000);
    // 3 s usual, 1 s gone: 2 s, against 29 s left on the lease.
    expect(await duplicate.begin(running)).toMatchObject({ kind: 'in_progress', retryAfterSeconds: 2 });
    time.advance(10_000);
    // Overdue (11 s for a 3 s operation): half its time so far, still within the lease.
    expect(await duplicate.begin(running)).toMatchObject({ kind: 'in_progress', retryAfterSeconds: 6 });
    time.advance(18_500);
    // Half a second of lease left: never past the lease that bounds it, never below 1 s.
    expect(await duplicate.begin(running)).toMatchObject({ kind: 'in_progress', retryAfterSeconds: 1 });
  });

  it('answers at least 1 second when the lease ends within the second', async () => {
    const time = manualClock();
    const { engine } = makeEngine({ waitBudgetMs: 0, clock: time.clock });
    const request = input();
    await engine.begin({ ...request, remainingTimeMs: 200 });
    time.advance(199);
    expect(await engine.begin(request)).toMatchObject({ kind: 'in_progress', retryAfterSeconds: 1 });
  });

  it('claims when the lease expires during the wait', async () => {
    const owner = makeEngine().engine;
    const duplicate = makeEngine({ waitBudgetMs: 5_000 });
    const request = input();
    leaseOf(await owner.begin({ ...request, remainingTimeMs: 150 }));
    const decision = await duplicate.engine.begin(request);
    expect(decision.kind).toBe('execute');
    expect(leaseOf(decision).attempt).toBe(2);
    expect(duplicate.telemetry.names()).toEqual(['first_execution']);
  });

  it('claims when the owner releases during the wait', async () => {
    const owner = makeEngine().engine;
    const duplicate = makeEngine({ waitBudgetMs: 5_000 });
    const request = input();
    const lease = leaseOf(await owner.begin(request));
    const waiting = duplicate.engine.begin(request);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await owner.release(lease);
    expect((await waiting).kind).toBe('execute');
  });

  it('with reclaimFailed, claims a record that turned FAILED during the wait', async () => {
    const memory = new MemoryStore();
    const owner = makeEngine({ onStore: memory }).engine;
    const replayer = makeEngine({ onStore: memory, waitBudgetMs: 5_000 }).engine;
    const request = input();
    const lease = leaseOf(await owner.begin(request));
    const waiting = replayer.begin({ ...request, reclaimFailed: true });
    await new Promise((resolve) => setTimeout(resolve, 40));
    await owner.complete(lease, undefined, { status: 'FAILED' });
    const decision = await waiting;
    expect(decision.kind).toBe('execute');
    expect(leaseOf(decision).attempt).toBe(2);
  });

  it('never waits past the remaining Lambda time', async () => {
    const owner = makeEngine().engine;
    const duplicate = makeEngine({ waitBudgetMs: 5_000 });
    const request = input();
    await owner.begin(request);
    counter.reset();
    expect(await duplicate.engine.begin({ ...request, remainingTimeMs: 400 })).toMatchObject({
      kind: 'in_progress',
    });
    expect(counter.calls).toEqual(['PutItemCommand']);
  });
});

describe('results', () => {
  const rawItem = async (pk: string) =>
    (await client.send(new GetItemCommand({ TableName: store.tableName, Key: { pk: { S: pk } } }))).Item;

  it('stores a large result compressed, as binary, and replays it exactly', async () => {
    const { engine } = makeEngine();
    const request = input();
    const value = {
      rows: Array.from({ length: 3_000 }, (_, index) => ({ index, name: `row ${index}`, note: 'Zoë ✓' })),
    };
    await engine.complete(leaseOf(await engine.begin(request)), value);
    const replay = await makeEngine().engine.begin(request);
    expect(replay).toMatchObject({ kind: 'replay' });
    expect(replay.kind === 'replay' && replay.result).toStrictEqual(value);
    const stored = await store.get(replay.kind === 'replay' ? replay.record.pk : '');
    expect(stored?.result).toBeInstanceOf(Uint8Array);
    expect((stored?.result as Uint8Array | undefined)?.byteLength).toBeLessThan(
      JSON.stringify(value).length / 5,
    );
    expect((await rawItem(stored?.pk ?? ''))?.result?.B).toBeDefined();
  });

  it('completes a result over the limit without the body, says too_large and never stays IN_PROGRESS', async () => {
    const { engine, telemetry } = makeEngine();
    const request = input();
    // Random bytes do not compress: 600 KB of base64 stays above the 350 KB limit after brotli.
    const value = { blob: randomBytes(450_000).toString('base64') };
    const lease = leaseOf(await engine.begin(request));
    expect(await engine.complete(lease, value)).toBe(true);
    const stored = await store.get(lease.pk);
    expect(stored).toMatchObject({ status: 'COMPLETED', resultDropped: 'too_large' });
    expect(stored).not.toHaveProperty('result');
    expect(
      telemetry.signals.find((entry) => entry.signal === 'result_too_large')?.facts.detail,
    ).toMatchObject({
      reason: 'too_large',
    });
    const replayer = makeEngine();
    const replay = await replayer.engine.begin(request);
    expect(replay).toMatchObject({
      kind: 'replay',
      result: undefined,
      record: { resultDropped: 'too_large' },
    });
    expect(replayer.telemetry.signals).toEqual([
      expect.objectContaining({
        signal: 'replay',
        facts: expect.objectContaining({ detail: expect.objectContaining({ resultDropped: 'too_large' }) }),
      }),
    ]);
  });

  for (const [name, make] of [
    ['a BigInt', () => ({ amount: 10n })],
    [
      'a cycle',
      () => {
        const node: Record<string, unknown> = { id: 1 };
        node.self = node;
        return node;
      },
    ],
  ] as const) {
    it(`completes a result holding ${name} without the body, says unserializable`, async () => {
      const { engine, telemetry } = makeEngine();
      const lease = leaseOf(await engine.begin(input()));
      expect(await engine.complete(lease, make())).toBe(true);
      expect(await store.get(lease.pk)).toMatchObject({
        status: 'COMPLETED',
        resultDropped: 'unserializable',
      });
      expect(telemetry.names()).toContain('result_too_large');
    });
  }

  it('replays undefined for an operation that returned undefined', async () => {
    const { engine } = makeEngine();
    const request = input();
    await engine.complete(leaseOf(await engine.begin(request)), undefined);
    const replay = await engine.begin(request);
    expect(replay).toMatchObject({ kind: 'replay', result: undefined });
    expect(replay.kind === 'replay' && replay.record).not.toHaveProperty('resultDropped');
  });
});

describe('the in-process cache', () => {
  const cached = (pk: string, expiresAt: number, result?: string) => ({
    pk,
    org: 'acme',
    scope: 'charge',
    status: 'COMPLETED' as const,
    expiresAt,
    fingerprint: 'f',
    createdAt: 0,
    attempt: 1,
    v: RECORD_VERSION,
    ...(result === undefined ? {} : { result }),
  });
  const future = Math.floor(Date.now() / 1000) + 3600;

  it('holds at most maxEntries records and evicts the least recently used', () => {
    const cache = new RecordCache({ maxEntries: 2 });
    cache.set(cached('a', future));
    cache.set(cached('b', future));
    expect(cache.get('a', Date.now())).toBeDefined();
    cache.set(cached('c', future));
    expect(cache.get('b', Date.now())).toBeUndefined();
    expect(cache.get('a', Date.now())).toBeDefined();
    expect(cache.get('c', Date.now())).toBeDefined();
    expect(cache.size.entries).toBe(2);
  });

  it('holds at most maxBytes of results and evicts the least recently used', () => {
    // 256 bytes of overhead per record plus 2 bytes per character of text.
    const cache = new RecordCache({ maxEntries: 100, maxBytes: 3 * (256 + 200) });
    for (const pk of ['a', 'b', 'c']) cache.set(cached(pk, future, 'x'.repeat(100)));
    expect(cache.size).toEqual({ entries: 3, bytes: 3 * 456 });
    cache.get('a', Date.now());
    cache.set(cached('d', future, 'x'.repeat(100)));
    expect(cache.get('b', Date.now())).toBeUndefined();
    expect(cache.size.bytes).toBeLessThanOrEqual(3 * 456);
    expect(cache.get('a', Date.now())).toBeDefined();
  });

  it('does not hold a record larger than maxBytes at all', () => {
    const cache = new RecordCache({ maxBytes: 300 });
    cache.set(cached('big', future, 'x'.repeat(100)));
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('does not serve an expired record and forgets it', () => {
    const cache = new RecordCache();
    cache.set(cached('old', 1_000));
    expect(cache.get('old', 1_001_000)).toBeUndefined();
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('lets the engine go to the store once a cached record expired', async () => {
    const time = manualClock();
    const { engine } = makeEngine({ cache: {}, clock: time.clock, expiresAfterSeconds: 61 });
    const request = input();
    await engine.complete(leaseOf(await engine.begin(request)), 'first');
    time.advance(62_000);
    counter.reset();
    expect((await engine.begin(request)).kind).toBe('execute');
    expect(counter.calls).toEqual(['PutItemCommand']);
  });
});

describe('tenancy', () => {
  it('keeps the same key from two orgs in two records whose pk starts with each org', async () => {
    const { engine } = makeEngine();
    const key = freshKey();
    const acme = leaseOf(await engine.begin(input({ org: 'acme', key })));
    const globex = leaseOf(await engine.begin(input({ org: 'globex', key })));
    expect(acme.pk.startsWith('acme#charge#')).toBe(true);
    expect(globex.pk.startsWith('globex#charge#')).toBe(true);
    expect(acme.pk.split('#')[2]).toBe(globex.pk.split('#')[2]);
    expect(await store.get(acme.pk)).toMatchObject({ org: 'acme', status: 'IN_PROGRESS' });
    expect(await store.get(globex.pk)).toMatchObject({ org: 'globex', status: 'IN_PROGRESS' });
  });

  it('never puts the raw key in the record or in a signal', async () => {
    const { engine, telemetry } = makeEngine();
    const key = `secret-${freshKey()}`;
    const lease = leaseOf(await engine.begin(input({ key })));
    await engine.complete(lease, 'ok');
    expect(JSON.stringify(await store.get(lease.pk))).not.toContain(key);
    expect(JSON.stringify(telemetry.signals)).not.toContain(key);
  });
});

describe('observe mode', () => {
  it('never waits on a live lease and counts would_reject', async () => {
    const owner = makeEngine().engine;
    const observer = makeEngine({ mode: 'observe', waitBudgetMs: 5_000 });
    const request = input();
    await owner.begin(request);
    counter.reset();
    expect(await observer.engine.begin(request)).toMatchObject({ kind: 'in_progress' });
    expect(counter.calls).toEqual(['PutItemCommand']);
    expect(observer.telemetry.names()).toEqual(['would_reject']);
  });

  it('counts would_replay for a completed duplicate and would_reject for a mismatch', async () => {
    const observer = makeEngine({ mode: 'observe' });
    const request = input();
    await observer.engine.complete(leaseOf(await observer.engine.begin(request)), 'done');
    observer.telemetry.reset();
    expect((await observer.engine.begin(request)).kind).toBe('replay');
    expect((await observer.engine.begin({ ...request, fingerprint: 'other' })).kind).toBe('mismatch');
    expect(observer.telemetry.names()).toEqual(['would_replay', 'would_reject']);
  });
});
