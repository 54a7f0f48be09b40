/**
 * Scenario 1: many processes, one table. Four Node processes (four Lambda instances) each fire concurrent
 * invocations over the same 50 keys, through the HTTP middleware and through the SQS job runner. Each
 * side effect adds 1 to a counter table: every key's effect must happen exactly once.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import type { SqsWorkerInput } from './fixtures/sqs-worker.js';
import { httpLoad } from './http-load.js';
import {
  createEffectsTable,
  load,
  newJobs,
  readEffects,
  readRecords,
  report,
  resultOf,
  SecretLedger,
  signalCounts,
  sqsRecord,
  startWorker,
  stopAll,
  tally,
} from './support.js';

const PROCESSES = 4;
const KEYS = 50;
const INVOCATIONS = load(100, 200);

const { client } = localClient();
const endpoint = inject('dynamoEndpoint');
const secrets = new SecretLedger();

beforeAll(() => undefined);
afterAll(async () => {
  await stopAll();
  client.destroy();
});

describe('four processes on one table', () => {
  it(`run each of ${KEYS} HTTP keys exactly once under ${PROCESSES} x ${INVOCATIONS} concurrent requests`, async () => {
    const tableName = await createIdempotencyTable(client, 'rel-many-http');
    const run = await httpLoad({
      endpoint,
      client,
      secrets,
      stores: Array.from({ length: PROCESSES }, () => ({ tableName })),
      keyCount: KEYS,
      invocations: INVOCATIONS,
    });
    const { answers, counted, statuses, signals } = run;
    report('1-http', {
      processes: PROCESSES,
      invocations: answers.length,
      keys: KEYS,
      ...counted,
      statuses,
      signals,
    });

    expect(answers).toHaveLength(PROCESSES * INVOCATIONS);
    expect(counted).toEqual({ once: KEYS, lost: 0, duplicated: 0 });
    expect(run.effects.size).toBe(KEYS);
    expect(Object.keys(statuses).every((status) => status === '201' || status === '409')).toBe(true);
    expect(run.oneRunPerKey).toBe(true);
    expect(signals.first_execution).toBe(KEYS);
    expect(signals.lease_lost ?? 0).toBe(0);
    expect((await readRecords(client, tableName)).every((record) => record.status === 'COMPLETED')).toBe(
      true,
    );
    expect(secrets.leaks(run.lines)).toEqual([]);
  }, 180_000);

  it(`run each of ${KEYS} SQS jobs exactly once under ${PROCESSES} x ${INVOCATIONS} concurrent batches`, async () => {
    const tableName = await createIdempotencyTable(client, 'rel-many-sqs');
    const effectsTable = await createEffectsTable(client);
    const jobs = newJobs(secrets, KEYS);
    // Each batch holds 3 messages: jobs overlap inside batches, across batches and across processes.
    const batchesOf = (p: number): SQSEvent[] =>
      Array.from({ length: INVOCATIONS }, (_, i) => ({
        Records: [0, 1, 2].map((j) =>
          sqsRecord(jobs[(p * 7 + i * 3 + j * 17) % KEYS] as (typeof jobs)[number]),
        ),
      }));
    const workers = Array.from({ length: PROCESSES }, (_, p) =>
      startWorker('sqs-worker.ts', {
        mode: 'load',
        endpoint,
        tableName,
        effectsTable,
        lockTtlSeconds: 30,
        batches: batchesOf(p),
        workMs: 20,
      } satisfies SqsWorkerInput),
    );
    await Promise.all(workers.map((worker) => worker.line('ready')));
    for (const worker of workers) worker.send('go');
    const responses = (
      await Promise.all(workers.map((worker) => resultOf<SQSBatchResponse[]>(worker, 120_000)))
    ).flat();

    const effects = await readEffects(client, effectsTable);
    const counted = tally(
      effects,
      jobs.map((job) => `k${job.n}`),
    );
    const failures = responses.reduce((sum, response) => sum + response.batchItemFailures.length, 0);
    const lines = workers.flatMap((worker) => worker.lines);
    const signals = signalCounts(lines);
    report('1-sqs', {
      processes: PROCESSES,
      invocations: responses.length,
      records: responses.length * 3,
      keys: KEYS,
      ...counted,
      reportedFailed: failures,
      signals,
    });

    expect(responses).toHaveLength(PROCESSES * INVOCATIONS);
    expect(counted).toEqual({ once: KEYS, lost: 0, duplicated: 0 });
    expect(effects.size).toBe(KEYS);
    expect(failures).toBe(0);
    expect(signals.first_execution).toBe(KEYS);
    expect((await readRecords(client, tableName)).every((record) => record.status === 'COMPLETED')).toBe(
      true,
    );
    expect(secrets.leaks(lines)).toEqual([]);
  }, 180_000);
});
