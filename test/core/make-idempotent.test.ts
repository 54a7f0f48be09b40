import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  IdempotencyConfigError,
  IdempotencyInProgressError,
  IdempotencyKeyMismatchError,
  IdempotencyResultOmittedError,
  IdempotencyStoreError,
} from '../../src/core/errors.js';
import type { MakeIdempotentOptions } from '../../src/core/make-idempotent.js';
import { makeIdempotent } from '../../src/core/make-idempotent.js';
import type { LargeResultStore } from '../../src/core/types.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { S3ResultStore } from '../../src/stores/s3.js';
import { Fault, faultyClient } from '../stores/faults.js';
import { createIdempotencyTable } from '../support/dynamodb.js';
import { type S3Emulator, startS3 } from '../support/s3.js';
import { recordingTelemetry } from './recording-telemetry.js';

const { client, control } = faultyClient();
let store: DynamoDBStore;

beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'wrapper'), client });
});
afterAll(() => client.destroy());
beforeEach(() => control.reset());

interface Payment {
  readonly orgId: string;
  readonly paymentId: string;
  readonly amount: number;
}

let ids = 0;
const payment = (overrides: Partial<Payment> = {}): Payment => ({
  orgId: 'acme',
  paymentId: `pay-${process.pid}-${Date.now()}-${++ids}`,
  amount: 100,
  ...overrides,
});

/** A charge operation that counts its runs, wrapped with the given options. */
function charge(
  options: Partial<MakeIdempotentOptions<[Payment]>> = {},
  body: (payment: Payment) => Promise<unknown> = async (p) => ({ charged: p.amount }),
) {
  const runs: Payment[] = [];
  const telemetry = recordingTelemetry();
  const wrapped = makeIdempotent(
    async (p: Payment) => {
      runs.push(p);
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
      telemetry: telemetry.telemetry,
      ...options,
    },
  );
  return { wrapped, runs, telemetry };
}

describe('makeIdempotent', () => {
  it('runs the operation once and replays the stored result without running it again', async () => {
    const { wrapped, runs } = charge();
    const p = payment();
    expect(await wrapped(p)).toEqual({ charged: 100 });
    control.reset();
    expect(await wrapped({ ...p })).toEqual({ charged: 100 });
    expect(runs).toHaveLength(1);
    expect(control.calls).toEqual(['PutItemCommand']);
  });

  it('throws IdempotencyKeyMismatchError for a reused key with other arguments, without running', async () => {
    const { wrapped, runs } = charge();
    const p = payment();
    await wrapped(p);
    const error = await wrapped({ ...p, amount: 999 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyKeyMismatchError);
    expect((error as IdempotencyKeyMismatchError).record.status).toBe('COMPLETED');
    expect(runs).toHaveLength(1);
  });

  it('throws IdempotencyInProgressError while the first call still runs, with seconds to wait', async () => {
    let finish: () => void = () => {};
    const { wrapped, runs } = charge({}, () => new Promise((resolve) => (finish = () => resolve('done'))));
    const p = payment();
    const first = wrapped(p);
    await sleep(50);
    const error = await wrapped(p).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyInProgressError);
    // Nothing learned yet and 50 ms in: retry in a second, never past the 60 s lease.
    expect((error as IdempotencyInProgressError).retryAfterSeconds).toBe(1);
    finish();
    expect(await first).toBe('done');
    expect(runs).toHaveLength(1);
  });

  it('releases when the operation throws, so a retry runs it again', async () => {
    let fail = true;
    const { wrapped, runs, telemetry } = charge({}, async () => {
      if (fail) throw new Error('psp down');
      return 'charged';
    });
    const p = payment();
    await expect(wrapped(p)).rejects.toThrow('psp down');
    expect(telemetry.names()).toContain('released');
    fail = false;
    expect(await wrapped(p)).toBe('charged');
    expect(runs).toHaveLength(2);
  });

  it('in off mode makes no store call and runs every time', async () => {
    const { wrapped, runs } = charge({ mode: 'off' });
    const p = payment();
    await wrapped(p);
    await wrapped(p);
    expect(runs).toHaveLength(2);
    expect(control.calls).toEqual([]);
  });

  it('in observe mode always runs, writes records and counts would_replay and would_reject', async () => {
    const { wrapped, runs, telemetry } = charge({ mode: 'observe' });
    const p = payment();
    await wrapped(p);
    await wrapped(p);
    await wrapped({ ...p, amount: 5 });
    expect(runs).toHaveLength(3);
    expect(telemetry.names()).toEqual(['first_execution', 'would_replay', 'would_reject']);
  });

  it('uses a custom fingerprint that ignores the order of object keys', async () => {
    let calls = 0;
    const { wrapped, runs } = charge({
      // The same meaning, built with its keys in another order on each call.
      fingerprint: (p) =>
        ++calls % 2 === 1 ? { amount: p.amount, org: p.orgId } : { org: p.orgId, amount: p.amount },
    });
    const p = payment();
    await wrapped(p);
    expect(await wrapped(p)).toEqual({ charged: 100 });
    expect(runs).toHaveLength(1);
  });

  it('accepts a custom fingerprint holding a BigInt', async () => {
    const { wrapped, runs } = charge({ fingerprint: (p) => ({ cents: BigInt(p.amount) }) });
    const p = payment();
    await wrapped(p);
    await wrapped(p);
    expect(runs).toHaveLength(1);
  });

  it('leaves a Lambda context out of the fingerprint and bounds the lease by its remaining time', async () => {
    const memory = new MemoryStore();
    const leases: number[] = [];
    const wrapped = makeIdempotent(
      async (_p: Payment, _context: { getRemainingTimeInMillis(): number }) => {
        const [record] = memory.records();
        leases.push((record?.leaseUntil ?? 0) - (record?.createdAt ?? 0));
        return 'ok';
      },
      {
        store: memory,
        scope: 'charge',
        org: 'acme',
        key: (p) => p.paymentId,
        environment: 'test',
        telemetry: recordingTelemetry().telemetry,
      },
    );
    const p = payment();
    await wrapped(p, { getRemainingTimeInMillis: () => 5_000 });
    expect(await wrapped(p, { getRemainingTimeInMillis: () => 1_234 })).toBe('ok');
    expect(leases).toEqual([5_000]);
    expect(memory.records()).toHaveLength(1);
  });

  describe('when the store fails', () => {
    for (const fault of Object.values(Fault)) {
      it(`fails open on ${fault}: runs the operation and counts store_error`, async () => {
        const { wrapped, runs, telemetry } = charge();
        control.fail(fault);
        expect(await wrapped(payment())).toEqual({ charged: 100 });
        expect(runs).toHaveLength(1);
        expect(telemetry.names()).toEqual(['store_error']);
      });

      it(`with strictFailClosed refuses on ${fault}: throws IdempotencyStoreError and does not run`, async () => {
        const { wrapped, runs } = charge({ strictFailClosed: true });
        control.fail(fault);
        const error = await wrapped(payment()).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(IdempotencyStoreError);
        expect((error as IdempotencyStoreError).cause).toBeInstanceOf(Error);
        expect(runs).toHaveLength(0);
      });
    }

    it('returns the result when complete fails after the side effect, and counts store_error', async () => {
      const { wrapped, runs, telemetry } = charge({ strictFailClosed: true });
      control.fail(Fault.Throttling, { commands: ['UpdateItemCommand'] });
      expect(await wrapped(payment())).toEqual({ charged: 100 });
      expect(runs).toHaveLength(1);
      // The complete is tried 4 times (3 retries) before the error is given up on; each failure is counted.
      expect(telemetry.names()).toEqual(['first_execution', ...Array(4).fill('store_error')]);
    });
  });

  describe('configuration', () => {
    it('rejects an unknown option with a did-you-mean naming the wrapper option', () => {
      expect(() =>
        makeIdempotent(async () => 1, {
          store,
          scpoe: 'charge',
          org: 'acme',
          key: () => 'k',
        } as never),
      ).toThrow(
        /Unknown option `scpoe` passed to `makeIdempotent`; remove it or check its spelling \(did you mean `scope`\?\)\./,
      );
    });

    it('rejects a scope that cannot lead a record key, at creation', () => {
      expect(() =>
        makeIdempotent(async () => 1, {
          store,
          scope: 'create#order',
          org: 'acme',
          key: () => 'k',
        }),
      ).toThrow(IdempotencyConfigError);
    });

    it('rejects a missing key function, naming it', () => {
      expect(() => makeIdempotent(async () => 1, { store, scope: 'charge', org: 'acme' } as never)).toThrow(
        /Expected `key` of `makeIdempotent` to be a function, got undefined\./,
      );
    });
  });
});

describe('50 concurrent invocations with one key on DynamoDB Local', () => {
  it('run the operation exactly once; every other caller gets the replay or an in-progress error', async () => {
    const { wrapped, runs } = charge({ waitBudgetMs: 2_000, jitterMs: 20 }, async (p) => {
      await sleep(150);
      return { charged: p.amount, id: 'ch_1' };
    });
    const p = payment();
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => wrapped({ ...p })));
    expect(runs).toHaveLength(1);
    const fulfilled = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
    for (const outcome of fulfilled) expect(outcome.value).toEqual({ charged: 100, id: 'ch_1' });
    for (const outcome of rejected) expect(outcome.reason).toBeInstanceOf(IdempotencyInProgressError);
    expect(fulfilled.length + rejected.length).toBe(50);
    expect(fulfilled.length).toBeGreaterThanOrEqual(1);
    // One claim each: the waiters polled with GetItem and never claimed twice.
    expect(control.calls.filter((call) => call === 'PutItemCommand')).toHaveLength(50);
  });
});

describe('a replay of a result that was too large to store', () => {
  it('throws IdempotencyResultOmittedError naming the reason, never undefined, and does not run again', async () => {
    // Random bytes do not compress: the result stays over the item limit.
    const { wrapped, runs } = charge({}, async () => ({ receipt: randomBytes(400_000).toString('base64') }));
    const p = payment();
    expect((await wrapped(p)) as { receipt: string }).toHaveProperty('receipt');
    const replay = wrapped(p);
    await expect(replay).rejects.toBeInstanceOf(IdempotencyResultOmittedError);
    await expect(wrapped(p)).rejects.toMatchObject({ reason: 'too_large' });
    expect(runs).toHaveLength(1);
  });
});

describe('a result too large for the record, with a large-result store', () => {
  let s3: S3Emulator;
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(() => s3?.stop());

  const receipt = async () => ({ receipt: randomBytes(400_000).toString('base64') });

  it('returns the whole result on a replay, read back from S3, and does not run again', async () => {
    const largeResults = new S3ResultStore({ bucket: s3.bucket, client: s3.client, prefix: 'wrapper/' });
    const { wrapped, runs } = charge({ largeResults }, receipt);
    const p = payment();
    const first = await wrapped(p);
    expect(await wrapped(p)).toStrictEqual(first);
    // Another process (a cold start) replays it from the record and the object alone.
    const { wrapped: cold, runs: coldRuns } = charge({ largeResults }, receipt);
    expect(await cold(p)).toStrictEqual(first);
    expect([runs.length, coldRuns.length]).toEqual([1, 0]);
  });

  it('stops writing the object before the lease ends, and completes without the body instead', async () => {
    const started: boolean[] = [];
    const aborted: boolean[] = [];
    // A write that never finishes on its own: only the engine's deadline, before the lease ends, stops it (or, on a
    // machine so slow that the lease is nearly over when the operation returns, the write is not even started).
    const hanging: LargeResultStore = {
      put: (_object, signal) =>
        new Promise((_resolve, reject) => {
          started.push(true);
          signal?.addEventListener('abort', () => {
            aborted.push(true);
            reject(signal.reason);
          });
        }),
      get: async () => undefined,
    };
    const { wrapped, runs, telemetry } = charge({ largeResults: hanging, lockTtlSeconds: 2 }, receipt);
    const p = payment();
    expect(await wrapped(p)).toHaveProperty('receipt');
    expect(aborted).toEqual(started);
    await expect(wrapped(p)).rejects.toMatchObject({ reason: 'too_large' });
    expect(runs).toHaveLength(1);
    expect(telemetry.signals.map(({ signal, facts }) => [signal, facts.detail?.operation])).toContainEqual([
      'store_error',
      'putLargeResult',
    ]);
  });
  it('does not wait past the lease for an object write that ignores the abort, and never runs twice', async () => {
    // A store that never settles and never listens to its signal: the engine itself stops waiting before the lease ends.
    const deaf: LargeResultStore = { put: () => new Promise(() => {}), get: async () => undefined };
    const { wrapped, runs, telemetry } = charge({ largeResults: deaf, lockTtlSeconds: 2 }, receipt);
    const p = payment();
    expect(await wrapped(p)).toHaveProperty('receipt');
    await expect(wrapped(p)).rejects.toMatchObject({ reason: 'too_large' });
    expect(runs).toHaveLength(1);
    expect(telemetry.signals.map(({ signal, facts }) => [signal, facts.detail?.operation])).toContainEqual([
      'store_error',
      'putLargeResult',
    ]);
  });

  it('reads no more of an object replaced by a longer one than the record says, and answers without the body', async () => {
    const s3Store = new S3ResultStore({ bucket: s3.bucket, client: s3.client, prefix: 'longer/' });
    const keys: string[] = [];
    const read: number[] = [];
    const largeResults: LargeResultStore = {
      put: async (object, signal) => {
        const key = await s3Store.put(object, signal);
        keys.push(key);
        return key;
      },
      get: async (key, signal, maxBytes) => {
        const bytes = await s3Store.get(key, signal, maxBytes);
        read.push(bytes?.byteLength ?? 0);
        return bytes;
      },
    };
    const { wrapped, runs } = charge({ largeResults }, receipt);
    const p = payment();
    await wrapped(p);
    const [key] = keys as [string];
    const written = (await s3Store.get(key)) as Uint8Array;
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: Buffer.alloc(8 * 1024 * 1024, 1) }),
    );
    const { wrapped: cold } = charge({ largeResults }, receipt);
    await expect(cold(p)).rejects.toMatchObject({ reason: 'too_large' });
    expect(read).toEqual([written.byteLength + 1]);
    expect(runs).toHaveLength(1);
  });
});
