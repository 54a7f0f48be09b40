/**
 * Scenarios 1 to 3 for the stream sources, end to end: Kinesis on kinesalite, DynamoDB Streams on DynamoDB
 * Local, and Kafka on a topic kept in this process (no broker is available here), read by event source mappings with Lambda's checkpoint rules (test/support/stream-poller.ts) that
 * invoke a function of several Node processes (`fixtures/stream-worker.ts`, one Lambda instance each) on one
 * idempotency table. Each job's side effect adds 1 to a counter table: every job must run exactly once.
 *
 * 1. Many processes: two mappings on the same stream (each record delivered at least twice, at once, to
 *    different processes, as at-least-once delivery allows) and producer retries (a tenth of the jobs written
 *    twice, to another partition key or item).
 * 2. A crash mid-batch: the process running a batch is killed (SIGKILL) while a job holds its lease; the
 *    mapping retries the batch on another instance, which waits out the lease and runs the job once.
 * 3. 5% store faults on every instance's store client (one attempt per call), strict fail-closed.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { LOCAL_CLIENT_CONFIG } from '../support/dynamodb-local.js';
import {
  dynamodbStreamReader,
  EventSourceMapping,
  KafkaTopic,
  type Kinesalite,
  kinesisReader,
  startKinesalite,
  until,
} from '../support/stream-poller.js';
import type { StreamJob, StreamWorkerInput } from './fixtures/stream-worker.js';
import { StreamFunction } from './stream-function.js';
import {
  cleanWorkDir,
  createEffectsTable,
  load,
  readEffects,
  readRecords,
  report,
  SecretLedger,
  signalCounts,
  stopAll,
  tally,
} from './support.js';

const endpoint = inject('dynamoEndpoint');
const { client } = localClient();
const streamsClient = new DynamoDBStreamsClient({ ...LOCAL_CLIENT_CONFIG, endpoint });
const secrets = new SecretLedger();
const UNITS = 20;
/** How long a mapping may take to deliver a scenario's records, generous for a loaded 2-core machine. */
const DEADLINE_MS = 240_000;
let kinesis: Kinesalite;
const running: { stop(): Promise<unknown> }[] = [];
const markers: string[] = [];

beforeAll(async () => {
  kinesis = await startKinesalite();
});
afterAll(async () => {
  await Promise.all(running.map((thing) => thing.stop()));
  await stopAll();
  await kinesis?.stop();
  client.destroy();
  streamsClient.destroy();
  cleanWorkDir();
  for (const marker of markers) rmSync(marker, { force: true });
});

/** One stream under test: how jobs are written to it and how a mapping reads it. */
interface Stream {
  write(jobs: readonly { job: StreamJob; unit: number }[]): Promise<void>;
  mapping(invoke: (event: unknown) => Promise<unknown>, batchSize: number): EventSourceMapping<unknown>;
}

const SOURCES = [
  {
    name: 'kinesis',
    async create(): Promise<Stream> {
      const stream = `rel-${randomUUID()}`;
      await kinesis.createStream(stream, 4);
      return {
        async write(jobs) {
          for (let start = 0; start < jobs.length; start += 100) {
            const { FailedRecordCount } = await kinesis.client.send(
              new PutRecordsCommand({
                StreamName: stream,
                Records: jobs.slice(start, start + 100).map(({ job, unit }) => ({
                  PartitionKey: `customer-${unit}`,
                  Data: Buffer.from(JSON.stringify(job)),
                })),
              }),
            );
            expect(FailedRecordCount ?? 0).toBe(0);
          }
        },
        mapping: (invoke, batchSize) =>
          new EventSourceMapping({
            reader: kinesisReader(kinesis.client, stream),
            invoke,
            batchSize,
            deadlineMs: DEADLINE_MS,
          }),
      };
    },
  },
  {
    // No Kafka broker runs here: the topic is kept in this process, read with the MSK mapping's rules.
    name: 'kafka',
    async create(): Promise<Stream> {
      const topic = new KafkaTopic(`rel-${randomUUID()}`, 4);
      return {
        async write(jobs) {
          for (const { job, unit } of jobs) {
            topic.append(unit % 4, {
              key: `customer-${unit}`,
              value: JSON.stringify(job),
              headers: { 'org-id': job.org },
            });
          }
        },
        mapping: (invoke, batchSize) =>
          new EventSourceMapping({ reader: topic.reader(), invoke, batchSize, deadlineMs: DEADLINE_MS }),
      };
    },
  },
  {
    name: 'dynamodb-streams',
    async create(): Promise<Stream> {
      const tableName = `rel-orders-${randomUUID()}`;
      const created = await client.send(
        new CreateTableCommand({
          TableName: tableName,
          AttributeDefinitions: [{ AttributeName: 'item', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'item', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
          StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
        }),
      );
      const streamArn = created.TableDescription?.LatestStreamArn as string;
      return {
        async write(jobs) {
          for (const { job, unit } of jobs) {
            await client.send(
              new PutItemCommand({
                TableName: tableName,
                Item: {
                  item: { S: `order-${unit}` },
                  jobKey: { S: job.jobKey },
                  n: { N: String(job.n) },
                  org: { S: job.org },
                },
              }),
            );
          }
        },
        mapping: (invoke, batchSize) =>
          new EventSourceMapping({
            reader: dynamodbStreamReader(streamsClient, streamArn),
            invoke,
            batchSize,
            deadlineMs: DEADLINE_MS,
          }),
      };
    },
  },
] as const;

/** `count` jobs with secret keys; each written once to unit `n % UNITS`, and a tenth again to the next unit. */
function jobsAndWrites(count: number, retries: boolean) {
  const jobs: StreamJob[] = Array.from({ length: count }, (_, n) => ({
    jobKey: secrets.next('stream-job'),
    n,
    org: 'acme',
  }));
  const writes = jobs.map((job) => ({ job, unit: job.n % UNITS }));
  if (retries) {
    for (const job of jobs.filter((j) => j.n % 10 === 3)) writes.push({ job, unit: (job.n + 1) % UNITS });
  }
  return { jobs, writes };
}

async function tables() {
  return {
    tableName: await createIdempotencyTable(client, 'rel-streams'),
    effectsTable: await createEffectsTable(client),
  };
}

/** Waits until every job's effect is counted and every mapping checkpointed past every record. */
async function drain(
  effectsTable: string,
  jobs: readonly StreamJob[],
  records: number,
  mappings: readonly EventSourceMapping<unknown>[],
) {
  await until(
    async () =>
      mappings.every((mapping) => mapping.caughtUp(records)) &&
      (await readEffects(client, effectsTable)).size === jobs.length,
    { timeoutMs: DEADLINE_MS, mappings, what: 'every job run and every mapping caught up' },
  );
  await Promise.all(mappings.map((mapping) => mapping.stop()));
}

const sum = (values: Iterable<number>) => [...values].reduce((total, value) => total + value, 0);

describe.each(SOURCES)('$name through an event source mapping', (source) => {
  const JOBS = load(200, 1_000);

  it(`runs each of ${JOBS} jobs exactly once with 4 processes, 2 mappings and producer retries`, async () => {
    const stream = await source.create();
    const { tableName, effectsTable } = await tables();
    const { jobs, writes } = jobsAndWrites(JOBS, true);
    const fn = new StreamFunction({
      instances: 4,
      input: () =>
        ({ endpoint, tableName, effectsTable, lockTtlSeconds: 30, workMs: 5 }) satisfies StreamWorkerInput,
    });
    running.push({ stop: () => fn.close() });
    await fn.start();
    await stream.write(writes.slice(0, writes.length / 2));
    const mappings = [0, 1].map(() => stream.mapping((event) => fn.invoke(event), 50));
    for (const mapping of mappings) {
      running.push(mapping);
      mapping.start();
    }
    await stream.write(writes.slice(writes.length / 2));
    await drain(effectsTable, jobs, writes.length, mappings);
    await fn.close();

    const counted = tally(
      await readEffects(client, effectsTable),
      jobs.map((job) => `k${job.n}`),
    );
    const signals = signalCounts(fn.lines);
    const records = await readRecords(client, tableName);
    report(`streams-1-${source.name}`, {
      processes: 4,
      mappings: 2,
      jobs: JOBS,
      records: writes.length,
      deliveries: sum(mappings.flatMap((mapping) => [...mapping.deliveries.values()])),
      invocations: sum(mappings.map((mapping) => mapping.invocations)),
      partialRetries: sum(mappings.map((mapping) => mapping.retries.partial)),
      ...counted,
      signals,
    });

    expect(counted).toEqual({ once: JOBS, lost: 0, duplicated: 0 });
    expect(signals.first_execution).toBe(JOBS);
    expect(records).toHaveLength(JOBS);
    expect(records.every((record) => record.status === 'COMPLETED')).toBe(true);
    expect(secrets.leaks(fn.lines)).toEqual([]);
  }, 300_000);

  it('runs every job once after the process running a batch is killed mid-batch', async () => {
    const count = load(60, 300);
    const stream = await source.create();
    const { tableName, effectsTable } = await tables();
    const { jobs, writes } = jobsAndWrites(count, false);
    const victim = jobs[Math.floor(count / 2)] as StreamJob;
    const base = { endpoint, tableName, effectsTable, lockTtlSeconds: 2, concurrency: 1 };
    const hangMarker = join(tmpdir(), `idemkit-hang-${randomUUID()}`);
    markers.push(hangMarker);
    // One job at a time, so the killed process holds one lease and no side effect is half done.
    const fn = new StreamFunction({
      instances: 3,
      input: () => ({ ...base, hangOn: victim.jobKey, hangMarker }) satisfies StreamWorkerInput,
    });
    running.push({ stop: () => fn.close() });
    await fn.start();
    await stream.write(writes);
    const mapping = stream.mapping((event) => fn.invoke(event), 25);
    running.push(mapping);
    mapping.start();

    await Promise.any(fn.instances.map((worker) => worker.line('CLAIMED', 120_000)));
    const holder = fn.instances.find((worker) => worker.lines.includes('CLAIMED'));
    await holder?.kill();
    await drain(effectsTable, jobs, writes.length, [mapping]);
    await fn.close();

    const effects = await readEffects(client, effectsTable);
    const counted = tally(
      effects,
      jobs.map((job) => `k${job.n}`),
    );
    const signals = signalCounts(fn.lines);
    report(`streams-2-${source.name}`, {
      jobs: count,
      killed: fn.deaths,
      wholeBatchRetries: mapping.retries.whole,
      partialRetries: mapping.retries.partial,
      ...counted,
      signals,
    });

    expect(fn.deaths).toBe(1);
    expect(mapping.retries.whole).toBeGreaterThanOrEqual(1);
    expect(effects.get(`k${victim.n}`)).toBe(1);
    expect(counted).toEqual({ once: count, lost: 0, duplicated: 0 });
    expect((await readRecords(client, tableName)).every((record) => record.status === 'COMPLETED')).toBe(
      true,
    );
    expect(secrets.leaks(fn.lines)).toEqual([]);
  }, 300_000);

  it(`runs each of ${JOBS} jobs exactly once with 5% store faults, strict fail-closed`, async () => {
    const stream = await source.create();
    const { tableName, effectsTable } = await tables();
    const { jobs, writes } = jobsAndWrites(JOBS, true);
    const fn = new StreamFunction({
      instances: 4,
      input: (instance) =>
        ({
          endpoint,
          tableName,
          effectsTable,
          lockTtlSeconds: 2,
          faultRate: 0.05,
          faultSeed: 3_000 + instance,
          strictFailClosed: true,
        }) satisfies StreamWorkerInput,
    });
    running.push({ stop: () => fn.close() });
    await fn.start();
    await stream.write(writes);
    const mapping = stream.mapping((event) => fn.invoke(event), 50);
    running.push(mapping);
    mapping.start();
    await drain(effectsTable, jobs, writes.length, [mapping]);
    const results = await fn.close();

    const counted = tally(
      await readEffects(client, effectsTable),
      jobs.map((job) => `k${job.n}`),
    );
    const injected: Record<string, number> = {};
    const byCommand: Record<string, number> = {};
    for (const { faults } of results) {
      for (const [kind, times] of Object.entries(faults?.injected ?? {}))
        injected[kind] = (injected[kind] ?? 0) + times;
      for (const [name, times] of Object.entries(faults?.byCommand ?? {}))
        byCommand[name] = (byCommand[name] ?? 0) + times;
    }
    const records = await readRecords(client, tableName);
    const signals = signalCounts(fn.lines);
    report(`streams-3-${source.name}`, {
      jobs: JOBS,
      records: writes.length,
      calls: sum(results.map((result) => result.faults?.calls ?? 0)),
      injected,
      byCommand,
      invocations: mapping.invocations,
      partialRetries: mapping.retries.partial,
      ...counted,
      leftInProgress: records.filter((record) => record.status === 'IN_PROGRESS').length,
      signals,
    });

    expect(sum(Object.values(injected))).toBeGreaterThan(0);
    expect(counted).toEqual({ once: JOBS, lost: 0, duplicated: 0 });
    expect(secrets.leaks(fn.lines)).toEqual([]);
  }, 300_000);
});
