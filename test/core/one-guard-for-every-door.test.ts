import { describe, expect, it } from 'vitest';
import { IdempotencyEngine } from '../../src/core/engine.js';
import { IdempotencyConfigError, IdempotencyStoreError } from '../../src/core/errors.js';
import { Guard, type GuardInput, leaseSignal } from '../../src/core/guard.js';
import type { CommonOptions } from '../../src/core/options.js';
import { resolveSettings } from '../../src/core/settings.js';
import { Signal } from '../../src/core/telemetry.js';
import { RecordStatus } from '../../src/core/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

/** A memory store whose named operations throw while `failing` holds them, and that lists the calls it got. */
class FailingStore extends MemoryStore {
  readonly failing = new Map<string, unknown>();
  readonly calls: string[] = [];

  override async claim(...args: Parameters<MemoryStore['claim']>) {
    this.#maybeFail('claim');
    return super.claim(...args);
  }
  override async get(...args: Parameters<MemoryStore['get']>) {
    this.#maybeFail('get');
    return super.get(...args);
  }
  override async complete(...args: Parameters<MemoryStore['complete']>) {
    this.#maybeFail('complete');
    return super.complete(...args);
  }

  #maybeFail(operation: string): void {
    this.calls.push(operation);
    if (this.failing.has(operation)) throw this.failing.get(operation);
  }
}

function guardOn(
  options: Omit<Partial<CommonOptions>, 'store' | 'cache'> & {
    store?: FailingStore;
    renewEveryMs?: number;
  } = {},
) {
  const { store = new FailingStore(), renewEveryMs, clock, ...rest } = options;
  const telemetry = recordingTelemetry();
  const { settings } = resolveSettings(
    { environment: 'test', mode: 'enforce', waitBudgetMs: 0, lockTtlSeconds: 60, ...rest },
    {},
  );
  const engine = new IdempotencyEngine({ store, settings, telemetry: telemetry.telemetry, clock });
  const guard = new Guard(engine, { door: 'testDoor', renewEveryMs });
  return { guard, store, telemetry };
}

const input = (key: string, overrides: Partial<GuardInput> = {}): GuardInput => ({
  org: 'acme',
  scope: 'charge',
  key,
  fingerprint: 'fp-1',
  remainingTimeMs: () => undefined,
  ...overrides,
});

async function own(guard: Guard, key: string) {
  const entry = await guard.enter(input(key));
  if (entry.kind !== 'owner') throw new Error(`Expected to own the operation, got ${entry.kind}.`);
  return entry.ownership;
}

describe('entering', () => {
  it('runs unguarded without a store call in off mode', async () => {
    const { guard, store } = guardOn({ mode: 'off' });
    expect(await guard.enter(input('k-off'))).toEqual({ kind: 'unguarded', reason: 'off' });
    expect(store.records()).toEqual([]);
  });

  it('runs unguarded (fail open) on a store error, and refuses under strictFailClosed', async () => {
    const open = guardOn();
    open.store.failing.set('claim', new Error('down'));
    expect(await open.guard.enter(input('k-open'))).toEqual({ kind: 'unguarded', reason: 'fail_open' });

    const closed = guardOn({ strictFailClosed: true });
    closed.store.failing.set('claim', new Error('down'));
    const entry = await closed.guard.enter(input('k-closed'));
    expect(entry.kind).toBe('refused');
    expect(entry.kind === 'refused' && entry.error).toBeInstanceOf(IdempotencyStoreError);
  });

  it('lets a duplicate run unguarded in observe mode and answers it in enforce mode', async () => {
    const store = new FailingStore();
    await own(guardOn({ store }).guard, 'k-dup');
    expect(await guardOn({ store, mode: 'observe' }).guard.enter(input('k-dup'))).toEqual({
      kind: 'unguarded',
      reason: 'observe',
    });
    const entry = await guardOn({ store }).guard.enter(input('k-dup'));
    expect(entry).toMatchObject({ kind: 'duplicate', decision: { kind: 'in_progress' } });
  });

  it('asks for the remaining time when it claims, and bounds the lease by it', async () => {
    const { guard, store } = guardOn();
    const before = Date.now();
    await guard.enter(input('k-remaining', { remainingTimeMs: () => 1500 }));
    const [record] = store.records();
    expect(record?.leaseUntil).toBeLessThanOrEqual(Date.now() + 1500);
    expect(record?.leaseUntil).toBeGreaterThanOrEqual(before + 1500);
  });
});

describe('inspecting without claiming (the edge)', () => {
  it('answers a duplicate in enforce mode only', async () => {
    const store = new FailingStore();
    const ownership = await own(guardOn({ store }).guard, 'k-peek');
    await ownership.complete({ ok: true });
    expect(await guardOn({ store }).guard.inspect(input('k-peek'))).toMatchObject({ kind: 'replay' });
    expect(await guardOn({ store, mode: 'observe' }).guard.inspect(input('k-peek'))).toBeUndefined();
    expect(await guardOn({ store, mode: 'off' }).guard.inspect(input('k-peek'))).toBeUndefined();
  });

  it('reads nothing in off mode', async () => {
    const { guard, store } = guardOn({ mode: 'off' });
    expect(await guard.inspect(input('k-peek-off'))).toBeUndefined();
    expect(store.calls).toEqual([]);
  });

  it('lets the authority decide on a store error, even under strictFailClosed', async () => {
    const { guard, store } = guardOn({ strictFailClosed: true });
    store.failing.set('get', new Error('down'));
    expect(await guard.inspect(input('k-peek-down'))).toBeUndefined();
  });

  it('throws what is not a store error', async () => {
    const { guard } = guardOn();
    // An org that cannot lead a record key is the caller's bug.
    await expect(guard.inspect(input('k', { org: 'a#b' }))).rejects.toThrow(/`org`/);
  });
});

describe('settling an owned operation', () => {
  it('runs the operation with leaseSignal set to its lease’s signal, and reports a throw as an outcome', async () => {
    const ownership = await own(guardOn().guard, 'k-run');
    let seen: AbortSignal | undefined;
    const ok = await ownership.run(async (signal) => {
      seen = leaseSignal();
      expect(signal).toBe(ownership.signal);
      return 7;
    });
    expect(ok).toEqual({ ok: true, value: 7 });
    expect(seen).toBe(ownership.signal);
    const failed = await ownership.run(() => {
      throw new RangeError('bad');
    });
    expect(failed.ok).toBe(false);
    expect(!failed.ok && failed.error).toBeInstanceOf(RangeError);
    await ownership.release();
  });

  it('settles once: a second complete, fail or release writes nothing and answers the first one', async () => {
    const { guard, store } = guardOn();
    const ownership = await own(guard, 'k-once');
    expect(await ownership.complete({ n: 1 })).toBe('done');
    expect(await ownership.release()).toBe('done');
    expect(await ownership.fail({ n: 2 })).toBe('done');
    expect(store.records().map((record) => record.status)).toEqual([RecordStatus.Completed]);
  });

  it('stores the fallback of a result the door already knows does not fit, and says why', async () => {
    const { guard, store, telemetry } = guardOn();
    const entry = await guard.enter(input('k-fallback', { correlationId: 'req-44' }));
    if (entry.kind !== 'owner') throw new Error('Expected to own it.');
    const settled = await entry.ownership.complete(undefined, {
      dropped: 'too_large',
      fallback: { statusCode: 200, headers: { 'content-type': 'text/csv' } },
    });
    expect(settled).toBe('done');
    expect(store.records()[0]).toMatchObject({ status: RecordStatus.Completed, resultDropped: 'too_large' });
    expect(JSON.parse(String(store.records()[0]?.result))).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'text/csv' },
    });
    const tooLarge = telemetry.signals.filter(({ signal }) => signal === Signal.ResultTooLarge);
    expect(tooLarge.map(({ facts }) => facts.correlationId)).toEqual(['req-44']);
  });

  it('marks a permanent failure FAILED', async () => {
    const { guard, store } = guardOn();
    expect(await (await own(guard, 'k-fail')).fail({ reason: 'declined' })).toBe('done');
    expect(store.records()[0]?.status).toBe(RecordStatus.Failed);
  });

  it('runs the audit once, only when this completion stored the outcome, and logs its throw', async () => {
    const { guard, telemetry } = guardOn();
    const audits: string[] = [];
    const ownership = await own(guard, 'k-audit');
    await ownership.complete({ ok: 1 }, { audit: () => audits.push('first') });
    await ownership.complete({ ok: 1 }, { audit: () => audits.push('second') });
    expect(audits).toEqual(['first']);

    const throwing = await own(guard, 'k-audit-throws');
    expect(
      await throwing.complete(
        { ok: 1 },
        {
          audit: () => {
            throw new SyntaxError('audit table gone');
          },
        },
      ),
    ).toBe('done');
    expect(telemetry.warnings).toHaveLength(1);
    expect(telemetry.warnings[0]).toMatch(/`onFirstCompletion` threw SyntaxError for an operation;/);
  });

  it('names the correlation id in the warning of an audit that threw', async () => {
    const { guard, telemetry } = guardOn();
    const entry = await guard.enter(input('k-audit-named', { correlationId: 'req-42' }));
    if (entry.kind !== 'owner') throw new Error('Expected to own it.');
    const audit = () => Promise.reject(new Error('audit table gone'));
    expect(await entry.ownership.complete({ ok: 1 }, { audit })).toBe('done');
    expect(telemetry.warnings).toEqual([expect.stringMatching(/threw Error for req-42;/)]);
  });

  it('releases the key under the request’s correlation id, so the log line names the request', async () => {
    const { guard, store, telemetry } = guardOn();
    const entry = await guard.enter(input('k-release', { correlationId: 'req-43' }));
    if (entry.kind !== 'owner') throw new Error('Expected to own it.');
    expect(await entry.ownership.release()).toBe('done');
    expect(store.records()).toEqual([]);
    const released = telemetry.signals.filter(({ signal }) => signal === Signal.Released);
    expect(released.map(({ facts }) => facts.correlationId)).toEqual(['req-43']);
  });

  it('throws a fault that is no store error from settling, rather than calling it unsettled', async () => {
    const { guard } = guardOn();
    // A raw digest leaves the meaning for the complete to compute: a fingerprint function that throws is a bug.
    const entry = await guard.enter(
      input('k-bug', {
        rawDigest: 'raw-1',
        fingerprint: () => {
          throw new TypeError('fingerprint bug');
        },
      }),
    );
    if (entry.kind !== 'owner') throw new Error('Expected to own it.');
    await expect(entry.ownership.complete({ ok: 1 })).rejects.toThrow(TypeError);
  });

  it('is unsettled, not thrown, when the store keeps failing after the side effect', async () => {
    const { guard, store } = guardOn({ jitterMs: 0 });
    const ownership = await own(guard, 'k-unsettled');
    store.failing.set('complete', new Error('down'));
    store.failing.set('get', new Error('down'));
    let audited = false;
    expect(await ownership.complete({ ok: 1 }, { audit: () => (audited = true) })).toBe('unsettled');
    expect(audited).toBe(false);
  });

  it('is lost, writing nothing, once another invocation took the lease over', async () => {
    const store = new FailingStore();
    const clock = { now: Date.now() };
    const first = guardOn({ store, clock: () => clock.now, renewEveryMs: 10 });
    const entry = await first.guard.enter(input('k-lost', { remainingTimeMs: () => 20 }));
    if (entry.kind !== 'owner') throw new Error('Expected to own it.');
    clock.now += 1000;
    await guardOn({ store, clock: () => clock.now }).guard.enter(input('k-lost'));
    // Wait for the renewal that finds the other token.
    while (!entry.ownership.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 5));

    store.calls.length = 0;
    expect(await entry.ownership.complete({ ok: 1 })).toBe('lost');
    expect(store.records()[0]?.status).toBe(RecordStatus.InProgress);
    // The renewal found out; the settle sends no write that could only fail its condition.
    expect(store.calls).toEqual([]);
    expect(first.telemetry.names().filter((name) => name === Signal.LeaseLost)).toHaveLength(1);
  });
});

describe('the renewal period', () => {
  it('is a third of the lock TTL by default', () => {
    expect(guardOn({ lockTtlSeconds: 30 }).guard.renewEveryMs).toBe(10_000);
  });

  it('must be shorter than the lock TTL, and the message says so', () => {
    expect(() => guardOn({ lockTtlSeconds: 30, renewEveryMs: 30_000 })).toThrow(IdempotencyConfigError);
    expect(() => guardOn({ lockTtlSeconds: 30, renewEveryMs: 30_000 })).toThrow(
      /`renewEvery` of `testDoor`.*lock TTL \(30000 ms\)/,
    );
    expect(guardOn({ lockTtlSeconds: 30, renewEveryMs: 29_999 }).guard.renewEveryMs).toBe(29_999);
  });
});
