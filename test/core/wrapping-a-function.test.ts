/**
 * `makeIdempotent` on a memory store: what a caller of the wrapped function sees (its return, its throw, `this`),
 * for each answer of the guard, without DynamoDB Local (the DynamoDB-backed cases are in make-idempotent.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { buildGuard } from '../../src/core/door.js';
import {
  IdempotencyConfigError,
  IdempotencyInProgressError,
  IdempotencyKeyMismatchError,
  IdempotencyPreviouslyFailedError,
  IdempotencyResultOmittedError,
  IdempotencyStoreError,
} from '../../src/core/errors.js';
import { defaultArgumentsFingerprint } from '../../src/core/fingerprint.js';
import { type MakeIdempotentOptions, makeIdempotent } from '../../src/core/make-idempotent.js';
import type { Telemetry } from '../../src/core/telemetry.js';
import { RecordStatus } from '../../src/core/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

interface Payment {
  readonly orgId: string;
  readonly paymentId: string;
  readonly amount: number;
}

const payment = (overrides: Partial<Payment> = {}): Payment => ({
  orgId: 'acme',
  paymentId: 'pay-1',
  amount: 100,
  ...overrides,
});

/** A memory store whose claims and reads throw while `down` is set: a store outage. */
class OutageStore extends MemoryStore {
  down = false;
  override async claim(...args: Parameters<MemoryStore['claim']>) {
    if (this.down) throw new Error('store down');
    return super.claim(...args);
  }
  override async get(...args: Parameters<MemoryStore['get']>) {
    if (this.down) throw new Error('store down');
    return super.get(...args);
  }
}

type Options = Partial<MakeIdempotentOptions<[Payment]>>;

/** A ledger object whose `charge` method is wrapped: the method counts its runs on `this`. */
function ledger(options: Options = {}, body: (payment: Payment) => unknown = (p) => ({ charged: p.amount })) {
  const store = (options.store as MemoryStore | undefined) ?? new OutageStore();
  const telemetry = recordingTelemetry();
  const charge = makeIdempotent(
    async function charge(this: { runs: Payment[] }, p: Payment) {
      this.runs.push(p);
      return body(p);
    },
    {
      store,
      scope: 'charge',
      org: (p) => p.orgId,
      key: (p) => p.paymentId,
      environment: 'test',
      mode: 'enforce',
      waitBudgetMs: 0,
      jitterMs: 0,
      telemetry: telemetry.telemetry,
      ...options,
    },
  );
  const object = { runs: [] as Payment[], charge };
  return { object, store, telemetry };
}

describe('makeIdempotent on a memory store', () => {
  it('runs the method once with its own `this`, and replays the stored result to a later call', async () => {
    const { object, store } = ledger();
    expect(await object.charge(payment())).toEqual({ charged: 100 });
    expect(await object.charge(payment())).toEqual({ charged: 100 });
    expect(object.runs).toHaveLength(1);
    expect(store.records().map((record) => record.status)).toEqual([RecordStatus.Completed]);
  });

  it('files the record under the org a function of the arguments names', async () => {
    const { object, store } = ledger();
    await object.charge(payment({ orgId: 'globex' }));
    expect(store.records().map((record) => [record.org, record.scope])).toEqual([['globex', 'charge']]);
  });

  it('files the record under a constant org', async () => {
    const { object, store } = ledger({ org: 'initech' });
    await object.charge(payment({ orgId: 'globex' }));
    expect(store.records().map((record) => record.org)).toEqual(['initech']);
  });

  it('throws IdempotencyKeyMismatchError for the same key with other arguments, without running', async () => {
    const { object } = ledger();
    await object.charge(payment());
    const error = await object.charge(payment({ amount: 999 })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyKeyMismatchError);
    expect((error as IdempotencyKeyMismatchError).record.status).toBe(RecordStatus.Completed);
    expect(object.runs).toHaveLength(1);
  });

  it('compares what a custom fingerprint picks, so other arguments with the same meaning replay', async () => {
    const { object } = ledger({ fingerprint: (p) => ({ org: p.orgId }) });
    await object.charge(payment());
    expect(await object.charge(payment({ amount: 999 }))).toEqual({ charged: 100 });
    expect(object.runs).toHaveLength(1);
  });

  it('compares a custom fingerprint, so a different meaning is a mismatch', async () => {
    const { object } = ledger({ fingerprint: (p) => ({ cents: p.amount }) });
    await object.charge(payment());
    await expect(object.charge(payment({ amount: 5 }))).rejects.toBeInstanceOf(IdempotencyKeyMismatchError);
    expect(object.runs).toHaveLength(1);
  });

  it('leaves a Lambda context out of the fingerprint and bounds the lease by its remaining time', async () => {
    const store = new MemoryStore();
    const leases: number[] = [];
    const wrapped = makeIdempotent(
      async (_p: Payment, _context: { getRemainingTimeInMillis(): number }) => {
        const [record] = store.records();
        leases.push((record?.leaseUntil ?? 0) - (record?.createdAt ?? 0));
        return 'ok';
      },
      {
        store,
        scope: 'charge',
        org: 'acme',
        key: (p) => p.paymentId,
        environment: 'test',
        telemetry: recordingTelemetry().telemetry,
      },
    );
    await wrapped(payment(), { getRemainingTimeInMillis: () => 5_000 });
    expect(await wrapped(payment(), { getRemainingTimeInMillis: () => 1_234 })).toBe('ok');
    expect(leases).toEqual([5_000]);
  });

  it('leaves a durable execution context out of the fingerprint', async () => {
    const store = new MemoryStore();
    let runs = 0;
    const durable = (attempt: number) => ({
      step: async () => undefined,
      executionContext: { durableExecutionArn: 'arn:aws:lambda:eu-west-1:1:function:orders/durable/1' },
      attempt,
    });
    const wrapped = makeIdempotent(
      async (p: Payment, _context: ReturnType<typeof durable>) => {
        runs += 1;
        return { charged: p.amount };
      },
      {
        store,
        scope: 'charge',
        org: 'acme',
        key: (p) => p.paymentId,
        environment: 'test',
        telemetry: recordingTelemetry().telemetry,
      },
    );
    await wrapped(payment(), durable(1));
    expect(await wrapped(payment(), durable(2))).toEqual({ charged: 100 });
    expect(runs).toBe(1);
  });

  it('throws IdempotencyInProgressError while the first call still runs, with the seconds to wait', async () => {
    let finish: () => void = () => {};
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    const { object } = ledger({}, () => {
      started();
      return new Promise((resolve) => (finish = () => resolve('done')));
    });
    const first = object.charge(payment());
    await running;
    const error = await object.charge(payment()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyInProgressError);
    expect((error as IdempotencyInProgressError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((error as IdempotencyInProgressError).record.status).toBe(RecordStatus.InProgress);
    finish();
    expect(await first).toBe('done');
    expect(object.runs).toHaveLength(1);
  });

  it('rethrows what the method threw and releases the key, so a retry runs it again', async () => {
    let fail = true;
    const failure = new RangeError('psp down');
    const { object, store, telemetry } = ledger({}, (p) => {
      if (fail) throw failure;
      return { charged: p.amount };
    });
    await expect(object.charge(payment())).rejects.toBe(failure);
    expect(store.records()).toEqual([]);
    expect(telemetry.names()).toContain('released');
    fail = false;
    expect(await object.charge(payment())).toEqual({ charged: 100 });
    expect(object.runs).toHaveLength(2);
  });

  it('throws IdempotencyPreviouslyFailedError for a key another door marked as failed, without running', async () => {
    const store = new MemoryStore();
    const options = {
      store,
      environment: 'test',
      mode: 'enforce',
      telemetry: recordingTelemetry().telemetry,
    } as const;
    const p = payment();
    const guard = buildGuard(options, 'jobs');
    const entry = await guard.enter({
      org: p.orgId,
      scope: 'charge',
      key: p.paymentId,
      fingerprint: defaultArgumentsFingerprint([p]),
      remainingTimeMs: () => undefined,
    });
    if (entry.kind !== 'owner') throw new Error(`Expected to own the key, got ${entry.kind}.`);
    expect(await entry.ownership.fail({ declined: true })).toBe('done');

    const { object } = ledger({ store });
    const error = await object.charge(p).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyPreviouslyFailedError);
    expect((error as IdempotencyPreviouslyFailedError).record.status).toBe(RecordStatus.Failed);
    expect(object.runs).toHaveLength(0);
  });

  it('throws IdempotencyResultOmittedError on a replay of a result JSON cannot carry, and does not run again', async () => {
    const { object } = ledger({}, () => ({ cents: 100n }));
    expect(await object.charge(payment())).toEqual({ cents: 100n });
    const error = await object.charge(payment()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyResultOmittedError);
    expect((error as IdempotencyResultOmittedError).reason).toBe('unserializable');
    expect(object.runs).toHaveLength(1);
  });

  it('replays a stored `undefined` as `undefined`, without running again', async () => {
    const { object } = ledger({}, () => undefined);
    expect(await object.charge(payment())).toBeUndefined();
    expect(await object.charge(payment())).toBeUndefined();
    expect(object.runs).toHaveLength(1);
  });
});

describe('makeIdempotent by mode', () => {
  it('in off mode runs the method with its `this` every time and never reads the key, org or fingerprint', async () => {
    const unread = () => {
      throw new Error('read in off mode');
    };
    const { object, store } = ledger({ mode: 'off', key: unread, org: unread, fingerprint: unread });
    expect(await object.charge(payment())).toEqual({ charged: 100 });
    expect(await object.charge(payment())).toEqual({ charged: 100 });
    expect(object.runs).toHaveLength(2);
    expect(store.records()).toEqual([]);
  });

  it('in observe mode runs a duplicate again, with its `this`, and counts it', async () => {
    const { object, telemetry } = ledger({ mode: 'observe' });
    await object.charge(payment());
    expect(await object.charge(payment())).toEqual({ charged: 100 });
    expect(object.runs).toHaveLength(2);
    expect(telemetry.names()).toEqual(['first_execution', 'would_replay']);
  });
});

describe('makeIdempotent when the store fails', () => {
  it('fails open: runs the method with its `this` and counts store_error', async () => {
    const { object, store, telemetry } = ledger();
    (store as OutageStore).down = true;
    expect(await object.charge(payment())).toEqual({ charged: 100 });
    expect(object.runs).toHaveLength(1);
    expect(telemetry.names()).toEqual(['store_error']);
  });

  it('with strictFailClosed throws IdempotencyStoreError holding the cause, and does not run', async () => {
    const { object, store } = ledger({ strictFailClosed: true });
    (store as OutageStore).down = true;
    const error = await object.charge(payment()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect((error as IdempotencyStoreError).cause).toMatchObject({ message: 'store down' });
    expect(object.runs).toHaveLength(0);
  });
});

describe('onFirstCompletion through makeIdempotent', () => {
  it('gets the result and the arguments once, after the first call, never on a replay', async () => {
    const audits: [unknown, Payment][] = [];
    const { object } = ledger({ onFirstCompletion: (result, p) => void audits.push([result, p]) });
    await object.charge(payment());
    await object.charge(payment());
    expect(audits).toEqual([[{ charged: 100 }, payment()]]);
  });

  it('is not called, and nothing is warned, when none is given', async () => {
    const { object, telemetry } = ledger();
    await object.charge(payment());
    expect(telemetry.warnings).toEqual([]);
  });
});

describe('the metrics of a wrapped call', () => {
  /** A telemetry that counts its flushes. */
  function flushing(): { telemetry: Telemetry; flushes: () => number } {
    let flushes = 0;
    return {
      telemetry: {
        emit() {},
        warn() {},
        flush() {
          flushes += 1;
        },
      },
      flushes: () => flushes,
    };
  }

  it('are flushed once each call is answered, a replay too', async () => {
    const { telemetry, flushes } = flushing();
    const { object } = ledger({ telemetry });
    await object.charge(payment());
    expect(flushes()).toBe(1);
    await object.charge(payment());
    expect(flushes()).toBe(2);
  });

  it('are flushed when the call throws', async () => {
    const { telemetry, flushes } = flushing();
    const { object } = ledger({ telemetry }, () => {
      throw new Error('psp down');
    });
    await expect(object.charge(payment())).rejects.toThrow('psp down');
    expect(flushes()).toBe(1);
  });
});

describe('makeIdempotent configuration', () => {
  const configMessage = (options: Options) => {
    try {
      ledger(options);
    } catch (error) {
      if (error instanceof IdempotencyConfigError) return error.message;
      throw error;
    }
    throw new Error('Expected an IdempotencyConfigError, got none.');
  };

  it('names makeIdempotent in the sentence about an unknown option', () => {
    expect(configMessage({ scpoe: 'charge' } as Options)).toBe(
      'Unknown option `scpoe` passed to `makeIdempotent`; remove it or check its spelling (did you mean `scope`?).',
    );
  });

  it('names makeIdempotent in the sentence about a renewal period as long as the lease', () => {
    expect(configMessage({ lockTtlSeconds: 2, renewEvery: 2_000 })).toBe(
      'Expected `renewEvery` of `makeIdempotent` to be shorter than the lock TTL (2000 ms), got 2000; renew at most every third of the lock TTL, or leave it unset.',
    );
  });
});
