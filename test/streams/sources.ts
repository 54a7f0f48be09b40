import { randomUUID } from 'node:crypto';
import type { DynamoDBRecord, KinesisStreamRecord } from 'aws-lambda';
import type { JobsOptions } from '../../src/batch/runner.js';
import {
  type DynamodbStreamJobsOptions,
  dynamodbStreamJobs,
  streamImage,
} from '../../src/dynamodb-streams/index.js';
import { type KafkaEvent, type KafkaJobRecord, kafkaJobs } from '../../src/kafka/index.js';
import { kinesisData, kinesisJobs } from '../../src/kinesis/index.js';
import type { Spec } from './specs.js';

/** What a job's payload carries in every source: which job, for which org, and whether it must fail. */
export interface Payload {
  readonly job: string;
  readonly org: string;
  readonly fail?: 'retryable' | 'permanent';
  readonly version?: number;
}

type Handler = (
  event: never,
  context: never,
) => Promise<{ batchItemFailures: { itemIdentifier: unknown }[] }>;

/** One source as the shared scenarios drive it: how to build its events and how it names failures. */
export interface SourceHarness {
  readonly name: string;
  /** A handler over the given options; `payloadOf` reads the payload back from the source's record. */
  handler(
    options: Omit<JobsOptions<unknown>, 'org' | 'jobKey' | 'processRecord'> & {
      processRecord: (payload: Payload) => Promise<unknown>;
    },
  ): Handler;
  /**
   * A batch of these specs, in order, and the identifier the partial batch response uses for each spec's
   * record. The same specs give the same record ids (a redelivery of the batch).
   */
  event(specs: readonly Spec[]): { readonly event: unknown; readonly failures: readonly unknown[] };
}

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

export const kinesis: SourceHarness = {
  name: 'kinesisJobs',
  handler: ({ processRecord, ...options }) =>
    kinesisJobs({
      ...options,
      org: (record) => payloadOf(kinesisData(record)).org,
      jobKey: (record) => payloadOf(kinesisData(record)).job,
      processRecord: (record) => processRecord(payloadOf(kinesisData(record))),
    }) as unknown as Handler,
  event: (specs) => {
    const Records = specs.map(
      (spec, index): KinesisStreamRecord => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: spec.unit,
          sequenceNumber: sequence(spec, index),
          data: base64(JSON.stringify(spec.payload)),
          approximateArrivalTimestamp: 1764590400 + index,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `shardId-000000000000:${sequence(spec, index)}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::123456789012:role/consumer',
        awsRegion: 'eu-west-1',
        eventSourceARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/jobs',
      }),
    );
    return { event: { Records }, failures: Records.map((record) => record.kinesis.sequenceNumber) };
  },
};

export const dynamodbStreams: SourceHarness = {
  name: 'dynamodbStreamJobs',
  handler: ({ processRecord, ...options }) =>
    dynamodbStreamJobs({
      ...(options as DynamodbStreamJobsOptions),
      org: (record) => imagePayload(record).org,
      jobKey: (record) => imagePayload(record).job,
      // The scenarios put one job in several items; the default fingerprint (keys and new image) would call
      // that a mismatch, which the DynamoDB Streams tests check on their own.
      fingerprint: (record) => imagePayload(record),
      processRecord: (record) => processRecord(imagePayload(record)),
    }) as unknown as Handler,
  event: (specs) => {
    const Records = specs.map(
      (spec, index): DynamoDBRecord => ({
        eventID: `event-${sequence(spec, index)}`,
        eventName: 'MODIFY',
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: 'eu-west-1',
        eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/jobs/stream/2026-12-01T00:00:00.000',
        dynamodb: {
          Keys: { pk: { S: spec.unit } },
          NewImage: {
            pk: { S: spec.unit },
            payload: { S: JSON.stringify(spec.payload) },
          },
          SequenceNumber: sequence(spec, index),
          StreamViewType: 'NEW_IMAGE',
        },
      }),
    );
    return { event: { Records }, failures: Records.map((record) => record.dynamodb?.SequenceNumber) };
  },
};

export const kafka: SourceHarness = {
  name: 'kafkaJobs',
  handler: ({ processRecord, ...options }) =>
    kafkaJobs({
      ...options,
      org: (record: KafkaJobRecord) => record.headers['org-id'],
      jobKey: (record: KafkaJobRecord) => payloadOf(record.value).job,
      processRecord: (record: KafkaJobRecord) => processRecord(payloadOf(record.value)),
    }) as unknown as Handler,
  event: (specs) => {
    const records: KafkaEvent['records'] = {};
    const offsets = new Map<string, number>();
    const failures: unknown[] = [];
    for (const [index, spec] of specs.entries()) {
      const topicPartition = `jobs-${unitNumber(spec.unit)}`;
      const offset = spec.offset ?? (offsets.get(topicPartition) ?? 99) + 1;
      offsets.set(topicPartition, offset);
      const partition = unitNumber(spec.unit);
      failures.push({ partition: `jobs-${partition}`, offset });
      records[topicPartition] ??= [];
      records[topicPartition].push({
        topic: 'jobs',
        partition,
        offset,
        timestamp: 1764590400000 + index,
        timestampType: 'CREATE_TIME',
        key: base64(spec.payload.job),
        value: base64(JSON.stringify(spec.payload)),
        headers: [{ 'org-id': [...Buffer.from(spec.payload.org, 'utf8')] }],
      });
    }
    const event: KafkaEvent = {
      eventSource: 'aws:kafka',
      eventSourceArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/jobs/x',
      bootstrapServers: 'b-1:9092',
      records,
    };
    return { event, failures };
  },
};

/** Units are named `u0`, `u1`...; Kafka makes each a partition of the topic `jobs`. */
const unitNumber = (unit: string) => Number(unit.replace(/\D/g, ''));

export const SOURCES = [kinesis, dynamodbStreams, kafka] as const;

function payloadOf(text: string): Payload {
  return JSON.parse(text) as Payload;
}

function imagePayload(record: DynamoDBRecord): Payload {
  return payloadOf(String(streamImage(record.dynamodb?.NewImage)?.payload));
}

/** A sequence number per spec; a spec keeps its own on a redelivery. */
function sequence(spec: Spec, index: number): string {
  return spec.sequence ?? String(10_000_000 + index).padStart(24, '0');
}

export const freshJob = () => `job-${randomUUID()}`;
