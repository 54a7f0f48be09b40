import { describe, expect, it } from 'vitest';
import { type Decision, IdempotencyEngine, type Lease } from '../../src/core/engine.js';
import type { Mode } from '../../src/core/options.js';
import { resolveSettings } from '../../src/core/settings.js';
import { Signal } from '../../src/core/telemetry.js';
import { RecordStatus } from '../../src/core/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

// What an operator reads in the logs and metrics (docs/protocol.md section 7): each decision's signal, and the facts
// a store_error and a lease_lost carry, so an alarm says which round trip failed and when a lease was lost.
type Operation = 'claim' | 'get' | 'getMany' | 'complete' | 'release' | 'renew';

/** A memory store that throws, once, what a test puts in `failNext` for an operation. */
class FailingStore extends MemoryStore {
  readonly failNext: Partial<Record<Operation, unknown>> = {};

  override async claim(...args: Parameters<MemoryStore['claim']>) {
    this.#fail('claim');
    return super.claim(...args);
  }
  override async get(...args: Parameters<MemoryStore['get']>) {
    this.#fail('get');
    return super.get(...args);
  }
  override async getMany(...args: Parameters<MemoryStore['getMany']>) {
    this.#fail('getMany');
    return super.getMany(...args);
  }
  override async complete(...args: Parameters<MemoryStore['complete']>) {
    this.#fail('complete');
    return super.complete(...args);
  }
  override async release(...args: Parameters<MemoryStore['release']>) {
    this.#fail('release');
    return super.release(...args);
  }
  override async renew(...args: Parameters<MemoryStore['renew']>) {
    this.#fail('renew');
    return super.renew(...args);
  }

  #fail(operation: Operation): void {
    if (!(operation in this.failNext)) return;
    const error = this.failNext[operation];
    delete this.failNext[operation];
    throw error;
  }
}

const START = 1_700_000_000_000;
const timeout = () => Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });

function rig(options: { mode?: Mode; waitBudgetMs?: number } = {}) {
  const store = new FailingStore();
  const clock = { now: START };
  function engine(mode: Mode = options.mode ?? 'enforce') {
    const telemetry = recordingTelemetry();
    const { settings } = resolveSettings(
      { environment: 'test', mode, waitBudgetMs: options.waitBudgetMs ?? 0, lockTtlSeconds: 60 },
      {},
    );
    const built = new IdempotencyEngine({
      store,
      settings,
      telemetry: telemetry.telemetry,
      clock: () => clock.now,
      random: () => 0,
      sleep: async (ms) => {
        clock.now += ms;
      },
    });
    return { engine: built, telemetry };
  }
  return { store, clock, engine };
}

const request = (key: string, fingerprint = 'fp-1') => ({ org: 'acme', scope: 'charge', key, fingerprint });

function leaseOf(decision: Decision): Lease {
  if (decision.kind !== 'execute') throw new Error(`Expected an execute decision, got ${decision.kind}.`);
  return decision.lease;
}

function detailsOf(telemetry: ReturnType<typeof recordingTelemetry>, signal: Signal) {
  return telemetry.signals.filter((entry) => entry.signal === signal).map((entry) => entry.facts.detail);
}

describe('a store_error', () => {
  it('names the read that failed while waiting on a running owner', async () => {
    const { store, engine } = rig({ waitBudgetMs: 1000 });
    await engine().engine.begin(request('k-poll'));
    store.failNext.get = timeout();
    const { engine: waiter, telemetry } = engine();
    await expect(waiter.begin(request('k-poll'))).rejects.toMatchObject({ operation: 'get' });
    expect(detailsOf(telemetry, Signal.StoreError)).toEqual([{ operation: 'get', error: 'TimeoutError' }]);
  });

  it('names the read of a peek', async () => {
    const { store, engine } = rig();
    store.failNext.get = timeout();
    const { engine: edge, telemetry } = engine();
    await expect(edge.peek(request('k-peek'))).rejects.toMatchObject({ operation: 'get' });
    expect(detailsOf(telemetry, Signal.StoreError)).toEqual([{ operation: 'get', error: 'TimeoutError' }]);
  });

  it('names the batch read, and the batch is then claimed one by one', async () => {
    const { store, engine } = rig();
    store.failNext.getMany = timeout();
    const { engine: runner, telemetry } = engine();
    expect(await runner.prefetch([request('k-batch-1'), request('k-batch-2')])).toEqual(new Map());
    expect(detailsOf(telemetry, Signal.StoreError)).toEqual([
      { operation: 'getMany', error: 'TimeoutError' },
    ]);
  });

  it('names the consistent read that settles a complete retried after a timeout', async () => {
    const { store, engine } = rig();
    const { engine: owner, telemetry } = engine();
    const lease = leaseOf(await owner.begin(request('k-settle')));
    // The first complete lands but its answer is lost; the retry is refused, and the read that settles it fails once.
    const complete = store.complete.bind(store);
    let attempts = 0;
    store.complete = async (...args) => {
      const written = await complete(...args);
      if (++attempts === 1) {
        store.failNext.get = timeout();
        throw timeout();
      }
      return written;
    };
    expect(await owner.complete(lease, { charged: 5 })).toBe(true);
    expect(detailsOf(telemetry, Signal.StoreError)).toEqual([
      { operation: 'complete', error: 'TimeoutError' },
      { operation: 'get', error: 'TimeoutError' },
    ]);
  });

  it('names a release that failed and was retried', async () => {
    const { store, engine } = rig();
    const { engine: owner, telemetry } = engine();
    const lease = leaseOf(await owner.begin(request('k-release')));
    store.failNext.release = timeout();
    expect(await owner.release(lease)).toBe(true);
    expect(detailsOf(telemetry, Signal.StoreError)).toEqual([
      { operation: 'release', error: 'TimeoutError' },
    ]);
  });

  it('names a renewal that failed, of a running lease or of one taken up again', async () => {
    const { store, engine } = rig();
    const { engine: owner, telemetry } = engine();
    const input = { ...request('k-renew'), owner: 'execution-1', resumeOwnLease: true };
    const lease = leaseOf(await owner.begin(input));
    store.failNext.renew = timeout();
    await expect(owner.renew(lease)).rejects.toMatchObject({ operation: 'renew' });
    store.failNext.renew = timeout();
    await expect(owner.begin(input)).rejects.toMatchObject({ operation: 'renew' });
    expect(detailsOf(telemetry, Signal.StoreError)).toEqual([
      { operation: 'renew', error: 'TimeoutError' },
      { operation: 'renew', error: 'TimeoutError' },
    ]);
  });

  it('says unknown for a failure that is not an Error, never what was thrown', async () => {
    const { store, engine } = rig();
    store.failNext.claim = 'ECONNRESET while talking to 10.0.0.1';
    const { engine: owner, telemetry } = engine();
    await expect(owner.begin(request('k-thrown'))).rejects.toMatchObject({ operation: 'claim' });
    expect(detailsOf(telemetry, Signal.StoreError)).toEqual([{ operation: 'claim', error: 'unknown' }]);
  });
});

describe('a lease_lost', () => {
  async function takenOver() {
    const { clock, engine } = rig();
    const { engine: owner, telemetry } = engine();
    const lease = leaseOf(await owner.begin({ ...request('k-lost'), remainingTimeMs: 100 }));
    clock.now += 1000;
    leaseOf(await engine().engine.begin(request('k-lost')));
    return { owner, telemetry, lease };
  }

  it.each([
    ['complete', (owner: IdempotencyEngine, lease: Lease) => owner.complete(lease, { charged: 5 })],
    ['release', (owner: IdempotencyEngine, lease: Lease) => owner.release(lease)],
    ['renew', (owner: IdempotencyEngine, lease: Lease) => owner.renew(lease)],
  ])('says it was found during %s', async (during, write) => {
    const { owner, telemetry, lease } = await takenOver();
    expect(await write(owner, lease)).toBeFalsy();
    expect(detailsOf(telemetry, Signal.LeaseLost)).toEqual([{ during }]);
  });
});

describe('the signal of each decision', () => {
  async function decisions(mode: Mode) {
    const { store, engine } = rig();
    const { engine: owner } = engine('enforce');
    await owner.complete(leaseOf(await owner.begin(request('k-done'))), { charged: 5 });
    const failing = leaseOf(await owner.begin(request('k-failed')));
    await owner.complete(failing, undefined, { status: RecordStatus.Failed });
    await owner.begin(request('k-running'));
    const { engine: door, telemetry } = engine(mode);
    const kinds = [
      await door.begin(request('k-new')),
      await door.begin(request('k-done')),
      await door.begin(request('k-done', 'fp-2')),
      await door.begin(request('k-running')),
      await door.begin(request('k-failed')),
    ].map((decision) => decision.kind);
    expect(store.records()).toHaveLength(4);
    return { kinds, names: telemetry.names() };
  }

  it('is named for what the door does with it in enforce mode', async () => {
    expect(await decisions('enforce')).toEqual({
      kinds: ['execute', 'replay', 'mismatch', 'in_progress', 'failed'],
      names: [
        Signal.FirstExecution,
        Signal.Replay,
        Signal.Mismatch,
        Signal.InProgress,
        Signal.PreviouslyFailed,
      ],
    });
  });

  it('says what would have happened in observe mode', async () => {
    expect(await decisions('observe')).toEqual({
      kinds: ['execute', 'replay', 'mismatch', 'in_progress', 'failed'],
      names: [
        Signal.FirstExecution,
        Signal.WouldReplay,
        Signal.WouldReject,
        Signal.WouldReject,
        Signal.WouldReject,
      ],
    });
  });
});
