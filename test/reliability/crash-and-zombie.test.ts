/**
 * Scenario 2: crash and zombie. A process killed (SIGKILL) while it holds leases: once they expire, exactly
 * one other invocation re-runs each operation. A process paused (SIGSTOP) past its lease and resumed
 * (SIGCONT): its complete and its release are rejected by the lease token, counted as `lease_lost`, and
 * the record written by the invocation that took over is left exactly as it was.
 */
import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { silentTelemetry } from '../../src/core/telemetry.js';
import { httpIdempotency } from '../../src/http/index.js';
import { sqsJobs } from '../../src/sqs/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { httpEvent, lambdaContext } from '../http/harness.js';
import { fakeContext, redelivered, reported, resent } from '../sqs/support.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import type { HttpAnswer, HttpWorkerInput } from './fixtures/http-worker.js';
import type { SqsWorkerInput } from './fixtures/sqs-worker.js';
import {
  createEffectsTable,
  newJobs,
  readEffects,
  recordEffect,
  report,
  resultOf,
  SecretLedger,
  signalCounts,
  sleep,
  sqsRecord,
  startWorker,
  stopAll,
  tally,
} from './support.js';

const LOCK_TTL_SECONDS = 1;
const { client } = localClient();
const endpoint = inject('dynamoEndpoint');
const secrets = new SecretLedger();

afterAll(async () => {
  await stopAll();
  client.destroy();
});

/** An HTTP Lambda in this process on the same table: the invocations that survive the crash. */
function survivor(tableName: string, effectsTable: string, waitBudgetMs: number) {
  const handler = middy(async (event: { body: string }) => {
    const { index, result } = JSON.parse(event.body) as { index: number; result: string };
    await recordEffect(client, effectsTable, `k${index}`);
    return { statusCode: 201, body: JSON.stringify({ run: randomUUID(), result }) };
  }).use(
    httpIdempotency<Record<string, unknown>>({
      store: new DynamoDBStore({ tableName, client }),
      scope: 'create-order',
      org: 'acme',
      environment: 'test',
      mode: 'enforce',
      lockTtlSeconds: LOCK_TTL_SECONDS,
      waitBudgetMs,
      telemetry: silentTelemetry,
    }),
  );
  return async (key: string, index: number, payload: string) => {
    const response = (await handler(
      httpEvent('http', { key, body: { index, payload } }) as never,
      lambdaContext(30_000),
    )) as { statusCode: number; body: string };
    return { status: response.statusCode, run: (JSON.parse(response.body) as { run?: string }).run };
  };
}

/** Sleeps until every record of `pks` has a lease that ended (read from the table, not guessed). */
async function untilLeasesEnd(store: DynamoDBStore, pks: readonly string[]): Promise<void> {
  for (const pk of pks) {
    const record = await store.get(pk);
    const wait = (record?.leaseUntil ?? 0) - Date.now();
    if (wait > 0) await sleep(wait + 50);
  }
}

function httpInput(tableName: string, effectsTable: string, count: number): HttpWorkerInput {
  return {
    mode: 'hold',
    endpoint,
    tableName,
    effectsTable,
    lockTtlSeconds: LOCK_TTL_SECONDS,
    waitBudgetMs: 0,
    keys: Array.from({ length: count }, () => secrets.next('crash-key')),
    payloads: Array.from({ length: count }, () => secrets.next('crash-payload')),
    results: Array.from({ length: count }, () => secrets.next('crash-result')),
  };
}

describe('a process killed mid-operation', () => {
  it('has each of its HTTP operations re-run exactly once by the survivors after its leases expire', async () => {
    const tableName = await createIdempotencyTable(client, 'rel-crash-http');
    const effectsTable = await createEffectsTable(client);
    const input = httpInput(tableName, effectsTable, 10);
    const worker = startWorker('http-worker.ts', input);
    await Promise.all(input.keys.map((_, index) => worker.line(`CLAIMED ${index}`)));
    await worker.kill();

    const store = new DynamoDBStore({ tableName, client });
    const pks = input.keys.map((key) => recordKey('acme', 'create-order', key));
    // Five retries per key at once, each willing to wait out the dead lease.
    const invoke = survivor(tableName, effectsTable, 10_000);
    const answers = await Promise.all(
      input.keys.flatMap((key, index) =>
        Array.from({ length: 5 }, () =>
          invoke(key, index, input.payloads[index] as string).then((answer) => ({ ...answer, index })),
        ),
      ),
    );

    const effects = await readEffects(client, effectsTable);
    const counted = tally(
      effects,
      input.keys.map((_, index) => `k${index}`),
    );
    const records = await Promise.all(pks.map((pk) => store.get(pk)));
    report('2-sigkill-http', { killedWithLeases: 10, retries: answers.length, ...counted });
    expect(counted).toEqual({ once: 10, lost: 0, duplicated: 0 });
    expect(answers.every((answer) => answer.status === 201)).toBe(true);
    for (const [index] of input.keys.entries()) {
      expect(new Set(answers.filter((a) => a.index === index).map((a) => a.run)).size).toBe(1);
    }
    expect(records.map((record) => [record?.status, record?.attempt])).toEqual(
      pks.map(() => ['COMPLETED', 2]),
    );
    expect(secrets.leaks(worker.lines)).toEqual([]);
  }, 60_000);

  it('has its SQS jobs held failed while the lease lives, then run exactly once by one redelivery', async () => {
    const tableName = await createIdempotencyTable(client, 'rel-crash-sqs');
    const effectsTable = await createEffectsTable(client);
    const jobs = newJobs(secrets, 5);
    const records = jobs.map((job) => sqsRecord(job));
    const worker = startWorker('sqs-worker.ts', {
      mode: 'hold',
      endpoint,
      tableName,
      effectsTable,
      lockTtlSeconds: 2,
      batches: [{ Records: records }],
    } satisfies SqsWorkerInput);
    await Promise.all(jobs.map((job) => worker.line(`CLAIMED ${job.n}`)));
    await worker.kill();

    const store = new DynamoDBStore({ tableName, client });
    const runs: string[] = [];
    const handler = sqsJobs({
      store,
      scope: 'send-invoice-email',
      environment: 'test',
      mode: 'enforce',
      lockTtlSeconds: 2,
      telemetry: silentTelemetry,
      org: (record) => record.messageAttributes.orgId?.stringValue,
      jobKey: (record) => (JSON.parse(record.body) as { jobKey: string }).jobKey,
      processRecord: async (record) => {
        const n = (JSON.parse(record.body) as { n: number }).n;
        runs.push(`k${n}`);
        await recordEffect(client, effectsTable, `k${n}`);
      },
    });
    const pks = jobs.map((job) => recordKey('acme', 'send-invoice-email', job.jobKey));
    const leaseUntil = (await store.get(pks[0] as string))?.leaseUntil ?? 0;
    // The dead process's own messages come back while its leases still live: they must stay failed.
    const early = await handler({ Records: records.map(redelivered) }, fakeContext());
    const earlyWhileLive = Date.now() < leaseUntil;

    await untilLeasesEnd(store, pks);
    // After the lease: the same message redelivered and two producer retries, in three concurrent batches.
    const later = await Promise.all([
      handler({ Records: records.map(redelivered) }, fakeContext()),
      handler({ Records: records.map(resent) }, fakeContext()),
      handler({ Records: records.map(resent) as SQSRecord[] }, fakeContext()),
    ]);

    const effects = await readEffects(client, effectsTable);
    const counted = tally(
      effects,
      jobs.map((job) => `k${job.n}`),
    );
    report('2-sigkill-sqs', { killedWithLeases: 5, redeliveries: 20, ...counted });
    if (earlyWhileLive) expect(reported(early).sort()).toEqual(records.map((r) => r.messageId).sort());
    expect(counted).toEqual({ once: 5, lost: 0, duplicated: 0 });
    expect(later.flatMap(reported)).toEqual([]);
    expect((await Promise.all(pks.map((pk) => store.get(pk)))).map((r) => r?.status)).toEqual(
      pks.map(() => 'COMPLETED'),
    );
  }, 60_000);
});

describe('a process paused past its lease and resumed', () => {
  it('has its HTTP complete and release rejected by the token, counted as lease_lost, with no overwrite', async () => {
    const tableName = await createIdempotencyTable(client, 'rel-zombie-http');
    const effectsTable = await createEffectsTable(client);
    const input = httpInput(tableName, effectsTable, 2);
    const worker = startWorker('http-worker.ts', input);
    await Promise.all([worker.line('CLAIMED 0'), worker.line('CLAIMED 1')]);
    worker.child.kill('SIGSTOP');

    const store = new DynamoDBStore({ tableName, client });
    const pks = input.keys.map((key) => recordKey('acme', 'create-order', key));
    await untilLeasesEnd(store, pks);
    const invoke = survivor(tableName, effectsTable, 0);
    const takeovers = await Promise.all(
      input.keys.map((key, index) => invoke(key, index, input.payloads[index] as string)),
    );
    const afterTakeover = await Promise.all(pks.map((pk) => store.get(pk)));

    worker.child.kill('SIGCONT');
    // Key 0's handler finishes and answers (complete is fenced); key 1's throws (release is fenced).
    worker.send('go 0 respond');
    worker.send('go 1 throw');
    const zombie = await resultOf<HttpAnswer[]>(worker);
    await worker.exited;

    const signals = signalCounts(worker.lines);
    const replays = await Promise.all(
      input.keys.map((key, index) => invoke(key, index, input.payloads[index] as string)),
    );
    report('2-sigstop-http', { paused: 2, signals });
    expect(takeovers.map((answer) => answer.status)).toEqual([201, 201]);
    expect(zombie.map((answer) => answer.status)).toEqual([201, 500]);
    expect(signals.lease_lost).toBe(2);
    expect(signals.released ?? 0).toBe(0);
    expect(await Promise.all(pks.map((pk) => store.get(pk)))).toEqual(afterTakeover);
    expect(replays.map((answer) => answer.run)).toEqual(takeovers.map((answer) => answer.run));
    expect(tally(await readEffects(client, effectsTable), ['k0', 'k1'])).toEqual({
      once: 2,
      lost: 0,
      duplicated: 0,
    });
    expect(secrets.leaks(worker.lines)).toEqual([]);
  }, 60_000);

  it('has its SQS job neither complete nor release the record the redelivery completed', async () => {
    const tableName = await createIdempotencyTable(client, 'rel-zombie-sqs');
    const effectsTable = await createEffectsTable(client);
    const [job] = newJobs(secrets, 1);
    if (job === undefined) throw new Error('no job');
    const record = sqsRecord(job);
    const worker = startWorker('sqs-worker.ts', {
      mode: 'hold',
      endpoint,
      tableName,
      effectsTable,
      lockTtlSeconds: LOCK_TTL_SECONDS,
      batches: [{ Records: [record] }],
    } satisfies SqsWorkerInput);
    await worker.line('CLAIMED 0');
    worker.child.kill('SIGSTOP');

    const store = new DynamoDBStore({ tableName, client });
    const pk = recordKey('acme', 'send-invoice-email', job.jobKey);
    await untilLeasesEnd(store, [pk]);
    const handler = sqsJobs({
      store,
      scope: 'send-invoice-email',
      environment: 'test',
      mode: 'enforce',
      lockTtlSeconds: LOCK_TTL_SECONDS,
      telemetry: silentTelemetry,
      org: (r) => r.messageAttributes.orgId?.stringValue,
      jobKey: (r) => (JSON.parse(r.body) as { jobKey: string }).jobKey,
      processRecord: async () => recordEffect(client, effectsTable, 'k0'),
    });
    const takeover = await handler({ Records: [redelivered(record)] }, fakeContext());
    const afterTakeover = await store.get(pk);

    worker.child.kill('SIGCONT');
    worker.send('go 0 respond');
    const [zombie] = await resultOf<{ batchItemFailures: { itemIdentifier: string }[] }[]>(worker);
    await worker.exited;

    const signals = signalCounts(worker.lines);
    report('2-sigstop-sqs', { paused: 1, signals });
    expect(reported(takeover)).toEqual([]);
    expect(afterTakeover?.status).toBe('COMPLETED');
    expect(signals.lease_lost).toBe(1);
    expect(await store.get(pk)).toEqual(afterTakeover);
    // The zombie's job succeeded, so its message is acknowledged rather than invite a third run.
    expect(zombie?.batchItemFailures).toEqual([]);
    expect(secrets.leaks(worker.lines)).toEqual([]);
  }, 60_000);
});
