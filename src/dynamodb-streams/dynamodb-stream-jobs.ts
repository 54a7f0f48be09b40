import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type BatchSource, batchRunner, type JobsOptions } from '../batch/runner.js';
import { canonicalJson } from '../core/fingerprint.js';

/** Options of {@link dynamodbStreamJobs}: the options of every job runner, with DynamoDB Streams records. */
export type DynamodbStreamJobsOptions<Result = unknown> = JobsOptions<DynamoDBRecord, Result>;

/** A Lambda handler for DynamoDB Streams events with partial batch responses (`ReportBatchItemFailures`). */
export type DynamodbStreamJobsHandler = (
  event: DynamoDBStreamEvent,
  context: Context,
) => Promise<DynamoDBBatchResponse>;

type Image = NonNullable<NonNullable<DynamoDBRecord['dynamodb']>['NewImage']>;

/**
 * An image (`Keys`, `NewImage`, `OldImage`) as a plain object: `{ orderId: 'o-1', total: 42 }`.
 *
 * @example
 * const order = streamImage(record.dynamodb?.NewImage);
 */
export function streamImage(image: Image | undefined): Record<string, unknown> | undefined {
  // The stream's attribute values have the shape the SDK's unmarshall reads.
  return image === undefined ? undefined : unmarshall(image as Parameters<typeof unmarshall>[0]);
}

/**
 * The two kinds of job key a DynamoDB Streams job can have. A retried batch redelivers the same records, so
 * `eventId` dedups retries; the same change written twice makes two records, so a business id from the new
 * image (`fromNewImage`) is the better key when writers may repeat a change.
 *
 * @example
 * jobKey: dynamodbStreamJobKeys.fromNewImage((order) => order.orderId as string)
 */
export const dynamodbStreamJobKeys = {
  /** The record's own id (`eventID`): the same on every retry of the batch. */
  eventId: (record: DynamoDBRecord): string | undefined => record.eventID,
  /** A business id picked from the new image (absent on `REMOVE`: such a record fails alone). */
  fromNewImage:
    (pick: (image: Record<string, unknown>) => string | number | undefined) =>
    (record: DynamoDBRecord): string | number | undefined => {
      const image = streamImage(record.dynamodb?.NewImage);
      return image === undefined ? undefined : pick(image);
    },
};

// https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
// Lambda retries from the lowest reported sequence number, so each item reports its first failure.
const dynamodbStreamSource: BatchSource<DynamoDBStreamEvent, DynamoDBRecord, string> = {
  door: 'dynamodbStreamJobs',
  expected: 'a DynamoDB Streams event with a `Records` array',
  records: (event) => (Array.isArray(event.Records) ? event.Records : undefined),
  owner: (record) => record.eventID ?? record.dynamodb?.SequenceNumber ?? '',
  failure: (record) => record.dynamodb?.SequenceNumber ?? '',
  // A stream orders the changes of one item; the item is its key.
  unit: (record) => canonicalJson(record.dynamodb?.Keys ?? {}),
  reportsRestOfUnit: false,
  reopens: () => false,
  // What changed, not the whole stream record (its ids and timestamps differ on every write).
  meaning: (record) => ({
    keys: streamImage(record.dynamodb?.Keys),
    newImage: streamImage(record.dynamodb?.NewImage),
  }),
};

/**
 * Makes each DynamoDB Streams **job** run once: a Lambda handler (plain, or inside `middy()`) that collapses
 * duplicates of a batch before any I/O, runs the changes of each item in order, and answers with a partial
 * batch response naming the first failed record of each item, so Lambda retries from there
 * (docs/protocol.md section 6). Enable `ReportBatchItemFailures` on the event source mapping.
 *
 * @example
 * export const handler = dynamodbStreamJobs({
 *   store: new DynamoDBStore({ tableName: process.env.IDEMPOTENCY_TABLE! }),
 *   scope: 'index-order',
 *   org: (record) => streamImage(record.dynamodb?.NewImage)?.orgId as string,
 *   jobKey: dynamodbStreamJobKeys.eventId,
 *   processRecord: async (record) => search.index(streamImage(record.dynamodb?.NewImage)),
 * });
 */
export function dynamodbStreamJobs<Result = unknown>(
  options: DynamodbStreamJobsOptions<Result>,
): DynamodbStreamJobsHandler {
  return batchRunner(dynamodbStreamSource, options);
}
