import { describe, expect, it } from 'vitest';
import { type BeginInput, type Decision, IdempotencyEngine, type Lease } from '../../src/core/engine.js';
import { recordKey } from '../../src/core/keys.js';
import { resolveSettings } from '../../src/core/settings.js';
import { Signal } from '../../src/core/telemetry.js';
import { RECORD_VERSION, RecordStatus } from '../../src/core/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

// The engine's rule for a durable execution's replay (docs/protocol.md section 10) on a memory store, with a clock
// that moves only when told: the lease it takes up, and what happens when the lease changes under it. The same
// rule on DynamoDB Local: test/durable/resume-own-lease.test.ts.

/** A store whose record is released by its owner between a claim and the renewal that follows it, once. */
class RacingStore extends MemoryStore {
  releaseBeforeNextRenew = false;

  override async renew(...args: Parameters<MemoryStore['renew']>) {
    if (this.releaseBeforeNextRenew) {
      this.releaseBeforeNextRenew = false;
      await this.release(args[0], args[1]);
    }
    return super.renew(...args);
  }
}

const START = 1_700_000_000_000;
const OWNER = 'arn:aws:lambda:eu-west-1:123456789012:function:orders:$LATEST/durable-execution/o-1/run-1';

function rig() {
  const store = new RacingStore();
  const clock = { now: START };
  function engine() {
    const telemetry = recordingTelemetry();
    const { settings } = resolveSettings(
      {
        environment: 'test',
        mode: 'enforce',
        waitBudgetMs: 0,
        lockTtlSeconds: 60,
        expiresAfterSeconds: 3600,
      },
      {},
    );
    const built = new IdempotencyEngine({
      store,
      settings,
      telemetry: telemetry.telemetry,
      clock: () => clock.now,
      random: () => 0,
      sleep: async () => {},
    });
    return { engine: built, telemetry };
  }
  return { store, clock, engine };
}

const input = (overrides: Partial<BeginInput> = {}): BeginInput => ({
  org: 'acme',
  scope: 'durable-order',
  key: 'order-1',
  fingerprint: 'fp-1',
  owner: OWNER,
  resumeOwnLease: true,
  ...overrides,
});

function leaseOf(decision: Decision): Lease {
  if (decision.kind !== 'execute') throw new Error(`Expected an execute decision, got ${decision.kind}.`);
  return decision.lease;
}

describe('a live lease taken up again by its own owner', () => {
  it('keeps its token, record and attempt, and is pushed to now + the lock TTL, bounded by the time left', async () => {
    const { store, clock, engine } = rig();
    const first = leaseOf(await engine().engine.begin(input()));
    clock.now += 10_000;
    const { engine: replay, telemetry } = engine();
    const resumed = await replay.begin(input({ remainingTimeMs: 30_000 }));
    expect(resumed).toMatchObject({ kind: 'execute', resumed: true });
    expect(leaseOf(resumed)).toEqual({
      pk: first.pk,
      token: first.token,
      leaseUntil: clock.now + 30_000,
      org: 'acme',
      scope: 'durable-order',
      fingerprint: 'fp-1',
      rawDigest: undefined,
      // The lifetime moves with the lease, as a renewal's does.
      expiresAt: first.expiresAt + 10,
      createdAt: START,
      attempt: 1,
      owner: OWNER,
    });
    expect(store.records()[0]).toMatchObject({ leaseToken: first.token, leaseUntil: clock.now + 30_000 });
    expect(telemetry.signals.map(({ signal, facts }) => [signal, facts.detail?.attempt])).toEqual([
      [Signal.Resumed, 1],
    ]);
  });

  it('computes a provisional meaning once, when it completes, as the first claim would have', async () => {
    const { store, engine } = rig();
    const meanings: string[] = [];
    const meaning = () => {
      meanings.push('fp-1');
      return 'fp-1';
    };
    const request = input({ rawDigest: 'raw-1', fingerprint: meaning });
    await engine().engine.begin(request);
    const { engine: replay } = engine();
    const resumed = leaseOf(await replay.begin(request));
    expect(resumed.fingerprint).toBe('raw:raw-1');
    expect(meanings).toEqual([]);
    expect(await replay.complete(resumed, { shipped: true })).toBe(true);
    expect(store.records()[0]).toMatchObject({
      status: 'COMPLETED',
      fingerprint: 'fp-1',
      rawDigest: 'raw-1',
    });
    expect(meanings).toEqual(['fp-1']);
  });

  it('is claimed afresh when its owner released it between the claim and the renewal', async () => {
    const { store, engine } = rig();
    const first = leaseOf(await engine().engine.begin(input()));
    store.releaseBeforeNextRenew = true;
    const { engine: replay, telemetry } = engine();
    const again = await replay.begin(input());
    expect(again).not.toHaveProperty('resumed');
    expect(leaseOf(again).token).not.toBe(first.token);
    expect(store.records()).toMatchObject([{ leaseToken: leaseOf(again).token }]);
    expect(telemetry.names()).toEqual([Signal.FirstExecution]);
  });

  it('is not taken up by a request that names no owner, even when the record names none either', async () => {
    const { engine } = rig();
    await engine().engine.begin(input({ owner: undefined }));
    const { engine: replay, telemetry } = engine();
    expect(await replay.begin(input({ owner: undefined }))).toMatchObject({ kind: 'in_progress' });
    expect(telemetry.names()).toEqual([Signal.InProgress]);
  });
  it('is not taken up by another owner, nor by its own owner when the door does not ask for it', async () => {
    const { engine } = rig();
    await engine().engine.begin(input());
    const { engine: replay, telemetry } = engine();
    expect(await replay.begin(input({ owner: 'another-execution' }))).toMatchObject({ kind: 'in_progress' });
    expect(await replay.begin(input({ resumeOwnLease: false }))).toMatchObject({ kind: 'in_progress' });
    expect(telemetry.names()).toEqual([Signal.InProgress, Signal.InProgress]);
  });

  it('is a mismatch when its own owner sends another request under the key', async () => {
    const { engine } = rig();
    await engine().engine.begin(input());
    expect(await engine().engine.begin(input({ fingerprint: 'fp-2' }))).toMatchObject({ kind: 'mismatch' });
  });

  it('is a replay once its owner completed it: a completed record is never taken up', async () => {
    const { engine } = rig();
    const { engine: first } = engine();
    await first.complete(leaseOf(await first.begin(input())), { shipped: true });
    expect(await engine().engine.begin(input())).toMatchObject({ kind: 'replay', result: { shipped: true } });
  });

  it('is never taken up without a token to fence the renewal by', async () => {
    const { store, clock, engine } = rig();
    // A running record another writer left without a lease token.
    await store.claim(
      {
        pk: recordKey('acme', 'durable-order', 'unfenced'),
        org: 'acme',
        scope: 'durable-order',
        status: RecordStatus.InProgress,
        expiresAt: Math.floor(clock.now / 1000) + 3600,
        leaseUntil: clock.now + 60_000,
        owner: OWNER,
        fingerprint: 'fp-1',
        createdAt: clock.now,
        attempt: 1,
        v: RECORD_VERSION,
      },
      { nowMs: clock.now },
    );
    const { engine: replay } = engine();
    const decided = await replay.begin(input({ key: 'unfenced' }));
    expect(decided.kind).toBe('in_progress');
  });
});
