/**
 * Lambda Managed Instances run several invocations at once in one process. 50 interleaved invocations of
 * each door against one engine keep their leases, correlation ids, remaining times and answers apart.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import middy from '@middy/core';
import type { Context, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseSignal } from '../../src/core/guard.js';
import { recordKey } from '../../src/core/keys.js';
import { makeIdempotent } from '../../src/core/make-idempotent.js';
import { RecordStatus, type Store } from '../../src/core/types.js';
import { httpIdempotency, httpLeaseSignal } from '../../src/http/index.js';
import { sqsJobs } from '../../src/sqs/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { header, httpEvent, lambdaContext, newKey } from '../http/harness.js';
import { eventOf, fakeContext, loadEvent, recordingTelemetry, reported } from '../sqs/support.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';

const INVOCATIONS = 50;
const { client } = localClient();
let store: DynamoDBStore;

beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'concurrent'), client });
});
afterAll(() => client.destroy());

/** A distinct remaining time per invocation, all under the lock TTL, so each lease length tells whose it is. */
const remainingOf = (index: number) => 20_000 + index * 100;
const indices = Array.from({ length: INVOCATIONS }, (_, index) => index);

/** Reads the lease an invocation holds while it runs, as the store has it. */
async function leaseLength(on: Store, pk: string): Promise<number> {
  const record = await on.get(pk);
  expect(record?.status).toBe(RecordStatus.InProgress);
  return (record?.leaseUntil ?? 0) - (record?.createdAt ?? 0);
}

const common = (telemetry: ReturnType<typeof recordingTelemetry>) => ({
  store,
  environment: 'test' as const,
  mode: 'enforce' as const,
  lockTtlSeconds: 60,
  telemetry: telemetry.telemetry,
});

describe(`${INVOCATIONS} interleaved invocations in one process`, () => {
  it('through httpIdempotency keep their leases, correlation ids, remaining times and answers apart', async () => {
    const telemetry = recordingTelemetry();
    const seen = new Map<number, { length: number; signal: AbortSignal | undefined }>();
    const handler = middy(async (event: { body: string }, context: Context) => {
      const { index, key } = JSON.parse(event.body) as { index: number; key: string };
      const signal = httpLeaseSignal(context);
      // Yield in a different order than the invocations started, so they interleave.
      await sleep((INVOCATIONS - index) % 7);
      seen.set(index, { length: await leaseLength(store, recordKey('acme', 'interleaved', key)), signal });
      return { statusCode: 201, body: JSON.stringify({ index }) };
    }).use(httpIdempotency({ ...common(telemetry), org: 'acme', scope: 'interleaved' }));
    const keys = indices.map(() => newKey());
    const answers = await Promise.all(
      indices.map((index) => {
        const key = keys[index] as string;
        const context = { ...lambdaContext(), getRemainingTimeInMillis: () => remainingOf(index) };
        const event = httpEvent('http', {
          key,
          body: { index, key },
          headers: { 'x-correlation-id': `corr-${index}` },
        });
        return handler(event as never, context) as Promise<{ statusCode: number; body: string }>;
      }),
    );

    for (const index of indices) {
      const answer = answers[index];
      expect(answer?.statusCode).toBe(201);
      expect(JSON.parse(answer?.body ?? '{}')).toEqual({ index });
      expect(header(answer as never, 'x-correlation-id')).toBe(`corr-${index}`);
      expect(seen.get(index)?.length).toBe(remainingOf(index));
    }
    expect(new Set(indices.map((index) => seen.get(index)?.signal)).size).toBe(INVOCATIONS);
    const firsts = telemetry.signals.filter(({ signal }) => signal === 'first_execution');
    expect(firsts.map(({ facts }) => facts.correlationId).sort()).toEqual(
      indices.map((index) => `corr-${index}`).sort(),
    );
  });

  it('through makeIdempotent keep their leases, remaining times, signals and results apart', async () => {
    const telemetry = recordingTelemetry();
    const seen = new Map<number, { length: number; signal: AbortSignal | undefined }>();
    const keys = indices.map(() => newKey());
    const work = makeIdempotent(
      async (index: number, _context: Context) => {
        const signal = leaseSignal();
        await sleep((INVOCATIONS - index) % 7);
        // The signal is still this invocation's after other invocations ran in between.
        expect(leaseSignal()).toBe(signal);
        seen.set(index, {
          length: await leaseLength(store, recordKey('acme', 'interleaved-fn', keys[index] as string)),
          signal,
        });
        return { index };
      },
      { ...common(telemetry), scope: 'interleaved-fn', org: 'acme', key: (index) => keys[index] as string },
    );
    const results = await Promise.all(
      indices.map((index) =>
        work(index, { ...lambdaContext(), getRemainingTimeInMillis: () => remainingOf(index) }),
      ),
    );

    expect(results).toEqual(indices.map((index) => ({ index })));
    for (const index of indices) expect(seen.get(index)?.length).toBe(remainingOf(index));
    expect(new Set(indices.map((index) => seen.get(index)?.signal)).size).toBe(INVOCATIONS);
  });

  it('through sqsJobs keep their leases, remaining times and batch answers apart', async () => {
    const telemetry = recordingTelemetry();
    const seen = new Map<string, { length: number; signal: AbortSignal }>();
    const [template] = loadEvent('sqs-standard-batch').Records as [SQSRecord];
    const handler = sqsJobs({
      ...common(telemetry),
      scope: 'interleaved-job',
      org: 'acme',
      jobKey: (record) => (JSON.parse(record.body) as { job: string }).job,
      processRecord: async (record, _context, lease) => {
        const { job, index, fail } = JSON.parse(record.body) as { job: string; index: number; fail: boolean };
        await sleep((INVOCATIONS - index) % 7);
        seen.set(job, {
          length: await leaseLength(store, recordKey('acme', 'interleaved-job', job)),
          signal: lease.signal,
        });
        if (fail) throw new Error('this one fails');
      },
    });
    // Each invocation gets a batch of two jobs; every third invocation's second job fails.
    const batches = indices.map((index) =>
      [0, 1].map((part) => ({
        ...template,
        messageId: `m-${index}-${part}`,
        body: JSON.stringify({ job: `job-${newKey()}`, index, fail: part === 1 && index % 3 === 0 }),
      })),
    );
    const answers = await Promise.all(
      indices.map((index) =>
        handler(eventOf(...(batches[index] as SQSRecord[])), {
          ...fakeContext(),
          getRemainingTimeInMillis: () => remainingOf(index),
        }),
      ),
    );

    for (const index of indices) {
      expect(reported(answers[index] as never)).toEqual(index % 3 === 0 ? [`m-${index}-1`] : []);
      for (const record of batches[index] as SQSRecord[]) {
        const { job } = JSON.parse(record.body) as { job: string };
        expect(seen.get(job)?.length).toBe(remainingOf(index));
      }
    }
    expect(new Set([...seen.values()].map((entry) => entry.signal)).size).toBe(2 * INVOCATIONS);
  });
});
