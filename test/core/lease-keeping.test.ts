/**
 * Every door keeps its lease alive while its owner runs (docs/protocol.md section 3, step 4): a first execution
 * that runs three times its lock TTL while duplicates keep arriving still runs once, and a lease that another
 * invocation takes over aborts the owner's signal and writes nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import middy from '@middy/core';
import type { Context, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyInProgressError, IdempotencyLeaseLostError } from '../../src/core/errors.js';
import { leaseSignal } from '../../src/core/guard.js';
import { recordKey } from '../../src/core/keys.js';
import { makeIdempotent } from '../../src/core/make-idempotent.js';
import { RecordStatus, type Store } from '../../src/core/types.js';
import { httpIdempotency, httpLeaseSignal } from '../../src/http/index.js';
import { sqsJobs } from '../../src/sqs/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { header, httpEvent, lambdaContext, newKey } from '../http/harness.js';
import {
  eventOf,
  fakeContext,
  gate,
  loadEvent,
  recordingTelemetry,
  reported,
  resent,
} from '../sqs/support.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';

// A lock TTL of 3 s renewed every 250 ms: the lease could only lapse if the event loop stalled for 2.75 s.
const LOCK_TTL_SECONDS = 3;
const RENEW_EVERY_MS = 250;
const RUN_FOR_MS = 3 * LOCK_TTL_SECONDS * 1000;

const { client } = localClient();
let store: DynamoDBStore;

beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'leases'), client });
});
afterAll(() => client.destroy());

const common = (telemetry: ReturnType<typeof recordingTelemetry>, on: Store = store) => ({
  store: on,
  environment: 'test' as const,
  mode: 'enforce' as const,
  lockTtlSeconds: LOCK_TTL_SECONDS,
  renewEvery: RENEW_EVERY_MS,
  telemetry: telemetry.telemetry,
});

/** Holds the first execution open until it has run `RUN_FOR_MS` by the clock, however slow the machine. */
async function runLong(): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < RUN_FOR_MS) await sleep(50);
}

/** Sends duplicates until `done` resolves, and keeps each answer with the time it was sent. */
async function duplicatesUntil<T>(done: Promise<unknown>, send: () => Promise<T>) {
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  const answers: { readonly at: number; readonly answer: T }[] = [];
  const started = Date.now();
  while (!finished) {
    answers.push({ at: Date.now() - started, answer: await send() });
    await sleep(100);
  }
  return answers;
}

describe.concurrent('a first execution that runs 3x its lock TTL while duplicates keep arriving runs once', () => {
  it('through httpIdempotency: duplicates get 409 while it runs, then the replay; no lease_lost', async () => {
    const telemetry = recordingTelemetry();
    let runs = 0;
    const handler = middy(async () => {
      runs += 1;
      await runLong();
      return { statusCode: 201, body: JSON.stringify({ order: 'o-1' }) };
    }).use(httpIdempotency({ ...common(telemetry), org: 'acme', scope: 'long-order', waitBudgetMs: 50 }));
    const key = newKey();
    const send = () =>
      handler(httpEvent('http', { key, body: { item: 'a' } }) as never, lambdaContext(60_000)) as Promise<{
        statusCode: number;
        headers?: Record<string, string>;
      }>;
    const first = send();
    await untilClaimed(recordKey('acme', 'long-order', key));
    const answers = await duplicatesUntil(first, send);
    expect((await first).statusCode).toBe(201);
    const replay = await send();

    expect(runs).toBe(1);
    expect(answers.filter(({ at }) => at > LOCK_TTL_SECONDS * 1000).length).toBeGreaterThan(0);
    for (const { answer } of answers) {
      expect(
        answer.statusCode === 409 ||
          (answer.statusCode === 201 && header(answer, 'Idempotent-Replayed') === 'true'),
      ).toBe(true);
    }
    expect(header(replay, 'Idempotent-Replayed')).toBe('true');
    expect(telemetry.count('lease_lost')).toBe(0);
  });

  it('through makeIdempotent: duplicates get IdempotencyInProgressError, then the result; no lease_lost', async () => {
    const telemetry = recordingTelemetry();
    let runs = 0;
    const charge = makeIdempotent(
      async (payment: { id: string }) => {
        runs += 1;
        await runLong();
        return { charged: payment.id };
      },
      { ...common(telemetry), scope: 'long-charge', org: 'acme', key: (p) => p.id, waitBudgetMs: 50 },
    );
    const id = newKey();
    const first = charge({ id });
    await untilClaimed(recordKey('acme', 'long-charge', id));
    const answers = await duplicatesUntil(first, () =>
      charge({ id }).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    );

    expect(await first).toEqual({ charged: id });
    expect(runs).toBe(1);
    expect(answers.filter(({ at }) => at > LOCK_TTL_SECONDS * 1000).length).toBeGreaterThan(0);
    for (const { answer } of answers) {
      if ('error' in answer) expect(answer.error).toBeInstanceOf(IdempotencyInProgressError);
      else expect(answer.value).toEqual({ charged: id });
    }
    expect(await charge({ id })).toEqual({ charged: id });
    expect(telemetry.count('lease_lost')).toBe(0);
  });

  it('through sqsJobs: copies from other messages are acknowledged while it runs; no lease_lost', async () => {
    const telemetry = recordingTelemetry();
    let runs = 0;
    const handler = sqsJobs({
      ...common(telemetry),
      scope: 'long-job',
      org: 'acme',
      jobKey: (record) => (JSON.parse(record.body) as { invoiceId: string }).invoiceId,
      processRecord: async () => {
        runs += 1;
        await runLong();
      },
    });
    const invoiceId = newKey();
    const [template] = loadEvent('sqs-standard-batch').Records as [SQSRecord];
    const job: SQSRecord = { ...template, body: JSON.stringify({ invoiceId }) };
    const first = handler(eventOf(job), fakeContext());
    await untilClaimed(recordKey('acme', 'long-job', invoiceId));
    const answers = await duplicatesUntil(first, () => handler(eventOf(resent(job)), fakeContext()));

    expect(reported(await first)).toEqual([]);
    expect(runs).toBe(1);
    expect(answers.filter(({ at }) => at > LOCK_TTL_SECONDS * 1000).length).toBeGreaterThan(0);
    for (const { answer } of answers) expect(reported(answer)).toEqual([]);
    expect(telemetry.count('lease_lost')).toBe(0);
    expect((await store.get(recordKey('acme', 'long-job', invoiceId)))?.status).toBe(RecordStatus.Completed);
  });
});

/** Waits until the first execution holds its lease, read from the table. */
async function untilClaimed(pk: string, on: Store = store): Promise<void> {
  while ((await on.get(pk))?.status !== RecordStatus.InProgress) await sleep(10);
}

/**
 * Takes the lease over as a crashed-owner recovery would (a claim whose clock is past the lease), then waits
 * for the owner's signal to abort: the owner's next renewal finds another token.
 */
async function takeOver(on: MemoryStore, pk: string, signal: () => AbortSignal | undefined): Promise<void> {
  const current = await on.get(pk);
  if (current === undefined) throw new Error('no record to take over');
  await on.claim(
    {
      ...current,
      leaseToken: 'the-new-owner',
      leaseUntil: Date.now() + 60_000,
      attempt: current.attempt + 1,
    },
    { nowMs: (current.leaseUntil ?? 0) + 1 },
  );
  while (signal()?.aborted !== true) await sleep(10);
}

describe('a lease taken over while its owner runs', () => {
  it("aborts leaseSignal() inside makeIdempotent and leaves the new owner's record as it is", async () => {
    const telemetry = recordingTelemetry();
    const memory = new MemoryStore();
    let seen: AbortSignal | undefined;
    const released = gate();
    const charge = makeIdempotent(
      async (_payment: { id: string }) => {
        seen = leaseSignal();
        await released.wait;
        return seen?.reason;
      },
      { ...common(telemetry, memory), scope: 'charge', org: 'acme', key: (p) => p.id },
    );
    const running = charge({ id: 'p-1' });
    await untilClaimed(recordKey('acme', 'charge', 'p-1'), memory);
    await takeOver(memory, recordKey('acme', 'charge', 'p-1'), () => seen);
    released.open();

    expect(await running).toBeInstanceOf(IdempotencyLeaseLostError);
    expect(await memory.get(recordKey('acme', 'charge', 'p-1'))).toMatchObject({
      status: RecordStatus.InProgress,
      leaseToken: 'the-new-owner',
    });
    expect(telemetry.count('lease_lost')).toBe(1);
    expect(leaseSignal()).toBeUndefined();
  });

  it('aborts the signal processRecord gets and acknowledges the job without writing', async () => {
    const telemetry = recordingTelemetry();
    const memory = new MemoryStore();
    let seen: AbortSignal | undefined;
    const released = gate();
    const handler = sqsJobs({
      ...common(telemetry, memory),
      scope: 'job',
      org: 'acme',
      jobKey: () => 'job-1',
      processRecord: async (_record, _context, lease) => {
        seen = lease.signal;
        await released.wait;
      },
    });
    const [template] = loadEvent('sqs-standard-batch').Records as [SQSRecord];
    const running = handler(eventOf(template), fakeContext());
    await untilClaimed(recordKey('acme', 'job', 'job-1'), memory);
    await takeOver(memory, recordKey('acme', 'job', 'job-1'), () => seen);
    released.open();

    expect(reported(await running)).toEqual([]);
    expect((await memory.get(recordKey('acme', 'job', 'job-1')))?.leaseToken).toBe('the-new-owner');
    expect(telemetry.count('lease_lost')).toBe(1);
  });

  it('aborts httpLeaseSignal(context) in the handler and stores nothing', async () => {
    const telemetry = recordingTelemetry();
    const memory = new MemoryStore();
    let seen: AbortSignal | undefined;
    const released = gate();
    const handler = middy(async (_event: unknown, context: Context) => {
      seen = httpLeaseSignal(context);
      await released.wait;
      return { statusCode: 201, body: '{}' };
    }).use(httpIdempotency({ ...common(telemetry, memory), org: 'acme', scope: 'order' }));
    const context = lambdaContext(60_000);
    const running = handler(httpEvent('http', { key: 'k-1', body: {} }) as never, context);
    await untilClaimed(recordKey('acme', 'order', 'k-1'), memory);
    await takeOver(memory, recordKey('acme', 'order', 'k-1'), () => seen);
    released.open();

    expect(((await running) as { statusCode: number }).statusCode).toBe(201);
    expect(seen?.reason).toBeInstanceOf(IdempotencyLeaseLostError);
    expect((await memory.get(recordKey('acme', 'order', 'k-1')))?.leaseToken).toBe('the-new-owner');
    expect(telemetry.count('lease_lost')).toBe(1);
    // The request is over: its context no longer maps to a signal.
    expect(httpLeaseSignal(context)).toBeUndefined();
  });
});

describe('a first execution shorter than the renewal period', () => {
  it('costs no renewal: two round trips, claim and complete', async () => {
    const counted = localClient();
    const counting = new DynamoDBStore({ tableName: store.tableName, client: counted.client });
    const charge = makeIdempotent(async (_payment: { id: string }) => 'ok', {
      ...common(recordingTelemetry(), counting),
      renewEvery: undefined,
      scope: 'quick',
      org: 'acme',
      key: (p) => p.id,
    });
    await charge({ id: newKey() });
    expect(counted.counter.calls).toEqual(['PutItemCommand', 'UpdateItemCommand']);
    counted.client.destroy();
  });
});
