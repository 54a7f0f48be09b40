/**
 * How a running owner's lease is kept alive (docs/protocol.md section 3, step 4), one renewal at a time. The
 * renewal timer is vitest's fake one and the engine's clock is pinned, so every renewal happens when the test moves
 * time on, never when a real timer happens to fire.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdempotencyEngine, type Lease } from '../../src/core/engine.js';
import { IdempotencyLeaseLostError } from '../../src/core/errors.js';
import { LeaseKeeper } from '../../src/core/lease-keeper.js';
import { resolveSettings } from '../../src/core/settings.js';
import { Signal } from '../../src/core/telemetry.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

const EVERY_MS = 1000;
const LOCK_TTL_SECONDS = 60;

/** A memory store that lists the renewals it got, can fail them, and can hold one until the test lets it go. */
class RenewalStore extends MemoryStore {
  readonly renewals: number[] = [];
  failures = 0;
  hold: Promise<void> | undefined;

  override async renew(...args: Parameters<MemoryStore['renew']>) {
    this.renewals.push(args[2]);
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('throttled');
    }
    await this.hold;
    return super.renew(...args);
  }
}

function setUp() {
  const store = new RenewalStore();
  const clock = { now: 1_800_000_000_000 };
  const telemetry = recordingTelemetry();
  const { settings } = resolveSettings(
    { environment: 'test', mode: 'enforce', lockTtlSeconds: LOCK_TTL_SECONDS, waitBudgetMs: 0 },
    {},
  );
  const engine = new IdempotencyEngine({
    store,
    settings,
    telemetry: telemetry.telemetry,
    clock: () => clock.now,
  });
  async function claim(key = 'k-1'): Promise<Lease> {
    const decision = await engine.begin({ org: 'acme', scope: 'charge', key, fingerprint: 'fp' });
    if (decision.kind !== 'execute') throw new Error(`Expected to run, got ${decision.kind}.`);
    return decision.lease;
  }
  /** Another invocation takes the record over once the lease has ended (its owner looked dead). */
  async function takeOver(lease: Lease): Promise<void> {
    clock.now = lease.leaseUntil + 1;
    await claim();
  }
  return { store, clock, telemetry, engine, claim, takeOver };
}

/** A promise the test resolves by hand. */
function held() {
  let release = () => {};
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a kept lease', () => {
  it('is renewed once a period has passed, not before, and again a period after that', async () => {
    const { store, clock, engine, claim } = setUp();
    const keeper = LeaseKeeper.start(engine, await claim(), EVERY_MS, () => undefined);
    await vi.advanceTimersByTimeAsync(EVERY_MS - 1);
    expect(store.renewals).toEqual([]);
    clock.now += EVERY_MS;
    await vi.advanceTimersByTimeAsync(1);
    expect(store.renewals).toEqual([clock.now + LOCK_TTL_SECONDS * 1000]);
    clock.now += EVERY_MS;
    await vi.advanceTimersByTimeAsync(EVERY_MS);
    expect(store.renewals).toHaveLength(2);
    expect(store.records()[0]?.leaseUntil).toBe(clock.now + LOCK_TTL_SECONDS * 1000);

    const kept = await keeper.stop();
    expect(kept.lost).toBe(false);
    expect(kept.lease.leaseUntil).toBe(clock.now + LOCK_TTL_SECONDS * 1000);
    expect(keeper.signal.aborted).toBe(false);
  });

  it('asks for the remaining Lambda time at every renewal and ends the lease with it', async () => {
    const { store, clock, engine, claim } = setUp();
    const remaining = [9000, 4000];
    LeaseKeeper.start(engine, await claim(), EVERY_MS, () => remaining.shift());
    await vi.advanceTimersByTimeAsync(EVERY_MS);
    await vi.advanceTimersByTimeAsync(EVERY_MS);
    expect(store.renewals).toEqual([clock.now + 9000, clock.now + 4000]);
  });

  it('keeps renewing after a store error, which says nothing about ownership', async () => {
    const { store, clock, engine, claim, telemetry } = setUp();
    store.failures = 1;
    const keeper = LeaseKeeper.start(engine, await claim(), EVERY_MS, () => undefined);
    await vi.advanceTimersByTimeAsync(EVERY_MS);
    expect(telemetry.names()).toContain(Signal.StoreError);
    expect(keeper.signal.aborted).toBe(false);
    clock.now += EVERY_MS;
    await vi.advanceTimersByTimeAsync(EVERY_MS);
    expect(store.renewals).toHaveLength(2);
    expect(await keeper.stop()).toMatchObject({ lost: false, lease: { leaseUntil: clock.now + 60_000 } });
  });

  it('is never renewed once stopped before its first period', async () => {
    const { store, engine, claim } = setUp();
    const keeper = LeaseKeeper.start(engine, await claim(), EVERY_MS, () => undefined);
    expect(await keeper.stop()).toMatchObject({ lost: false });
    await vi.advanceTimersByTimeAsync(10 * EVERY_MS);
    expect(store.renewals).toEqual([]);
  });
});

describe('a keeper’s timer', () => {
  it('never keeps the process alive on its own (a CLI or a test ends while a lease is kept)', async () => {
    vi.useRealTimers();
    const { engine, claim } = setUp();
    const lease = await claim();
    const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
    const before = timers();
    const keeper = LeaseKeeper.start(engine, lease, 60_000, () => undefined);
    const during = timers();
    await keeper.stop();
    expect(during).toBe(before);
  });
});

describe('a lease taken over by another invocation', () => {
  it('aborts the signal with IdempotencyLeaseLostError at the renewal that finds out, and renews no more', async () => {
    const { store, engine, claim, takeOver, telemetry } = setUp();
    const lease = await claim();
    const keeper = LeaseKeeper.start(engine, lease, EVERY_MS, () => undefined);
    await takeOver(lease);
    await vi.advanceTimersByTimeAsync(EVERY_MS);
    expect(keeper.signal.aborted).toBe(true);
    expect(keeper.signal.reason).toBeInstanceOf(IdempotencyLeaseLostError);
    await vi.advanceTimersByTimeAsync(10 * EVERY_MS);
    expect(store.renewals).toHaveLength(1);
    expect(telemetry.names().filter((name) => name === Signal.LeaseLost)).toHaveLength(1);
    expect((await keeper.stop()).lost).toBe(true);
  });
});

describe('stopping while a renewal is in flight', () => {
  it('waits for that renewal, answers the lease it renewed, and starts none after it', async () => {
    const { store, clock, engine, claim } = setUp();
    const renewal = held();
    store.hold = renewal.promise;
    const keeper = LeaseKeeper.start(engine, await claim(), EVERY_MS, () => undefined);
    clock.now += EVERY_MS;
    await vi.advanceTimersByTimeAsync(EVERY_MS);
    expect(store.renewals).toHaveLength(1);

    let stopped = false;
    const stopping = keeper.stop().finally(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    renewal.release();
    expect(await stopping).toMatchObject({ lost: false, lease: { leaseUntil: clock.now + 60_000 } });
    await vi.advanceTimersByTimeAsync(10 * EVERY_MS);
    expect(store.renewals).toHaveLength(1);
  });

  it('reports the lease lost when that renewal finds another token', async () => {
    const { store, engine, claim, takeOver } = setUp();
    const renewal = held();
    const lease = await claim();
    const keeper = LeaseKeeper.start(engine, lease, EVERY_MS, () => undefined);
    await takeOver(lease);
    store.hold = renewal.promise;
    await vi.advanceTimersByTimeAsync(EVERY_MS);
    const stopping = keeper.stop();
    renewal.release();
    expect((await stopping).lost).toBe(true);
  });
});
