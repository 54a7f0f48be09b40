import { describe, expect, it } from 'vitest';
import { type Decision, IdempotencyEngine, type Lease } from '../../src/core/engine.js';
import { IdempotencyStoreError } from '../../src/core/errors.js';
import { resolveSettings } from '../../src/core/settings.js';
import { Signal } from '../../src/core/telemetry.js';
import { RecordStatus } from '../../src/core/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

// Faults a real store cannot be made to produce on demand: a write that lands but whose answer is lost (a
// timeout after the server applied it), or a write that fails outright. Injected around a MemoryStore.
type Fault = 'applied-then-timeout' | 'timeout';
type Operation = 'claim' | 'complete' | 'release' | 'getMany';

class FaultyStore extends MemoryStore {
  readonly faults: Partial<Record<Operation, Fault[]>> = {};
  readonly calls: string[] = [];

  override async claim(...args: Parameters<MemoryStore['claim']>) {
    return this.#faulty('claim', () => super.claim(...args));
  }
  override async complete(...args: Parameters<MemoryStore['complete']>) {
    return this.#faulty('complete', () => super.complete(...args));
  }
  override async release(...args: Parameters<MemoryStore['release']>) {
    return this.#faulty('release', () => super.release(...args));
  }
  override async getMany(...args: Parameters<MemoryStore['getMany']>) {
    return this.#faulty('getMany', () => super.getMany(...args));
  }
  override async get(...args: Parameters<MemoryStore['get']>) {
    this.calls.push('get');
    return super.get(...args);
  }

  async #faulty<T>(operation: Operation, write: () => Promise<T>): Promise<T> {
    this.calls.push(operation);
    const fault = this.faults[operation]?.shift();
    if (fault === 'timeout') throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    const result = await write();
    if (fault === 'applied-then-timeout')
      throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    return result;
  }
}

function rig(store = new FaultyStore(), clock = { now: 1_700_000_000_000 }) {
  const telemetry = recordingTelemetry();
  const sleeps: number[] = [];
  const { settings } = resolveSettings(
    { environment: 'test', mode: 'enforce', jitterMs: 10, waitBudgetMs: 0, lockTtlSeconds: 60 },
    {},
  );
  const engine = new IdempotencyEngine({
    store,
    settings,
    telemetry: telemetry.telemetry,
    clock: () => clock.now,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { engine, store, telemetry, sleeps, clock };
}

const request = (key: string) => ({ org: 'acme', scope: 'charge', key, fingerprint: 'fp-1' });

function leaseOf(decision: Decision): Lease {
  if (decision.kind !== 'execute') throw new Error(`Expected an execute decision, got ${decision.kind}.`);
  return decision.lease;
}

describe('a complete whose write was applied behind a timeout', () => {
  it('is done: the retry finds its own completed record, and no lease is counted lost', async () => {
    const { engine, store, telemetry } = rig();
    const lease = leaseOf(await engine.begin(request('k-complete-applied')));
    store.faults.complete = ['applied-then-timeout'];

    expect(await engine.complete(lease, { charged: 5 })).toBe(true);

    expect(store.records()[0]?.status).toBe(RecordStatus.Completed);
    expect(telemetry.names()).toContain(Signal.StoreError);
    expect(telemetry.names()).not.toContain(Signal.LeaseLost);
  });

  it('is done for a FAILED outcome too', async () => {
    const { engine, store, telemetry } = rig();
    const lease = leaseOf(await engine.begin(request('k-fail-applied')));
    store.faults.complete = ['applied-then-timeout'];

    expect(await engine.complete(lease, undefined, { status: 'FAILED' })).toBe(true);

    expect(store.records()[0]?.status).toBe(RecordStatus.Failed);
    expect(telemetry.names()).not.toContain(Signal.LeaseLost);
  });

  it('is lost when the record the retry finds was taken over by another invocation', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { engine, store, telemetry } = rig(new FaultyStore(), clock);
    const lease = leaseOf(await engine.begin({ ...request('k-taken'), remainingTimeMs: 100 }));
    // The first attempt fails outright; before the retry, the lease ends and a newcomer claims.
    store.faults.complete = ['timeout'];
    clock.now += 1000;
    const newcomer = rig(store, clock);
    leaseOf(await newcomer.engine.begin(request('k-taken')));

    expect(await engine.complete(lease, { charged: 5 })).toBe(false);

    expect(telemetry.names()).toContain(Signal.LeaseLost);
    expect(store.records()[0]?.status).toBe(RecordStatus.InProgress);
  });

  it('is not done when the retry is refused while the record still shows this lease running', async () => {
    const { engine, store } = rig();
    const lease = leaseOf(await engine.begin(request('k-refused')));
    // A store that failed once, then refused the condition without having written anything.
    store.faults.complete = ['timeout'];
    const original = store.complete.bind(store);
    let attempts = 0;
    store.complete = async (...args) => (++attempts === 1 ? original(...args) : false);

    expect(await engine.complete(lease, { charged: 5 })).toBe(false);
  });
});

describe('a second complete by the same owner', () => {
  it('is done: it finds its own completed record, and no lease is counted lost', async () => {
    const { engine, store, telemetry } = rig();
    const lease = leaseOf(await engine.begin(request('k-complete-twice')));
    expect(await engine.complete(lease, { charged: 5 })).toBe(true);

    expect(await engine.complete(lease, { charged: 5 })).toBe(true);

    expect(store.records()).toMatchObject([{ status: RecordStatus.Completed, result: '{"charged":5}' }]);
    expect(telemetry.names()).not.toContain(Signal.LeaseLost);
  });
});

describe('a release whose delete was applied behind a timeout', () => {
  it('is done: the retry finds no record, and it is counted released, not lost', async () => {
    const { engine, store, telemetry } = rig();
    const lease = leaseOf(await engine.begin(request('k-release-applied')));
    store.faults.release = ['applied-then-timeout'];

    expect(await engine.release(lease)).toBe(true);

    expect(store.records()).toEqual([]);
    expect(telemetry.names()).toContain(Signal.Released);
    expect(telemetry.names()).not.toContain(Signal.LeaseLost);
  });

  it('is lost, and deletes nothing, when the lease was taken over before the first attempt', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { engine, store, telemetry } = rig(new FaultyStore(), clock);
    const lease = leaseOf(await engine.begin({ ...request('k-release-late'), remainingTimeMs: 100 }));
    clock.now += 1000;
    leaseOf(await rig(store, clock).engine.begin(request('k-release-late')));

    expect(await engine.release(lease)).toBe(false);

    expect(store.records()).toHaveLength(1);
    expect(telemetry.names()).toEqual([Signal.FirstExecution, Signal.LeaseLost]);
  });

  it('is lost when the retry finds the record still under its lease, completed: a late failure deletes nothing', async () => {
    const { engine, store, telemetry } = rig();
    const lease = leaseOf(await engine.begin(request('k-release-after-complete')));
    expect(await engine.complete(lease, { charged: 5 })).toBe(true);
    store.faults.release = ['timeout'];

    expect(await engine.release(lease)).toBe(false);

    expect(store.records()).toMatchObject([{ status: RecordStatus.Completed, leaseToken: lease.token }]);
    expect(telemetry.names()).toEqual([Signal.FirstExecution, Signal.StoreError, Signal.LeaseLost]);
  });
});

describe('a settle write the store keeps failing', () => {
  it('is tried four times, backing off 25, 50 and 100 ms plus jitter, then throws the store error', async () => {
    const { engine, store, sleeps } = rig();
    const lease = leaseOf(await engine.begin(request('k-down')));
    store.faults.complete = ['timeout', 'timeout', 'timeout', 'timeout'];

    const error = await engine.complete(lease, { charged: 5 }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect((error as IdempotencyStoreError).operation).toBe('complete');
    expect(store.calls.filter((call) => call === 'complete')).toHaveLength(4);
    expect(sleeps).toEqual([30, 55, 105]);
  });

  it('succeeds on the last retry', async () => {
    const { engine, store } = rig();
    const lease = leaseOf(await engine.begin(request('k-last')));
    store.faults.complete = ['timeout', 'timeout', 'timeout'];

    expect(await engine.complete(lease, { charged: 5 })).toBe(true);
    expect(store.records()[0]?.status).toBe(RecordStatus.Completed);
  });
});

describe('a claim that fails', () => {
  it('withdraws a claim applied behind the timeout, so the retry runs at once instead of waiting', async () => {
    const { engine, store } = rig();
    store.faults.claim = ['applied-then-timeout'];

    await expect(engine.begin(request('k-claim'))).rejects.toBeInstanceOf(IdempotencyStoreError);

    expect(store.records()).toEqual([]);
    expect((await engine.begin(request('k-claim'))).kind).toBe('execute');
  });

  it('throws the claim’s store error even when the withdrawal fails as well', async () => {
    const { engine, store } = rig();
    store.faults.claim = ['timeout'];
    store.faults.release = ['timeout'];

    const error = await engine.begin(request('k-claim-down')).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect((error as IdempotencyStoreError).operation).toBe('claim');
  });

  it('counts a store_error naming the operation and the error’s name, never its message', async () => {
    const { engine, store, telemetry } = rig();
    store.faults.claim = ['timeout'];

    await engine.begin(request('k-claim-signal')).catch(() => undefined);

    const [storeError] = telemetry.signals.filter((entry) => entry.signal === Signal.StoreError);
    expect(storeError?.facts.detail).toEqual({ operation: 'claim', error: 'TimeoutError' });
  });
});

describe('prefetching the records of a batch', () => {
  it('reads every record in one batch read and finds the completed ones', async () => {
    const { engine, store } = rig();
    const lease = leaseOf(await engine.begin(request('k-batch-1')));
    await engine.complete(lease, { ok: 1 });

    const found = await engine.prefetch([request('k-batch-1'), request('k-batch-2')]);

    expect([...found.values()].map((record) => record.status)).toEqual([RecordStatus.Completed]);
    expect(store.calls.filter((call) => call === 'getMany')).toHaveLength(1);
  });

  it('finds nothing, and does not throw, when the batch read fails', async () => {
    const { engine, store } = rig();
    const lease = leaseOf(await engine.begin(request('k-batch-down')));
    await engine.complete(lease, { ok: 1 });
    store.faults.getMany = ['timeout'];

    expect((await engine.prefetch([request('k-batch-down')])).size).toBe(0);
  });

  it('reads nothing for an empty batch', async () => {
    const { engine, store } = rig();
    expect((await engine.prefetch([])).size).toBe(0);
    expect(store.calls).toEqual([]);
  });
});

describe('the lease of a first execution', () => {
  it('ends now, not in the past, when the Lambda reports no time left', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { engine } = rig(new FaultyStore(), clock);
    const lease = leaseOf(await engine.begin({ ...request('k-negative'), remainingTimeMs: -5 }));
    expect(lease.leaseUntil).toBe(clock.now);
  });
});
