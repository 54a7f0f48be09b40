import { describe, expect, it } from 'vitest';
import { RecordCache } from '../../src/core/cache.js';
import { type Decision, IdempotencyEngine, type Lease } from '../../src/core/engine.js';
import { keyDigest } from '../../src/core/keys.js';
import type { CommonOptions } from '../../src/core/options.js';
import { resolveSettings } from '../../src/core/settings.js';
import { Signal } from '../../src/core/telemetry.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

// The engine's timing, pinned: a clock that moves only when the engine sleeps, a jitter source that always
// says 0.5 (5 ms of the 10 ms jitter), and every sleep recorded. No test here waits for real time.
const JITTER_MS = 10;

interface Rig {
  engine: IdempotencyEngine;
  store: MemoryStore;
  telemetry: ReturnType<typeof recordingTelemetry>;
  sleeps: number[];
  clock: { now: number };
}

function rig(
  options: Omit<Partial<CommonOptions>, 'store' | 'clock' | 'cache'> & {
    cache?: boolean;
    store?: MemoryStore;
    clock?: { now: number };
    /** Runs before each sleep ends, with the number of the sleep (0 first). */
    duringSleep?: (index: number) => Promise<void> | void;
  } = {},
): Rig {
  const {
    cache,
    store = new MemoryStore(),
    clock = { now: 1_700_000_000_000 },
    duringSleep,
    ...rest
  } = options;
  const telemetry = recordingTelemetry();
  const sleeps: number[] = [];
  const { settings } = resolveSettings(
    { environment: 'test', mode: 'enforce', jitterMs: JITTER_MS, lockTtlSeconds: 60, ...rest },
    {},
  );
  const engine = new IdempotencyEngine({
    store,
    settings,
    telemetry: telemetry.telemetry,
    cache: cache === true ? new RecordCache({}) : undefined,
    clock: () => clock.now,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.now += ms;
      await duringSleep?.(sleeps.length - 1);
    },
  });
  return { engine, store, telemetry, sleeps, clock };
}

const request = (key: string, overrides: Record<string, unknown> = {}) => ({
  org: 'acme',
  scope: 'charge',
  key,
  fingerprint: 'fp-1',
  ...overrides,
});

function leaseOf(decision: Decision): Lease {
  if (decision.kind !== 'execute') throw new Error(`Expected an execute decision, got ${decision.kind}.`);
  return decision.lease;
}

/** An owner that claimed `key` on `store` at the shared clock, and whose lease lasts `leaseMs`. */
async function runningOwner(store: MemoryStore, clock: { now: number }, key: string, leaseMs = 60_000) {
  const owner = rig({ store, clock, waitBudgetMs: 0 });
  const lease = leaseOf(await owner.engine.begin({ ...request(key), remainingTimeMs: leaseMs }));
  return { owner, lease };
}

describe('a duplicate waiting on a running first request', () => {
  it('polls after 25 ms plus jitter, doubling up to 500 ms, and stops exactly at the wait budget', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    await runningOwner(store, clock, 'k-backoff');
    const waiter = rig({ store, clock, waitBudgetMs: 3000 });

    const decision = await waiter.engine.begin(request('k-backoff'));

    expect(decision.kind).toBe('in_progress');
    // 25, 50, 100, 200, 400, then 500 at most, each plus 5 ms of jitter; the last one ends at the deadline.
    expect(waiter.sleeps).toEqual([30, 55, 105, 205, 405, 505, 505, 505, 505, 180]);
  });

  it('says in the waited signal how long it waited and what it was answered, once', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    await runningOwner(store, clock, 'k-waited');
    const waiter = rig({ store, clock, waitBudgetMs: 1000 });

    await waiter.engine.begin(request('k-waited'));

    const waited = waiter.telemetry.signals.filter((entry) => entry.signal === Signal.Waited);
    expect(waited).toHaveLength(1);
    expect(waited[0]?.facts.detail).toEqual({ waitedMs: 1000, outcome: 'in_progress' });
    expect(waiter.telemetry.names()).toEqual([Signal.Waited, Signal.InProgress]);
  });

  it('wakes once the lease has ended, claims, and counts no wait for the claim it got', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    await runningOwner(store, clock, 'k-lease-end', 100);
    const waiter = rig({ store, clock, waitBudgetMs: 5000 });

    const decision = await waiter.engine.begin(request('k-lease-end'));

    // 30 and 55 ms, then only until 1 ms past the lease's end (100 ms after the claim).
    expect(waiter.sleeps).toEqual([30, 55, 16]);
    expect(leaseOf(decision).attempt).toBe(2);
    expect(waiter.telemetry.names()).toEqual([Signal.FirstExecution]);
  });

  it('replays as soon as a poll finds the owner done, and says how long it waited', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const { owner, lease } = await runningOwner(store, clock, 'k-replay');
    const waiter = rig({
      store,
      clock,
      waitBudgetMs: 5000,
      duringSleep: async (index) => {
        if (index === 1) await owner.engine.complete(lease, { charged: 5 });
      },
    });

    const decision = await waiter.engine.begin(request('k-replay'));

    expect(decision).toMatchObject({ kind: 'replay', result: { charged: 5 } });
    expect(waiter.sleeps).toEqual([30, 55]);
    const waited = waiter.telemetry.signals.find((entry) => entry.signal === Signal.Waited);
    expect(waited?.facts.detail).toEqual({ waitedMs: 85, outcome: 'replay' });
  });

  it('counts no wait when only its own claim was slow and found the owner done', async () => {
    const clock = { now: 1_700_000_000_000 };
    // A claim that takes 300 ms to answer, as on a loaded network.
    class SlowClaims extends MemoryStore {
      override async claim(...args: Parameters<MemoryStore['claim']>) {
        clock.now += 300;
        return super.claim(...args);
      }
    }
    const store = new SlowClaims();
    const { owner, lease } = await runningOwner(store, clock, 'k-slow-claim');
    await owner.engine.complete(lease, { charged: 5 });
    const duplicate = rig({ store, clock, waitBudgetMs: 5000 });

    expect((await duplicate.engine.begin(request('k-slow-claim'))).kind).toBe('replay');

    expect(duplicate.telemetry.names()).toEqual([Signal.Replay]);
  });

  it('claims again when the record that blocked its claim was gone before the store could read it', async () => {
    // A store that answers one claim with a blocking record it could no longer read (deleted in between).
    class VanishingRecord extends MemoryStore {
      vanish = true;
      override async claim(...args: Parameters<MemoryStore['claim']>) {
        if (!this.vanish) return super.claim(...args);
        this.vanish = false;
        return { claimed: false as const, existing: undefined };
      }
    }
    const duplicate = rig({ store: new VanishingRecord(), waitBudgetMs: 0 });

    const decision = await duplicate.engine.begin(request('k-vanished'));

    expect(leaseOf(decision).attempt).toBe(1);
    expect(duplicate.telemetry.names()).toEqual([Signal.FirstExecution]);
  });

  it('keeps 500 ms of the remaining Lambda time for its answer', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    await runningOwner(store, clock, 'k-remaining');
    const waiter = rig({ store, clock, waitBudgetMs: 5000 });

    await waiter.engine.begin({ ...request('k-remaining'), remainingTimeMs: 1200 });

    expect(waiter.sleeps.reduce((sum, ms) => sum + ms, 0)).toBe(700);
  });

  it('does not wait at all when less than 500 ms of the Lambda is left', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    await runningOwner(store, clock, 'k-no-time');
    const waiter = rig({ store, clock, waitBudgetMs: 5000 });

    const decision = await waiter.engine.begin({ ...request('k-no-time'), remainingTimeMs: 300 });

    expect(decision.kind).toBe('in_progress');
    expect(waiter.sleeps).toEqual([]);
  });

  it('lets a per-call wait budget win over the configured one', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    await runningOwner(store, clock, 'k-budget');
    const waiter = rig({ store, clock, waitBudgetMs: 5000 });

    await waiter.engine.begin({ ...request('k-budget'), waitBudgetMs: 0 });

    expect(waiter.sleeps).toEqual([]);
  });
});

describe('the seconds a duplicate of a running record is told to retry after', () => {
  /** Completes `key` on `store` after `runMs`, as an owner in another process would. */
  async function completedAfter(store: MemoryStore, clock: { now: number }, key: string, runMs: number) {
    const { owner, lease } = await runningOwner(store, clock, key);
    clock.now += runMs;
    await owner.engine.complete(lease, { ok: key });
  }

  it('come from the durations of the completed records this instance replayed, not only its own', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    await completedAfter(store, clock, 'k-took-10s', 10_000);
    const reader = rig({ store, clock, waitBudgetMs: 0 });
    expect((await reader.engine.begin(request('k-took-10s'))).kind).toBe('replay');
    await runningOwner(store, clock, 'k-running');
    clock.now += 2000;

    const busy = await reader.engine.begin(request('k-running'));

    // The usual 10 s less the 2 s it has run.
    expect(busy).toMatchObject({ kind: 'in_progress', retryAfterSeconds: 8 });
  });

  it('count a record replayed from the cache once: a hot key does not crowd out the scope’s other durations', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    await completedAfter(store, clock, 'k-slow', 10_000);
    await completedAfter(store, clock, 'k-hot-1', 1000);
    await completedAfter(store, clock, 'k-hot-2', 1000);
    const reader = rig({ store, clock, waitBudgetMs: 0, cache: true });
    for (const key of ['k-slow', 'k-hot-1', 'k-hot-2']) await reader.engine.begin(request(key));
    // Two hot keys answered from the cache, alternately, more often than the 32 durations a scope keeps.
    for (let round = 0; round < 40; round++) {
      expect(await reader.engine.begin(request(round % 2 === 0 ? 'k-hot-1' : 'k-hot-2'))).toMatchObject({
        fromCache: true,
      });
    }
    await runningOwner(store, clock, 'k-running');
    clock.now += 2000;

    expect(await reader.engine.begin(request('k-running'))).toMatchObject({ retryAfterSeconds: 8 });
  });
});

describe('a permanently failed record', () => {
  it('is answered as failed at once, without waiting, even with a wait budget', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const { owner, lease } = await runningOwner(store, clock, 'k-failed');
    await owner.engine.complete(lease, { reason: 'card declined' }, { status: 'FAILED' });
    const duplicate = rig({ store, clock, waitBudgetMs: 5000 });

    const decision = await duplicate.engine.begin(request('k-failed'));

    expect(decision.kind).toBe('failed');
    expect(duplicate.sleeps).toEqual([]);
    expect(duplicate.telemetry.names()).toEqual([Signal.PreviouslyFailed]);
  });

  it('is never answered from the local cache, so a replay with reclaimFailed runs it again', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const cached = rig({ store, clock, cache: true, waitBudgetMs: 0 });
    const lease = leaseOf(await cached.engine.begin(request('k-failed-cache', { owner: 'message-1' })));
    await cached.engine.complete(lease, undefined, { status: 'FAILED' });
    // A duplicate read from the store must not be kept either.
    expect((await cached.engine.begin(request('k-failed-cache', { owner: 'message-2' }))).kind).toBe(
      'failed',
    );

    const replay = await cached.engine.begin(
      request('k-failed-cache', { owner: 'replay-1', reclaimFailed: true }),
    );

    expect(leaseOf(replay).attempt).toBe(2);
  });

  it('is not taken over by a duplicate that saw it running, when its late owner failed it just before the claim', async () => {
    const clock = { now: 1_700_000_000_000 };
    let beforeNextClaim: (() => Promise<unknown>) | undefined;
    class LateFailure extends MemoryStore {
      override async claim(...args: Parameters<MemoryStore['claim']>) {
        const hook = beforeNextClaim;
        beforeNextClaim = undefined;
        await hook?.();
        return super.claim(...args);
      }
    }
    const store = new LateFailure();
    const { owner, lease } = await runningOwner(store, clock, 'k-late-failure', 100);
    // The duplicate waits out the lease; its owner, still alive, fails the job between the last poll and the claim.
    const duplicate = rig({
      store,
      clock,
      waitBudgetMs: 5000,
      duringSleep: () => {
        beforeNextClaim = () => owner.engine.complete(lease, undefined, { status: 'FAILED' });
      },
    });

    const decision = await duplicate.engine.begin(request('k-late-failure'));

    expect(decision.kind).toBe('failed');
    expect(store.records()).toMatchObject([{ status: 'FAILED', leaseToken: lease.token }]);
  });

  it('is run again once by a replay with reclaimFailed, fenced by the failed record it saw', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const { owner, lease } = await runningOwner(store, clock, 'k-reclaim');
    await owner.engine.complete(lease, undefined, { status: 'FAILED' });
    const replayer = rig({ store, clock, waitBudgetMs: 0 });

    const replay = leaseOf(
      await replayer.engine.begin(request('k-reclaim', { owner: 'dlq-replay', reclaimFailed: true })),
    );

    expect(replay.attempt).toBe(2);
    expect(store.records()).toMatchObject([{ status: 'IN_PROGRESS', leaseToken: replay.token, attempt: 2 }]);
  });

  it('is not run again by a replay with reclaimFailed that means another request: a mismatch', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const { owner, lease } = await runningOwner(store, clock, 'k-reclaim-other');
    await owner.engine.complete(lease, undefined, { status: 'FAILED' });
    const replayer = rig({ store, clock, waitBudgetMs: 0 });

    const decision = await replayer.engine.begin(
      request('k-reclaim-other', { owner: 'dlq-replay', reclaimFailed: true, fingerprint: 'fp-2' }),
    );

    expect(decision.kind).toBe('mismatch');
    expect(store.records()).toMatchObject([{ status: 'FAILED', leaseToken: lease.token }]);
  });
});

describe('what every signal about a record carries', () => {
  it('is the key digest, the org and the scope, never the record key that joins them', async () => {
    const { engine, telemetry } = rig({ waitBudgetMs: 0 });
    const lease = leaseOf(await engine.begin(request('k-facts', { correlationId: 'corr-1' })));
    await engine.complete(lease, { ok: true });
    await engine.begin(request('k-facts'));

    expect(telemetry.signals.length).toBeGreaterThanOrEqual(2);
    for (const { facts } of telemetry.signals) {
      expect(facts).toMatchObject({ org: 'acme', scope: 'charge', keyDigest: keyDigest('k-facts') });
      expect(JSON.stringify(facts)).not.toContain('acme#charge');
    }
    expect(telemetry.signals[0]?.facts.correlationId).toBe('corr-1');
  });

  it('says the attempt of an execution, whether a replay came from the cache and the seconds to retry', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const { owner, lease } = await runningOwner(store, clock, 'k-detail');
    const duplicate = rig({ store, clock, waitBudgetMs: 0, cache: true });
    const busy = await duplicate.engine.begin(request('k-detail'));
    await owner.engine.complete(lease, { ok: true });
    await duplicate.engine.begin(request('k-detail'));
    await duplicate.engine.begin(request('k-detail'));

    expect(owner.telemetry.signals[0]?.facts.detail).toMatchObject({ attempt: 1 });
    const [inProgress, fromStore, fromCache] = duplicate.telemetry.signals.map((entry) => entry.facts.detail);
    expect(busy.kind).toBe('in_progress');
    expect(inProgress).toMatchObject({
      retryAfterSeconds: busy.kind === 'in_progress' ? busy.retryAfterSeconds : -1,
    });
    expect(inProgress?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(fromStore).toMatchObject({ fromCache: false });
    expect(fromCache).toMatchObject({ fromCache: true });
  });
});

describe('a record a batch read found (known)', () => {
  it('is decided without a store call when it is completed', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const { owner, lease } = await runningOwner(store, clock, 'k-known');
    await owner.engine.complete(lease, { ok: 1 });
    const [known] = store.records();
    const calls: string[] = [];
    const reader = rig({ store: countingStore(store, calls), clock, waitBudgetMs: 0 });

    const decision = await reader.engine.begin({ ...request('k-known'), known });

    expect(decision).toMatchObject({ kind: 'replay', result: { ok: 1 } });
    expect(calls).toEqual([]);
  });

  it('is claimed as usual when it is not completed, or belongs to another key', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const other = await runningOwner(store, clock, 'k-other');
    await other.owner.engine.complete(other.lease, { ok: 1 });
    const [completedElsewhere] = store.records();
    const calls: string[] = [];
    const reader = rig({ store: countingStore(store, calls), clock, waitBudgetMs: 0 });

    const decision = await reader.engine.begin({ ...request('k-fresh'), known: completedElsewhere });

    expect(decision.kind).toBe('execute');
    expect(calls).toEqual(['claim']);
  });

  it('is counted as read from the store, and kept in the cache for the next duplicate', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    const { owner, lease } = await runningOwner(store, clock, 'k-known-cached');
    await owner.engine.complete(lease, { ok: 1 });
    const [known] = store.records();
    const calls: string[] = [];
    const reader = rig({ store: countingStore(store, calls), clock, waitBudgetMs: 0, cache: true });

    await reader.engine.begin({ ...request('k-known-cached'), known });
    const again = await reader.engine.begin(request('k-known-cached'));

    expect(again).toMatchObject({ kind: 'replay', result: { ok: 1 }, fromCache: true });
    expect(calls).toEqual([]);
    expect(reader.telemetry.signals.map(({ signal, facts }) => [signal, facts.detail?.fromCache])).toEqual([
      [Signal.Replay, false],
      [Signal.Replay, true],
    ]);
  });

  it('is claimed as usual while it runs, and decided from what the claim finds', async () => {
    const store = new MemoryStore();
    const clock = { now: 1_700_000_000_000 };
    await runningOwner(store, clock, 'k-known-running');
    const [known] = store.records();
    const calls: string[] = [];
    const reader = rig({ store: countingStore(store, calls), clock, waitBudgetMs: 0 });

    const decision = await reader.engine.begin({ ...request('k-known-running'), known });

    expect(decision.kind).toBe('in_progress');
    expect(calls).toEqual(['claim']);
  });
});

/** The same store, with the name of every call it is asked for pushed onto `calls`. */
function countingStore(store: MemoryStore, calls: string[]): MemoryStore {
  return new Proxy(store, {
    get(target, name, receiver) {
      const member = Reflect.get(target, name, receiver);
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return (member as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as MemoryStore;
}
