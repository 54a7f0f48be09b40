import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import { jsonMeaning } from '../batch/identify.js';
import { type BatchSource, batchRunner, type JobsOptions } from '../batch/runner.js';

/** Options of {@link kinesisJobs}: the options of every job runner, with Kinesis records. */
export type KinesisJobsOptions<Result = unknown> = JobsOptions<KinesisStreamRecord, Result>;

/** A Lambda handler for Kinesis events with partial batch responses (`ReportBatchItemFailures`). */
export type KinesisJobsHandler = (
  event: KinesisStreamEvent,
  context: Context,
) => Promise<KinesisStreamBatchResponse>;

/**
 * A record's data, decoded from base64 to text (UTF-8).
 *
 * @example
 * const order = JSON.parse(kinesisData(record));
 */
export function kinesisData(record: KinesisStreamRecord): string {
  return Buffer.from(record.kinesis.data, 'base64').toString('utf8');
}

/**
 * The two kinds of job key a Kinesis job can have. A retried batch redelivers the same records, so
 * `eventId` dedups retries; a producer that puts the same work twice makes two records, so a business id
 * from the data (`fromData`) is the better key when the producer may retry.
 *
 * @example
 * jobKey: kinesisJobKeys.fromData((order) => (order as { orderId: string }).orderId)
 */
export const kinesisJobKeys = {
  /** The record's own id (`eventID`: shard and sequence number): the same on every retry of the batch. */
  eventId: (record: KinesisStreamRecord): string => record.eventID,
  /** A business id picked from the record's data, parsed as JSON (or the text when it is not JSON). */
  fromData:
    (pick: (data: unknown) => string | number | undefined) =>
    (record: KinesisStreamRecord): string | number | undefined =>
      pick(jsonMeaning(kinesisData(record))),
};

// https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
// Lambda retries from the lowest reported sequence number, so each partition key reports its first failure.
const kinesisSource: BatchSource<KinesisStreamEvent, KinesisStreamRecord, string> = {
  door: 'kinesisJobs',
  expected: 'a Kinesis event with a `Records` array',
  records: (event) => (Array.isArray(event.Records) ? event.Records : undefined),
  owner: (record) => record.eventID,
  failure: (record) => record.kinesis.sequenceNumber,
  // Kinesis orders records per partition key within the shard a batch comes from.
  unit: (record) => record.kinesis.partitionKey,
  reportsRestOfUnit: false,
  reopens: () => false,
  meaning: (record) => jsonMeaning(kinesisData(record)),
};

/**
 * Makes each Kinesis **job** run once: a Lambda handler (plain, or inside `middy()`) that collapses duplicates
 * of a batch before any I/O, runs the records of each partition key in order, and answers with a partial batch
 * response naming the first failed record of each partition key, so Lambda retries from there
 * (docs/protocol.md section 6). Enable `ReportBatchItemFailures` on the event source mapping.
 *
 * @example
 * export const handler = kinesisJobs({
 *   store: new DynamoDBStore({ tableName: process.env.IDEMPOTENCY_TABLE! }),
 *   scope: 'ship-order',
 *   org: 'acme',
 *   jobKey: kinesisJobKeys.fromData((order) => (order as { orderId: string }).orderId),
 *   processRecord: async (record) => ship(JSON.parse(kinesisData(record))),
 * });
 */
export function kinesisJobs<Result = unknown>(options: KinesisJobsOptions<Result>): KinesisJobsHandler {
  return batchRunner(kinesisSource, options);
}
