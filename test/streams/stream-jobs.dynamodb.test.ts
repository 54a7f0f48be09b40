/**
 * The batch scenarios sqsJobs passes, run against every stream source on DynamoDB Local, adapted to the
 * stream rules (docs/protocol.md section 6): order per unit, and the first failure of a unit named so Lambda
 * retries from it.
 */
import { readFileSync } from 'node:fs';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { RecordStatus } from '../../src/core/types.js';
import type { KafkaEvent } from '../../src/kafka/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { fakeContext, recordingTelemetry } from '../sqs/support.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { freshJob, type Payload, SOURCES, type SourceHarness } from './sources.js';
import type { Spec } from './specs.js';

const { client, counter } = localClient();
afterAll(() => client.destroy());

let store: DynamoDBStore;
beforeEach(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'streams'), client });
  counter.reset();
});

const SCOPE = 'stream-job';

class RejectedError extends Error {
  override name = 'RejectedError';
}

/** A handler on this test's table; `runs` lists each payload `processRecord` saw, in order. */
function build(source: SourceHarness, options: { mode?: 'enforce' | 'observe' | 'off' } = {}) {
  const recording = recordingTelemetry();
  const runs: Payload[] = [];
  const handler = source.handler({
    store,
    scope: SCOPE,
    environment: 'test',
    mode: options.mode ?? 'enforce',
    telemetry: recording.telemetry,
    isPermanentError: (error) => error instanceof RejectedError,
    processRecord: async (payload) => {
      runs.push(payload);
      if (payload.fail === 'retryable') throw new Error('try again');
      if (payload.fail === 'permanent') throw new RejectedError('never');
      return { done: payload.job };
    },
  });
  const invoke = (event: unknown) => handler(event as never, fakeContext() as never);
  return { invoke, runs, ...recording };
}

const spec = (unit: string, job: string, extra: Partial<Payload> = {}): Spec => ({
  unit,
  payload: { job, org: 'acme', ...extra },
});
const identifiers = (response: { batchItemFailures: { itemIdentifier: unknown }[] }) =>
  response.batchItemFailures.map((failure) => failure.itemIdentifier);
const stored = (job: string, org = 'acme') => store.get(recordKey(org, SCOPE, job));
const sample = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../events/${name}.json`, import.meta.url), 'utf8')) as T;
const loadDynamodbSample = () => sample<DynamoDBStreamEvent>('dynamodb-stream-batch');
const loadKafkaSample = () => sample<KafkaEvent>('msk-batch');

describe.each(SOURCES)('$name', (source) => {
  it('collapses in-batch duplicates before any I/O: 10 records of 3 jobs make 3 claims and 3 runs', async () => {
    const { invoke, runs } = build(source);
    const jobs = [freshJob(), freshJob(), freshJob()];
    const specs = Array.from({ length: 10 }, (_, index) => spec(`u${index % 4}`, jobs[index % 3] as string));
    const { event } = source.event(specs);

    expect(identifiers(await invoke(event))).toEqual([]);
    expect(counter.count('PutItemCommand')).toBe(3);
    expect(runs.map((run) => run.job).sort()).toEqual([...jobs].sort());
  });

  it('runs nothing twice when the same batch is delivered again', async () => {
    const { invoke, runs } = build(source);
    const specs = [spec('u0', freshJob()), spec('u1', freshJob()), spec('u0', freshJob())];
    const { event } = source.event(specs);
    await invoke(event);
    counter.reset();

    expect(identifiers(await invoke(source.event(specs).event))).toEqual([]);
    expect(runs).toHaveLength(3);
    // A completed job costs one failed conditional write and no update.
    expect(counter.count('UpdateItemCommand')).toBe(0);
  });

  it('stops only the failed unit and names its first failed record; other units run on', async () => {
    const { invoke, runs } = build(source);
    const [a1, a2, a3, b1, b2] = [freshJob(), freshJob(), freshJob(), freshJob(), freshJob()];
    const specs = [
      spec('u0', a1 as string),
      spec('u1', b1 as string),
      spec('u0', a2 as string, { fail: 'retryable' }),
      spec('u1', b2 as string),
      spec('u0', a3 as string),
    ];
    const { event, failures } = source.event(specs);

    expect(identifiers(await invoke(event))).toEqual([failures[2]]);
    // a3 comes after the failure in its unit: not run, left for the retry that starts at a2.
    expect(runs.map((run) => run.job)).not.toContain(a3);
    expect(runs.map((run) => run.job).sort()).toEqual([a1, a2, b1, b2].sort());
    expect(await stored(a2 as string)).toBeUndefined();

    // Lambda retries from a2: a1, b1 and b2 are not run again; a2 (now fixed) and a3 run once.
    const retried = source.event(specs.map((s, i) => (i === 2 ? spec('u0', a2 as string) : s)));
    expect(identifiers(await invoke(retried.event))).toEqual([]);
    expect(runs.filter((run) => run.job === a1)).toHaveLength(1);
    expect(runs.filter((run) => run.job === a3)).toHaveLength(1);
  });

  it('marks a permanently failing job FAILED and keeps reporting it without running it again', async () => {
    const { invoke, runs, count } = build(source);
    const poisoned = freshJob();
    const specs = [spec('u0', poisoned, { fail: 'permanent' }), spec('u1', freshJob())];
    const { event, failures } = source.event(specs);

    expect(identifiers(await invoke(event))).toEqual([failures[0]]);
    expect((await stored(poisoned))?.status).toBe(RecordStatus.Failed);
    expect(count('permanent_failure')).toBe(1);
    expect(identifiers(await invoke(source.event(specs).event))).toEqual([failures[0]]);
    expect(runs.filter((run) => run.job === poisoned)).toHaveLength(1);
  });

  it('keeps two orgs with the same job key in two records', async () => {
    const { invoke, runs } = build(source);
    const job = freshJob();
    const { event } = source.event([spec('u0', job), spec('u1', job, { org: 'globex' })]);

    expect(identifiers(await invoke(event))).toEqual([]);
    expect(runs).toHaveLength(2);
    expect((await stored(job))?.org).toBe('acme');
    expect((await stored(job, 'globex'))?.org).toBe('globex');
  });

  it('reports a record whose job key was reused with another meaning, counted as mismatch', async () => {
    const { invoke, count } = build(source);
    const job = freshJob();
    await invoke(source.event([spec('u0', job, { version: 1 })]).event);
    const { event, failures } = source.event([spec('u0', job, { version: 2 })]);

    expect(identifiers(await invoke(event))).toEqual([failures[0]]);
    expect(count('mismatch')).toBe(1);
  });

  it('runs every record in observe mode, counting duplicates without blocking', async () => {
    const { invoke, runs, count } = build(source, { mode: 'observe' });
    const job = freshJob();
    await invoke(source.event([spec('u0', job)]).event);
    expect(identifiers(await invoke(source.event([spec('u0', job)]).event))).toEqual([]);
    expect(runs).toHaveLength(2);
    expect(count('would_replay')).toBe(1);
  });

  it('never calls the store in off mode, and still keeps order per unit', async () => {
    const { invoke, runs } = build(source, { mode: 'off' });
    const [first, second] = [freshJob(), freshJob()];
    const { event, failures } = source.event([
      spec('u0', first, { fail: 'retryable' }),
      spec('u0', second),
      spec('u1', freshJob()),
    ]);

    expect(identifiers(await invoke(event))).toEqual([failures[0]]);
    expect(counter.count()).toBe(0);
    expect(runs.map((run) => run.job)).not.toContain(second);
  });
});

describe('source specifics', () => {
  it('DynamoDB Streams fingerprints what changed: a redelivered change matches, another new image does not', async () => {
    const runs: unknown[] = [];
    const recording = recordingTelemetry();
    const { dynamodbStreamJobs, dynamodbStreamJobKeys, streamImage } = await import(
      '../../src/dynamodb-streams/index.js'
    );
    const handler = dynamodbStreamJobs({
      store,
      scope: SCOPE,
      environment: 'test',
      mode: 'enforce',
      telemetry: recording.telemetry,
      org: 'acme',
      jobKey: dynamodbStreamJobKeys.fromNewImage((image) => image.orderId as string),
      processRecord: async (record) => runs.push(streamImage(record.dynamodb?.NewImage)),
    });
    const { Records } = loadDynamodbSample();
    const [insert, modify] = Records as [DynamoDBRecord, DynamoDBRecord];
    const orderId = freshJob();
    const withOrder = (record: DynamoDBRecord, eventID: string): DynamoDBRecord => ({
      ...record,
      eventID,
      dynamodb: {
        ...record.dynamodb,
        Keys: { orderId: { S: orderId } },
        NewImage: { ...record.dynamodb?.NewImage, orderId: { S: orderId } },
      },
    });
    expect(identifiers(await handler({ Records: [withOrder(insert, 'e-1')] }, fakeContext()))).toEqual([]);
    // The same change delivered again under another event id (a writer repeating it): the same meaning.
    expect(identifiers(await handler({ Records: [withOrder(insert, 'e-2')] }, fakeContext()))).toEqual([]);
    expect(runs).toHaveLength(1);
    // A different new image under the same business id is another meaning: reported as a mismatch.
    const changed = withOrder(modify, 'e-3');
    expect(identifiers(await handler({ Records: [changed] }, fakeContext()))).toEqual([
      changed.dynamodb?.SequenceNumber,
    ]);
    expect(recording.count('mismatch')).toBe(1);
  });

  it('Kafka decodes key, value and headers before the user sees them, and names failures by partition and offset', async () => {
    const { kafkaJobs, kafkaJobKeys } = await import('../../src/kafka/index.js');
    const seen: { key?: string; value: string; headers: Record<string, string> }[] = [];
    const handler = kafkaJobs({
      store,
      scope: SCOPE,
      environment: 'test',
      mode: 'enforce',
      telemetry: recordingTelemetry().telemetry,
      org: (record) => record.headers['org-id'],
      jobKey: kafkaJobKeys.offset,
      processRecord: async (record) => {
        seen.push({ key: record.key, value: record.value, headers: { ...record.headers } });
        if (record.partition === 1) throw new Error('partition 1 is down');
      },
    });
    const event = loadKafkaSample();
    const response = await handler(event, fakeContext());

    expect(seen[0]?.key).toBe('p-3001');
    expect(JSON.parse(seen[0]?.value ?? '')).toEqual({ paymentId: 'p-3001', amountCents: 1250 });
    expect(seen[0]?.headers).toEqual({ 'org-id': 'acme' });
    // The shape Lambda requires for Kafka: an object, never a plain string.
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: { partition: 'payments-1', offset: 7 } }]);
  });
});
