/**
 * One handler for the stream samples, so `npm run invoke` runs each of them: it picks `kinesisJobs`,
 * `dynamodbStreamJobs` or `kafkaJobs` by the event's shape, as three functions on three event source mappings
 * would each get their own. Each is configured as the README's example for its source, on the table in
 * `IDEMPOTENCY_TABLE`; the work itself is a no-op that returns what it handled.
 *
 * @example
 * npx tsx src/cli/main.ts invoke playground/stream-handlers.ts events/kinesis-batch.json --times 2 --store memory
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { dynamodbStreamJobKeys, dynamodbStreamJobs, streamImage } from '../src/dynamodb-streams/index.js';
import { type KafkaEvent, kafkaJobKeys, kafkaJobs } from '../src/kafka/index.js';
import { kinesisData, kinesisJobKeys, kinesisJobs } from '../src/kinesis/index.js';
import { DynamoDBStore } from '../src/stores/dynamodb.js';

const tableName = process.env.IDEMPOTENCY_TABLE;
if (tableName === undefined || tableName === '') {
  throw new Error(
    'Expected the environment variable `IDEMPOTENCY_TABLE` to be set, got nothing; `npm run invoke` sets it.',
  );
}
const store = new DynamoDBStore({ tableName, client: new DynamoDBClient({}) });

interface Order {
  readonly orderId: string;
  readonly orgId: string;
}

const kinesis = kinesisJobs({
  store,
  scope: 'ship-order',
  org: (record) => (JSON.parse(kinesisData(record)) as Order).orgId,
  jobKey: kinesisJobKeys.fromData((data) => (data as Order).orderId),
  processRecord: (record) => ({ shipped: (JSON.parse(kinesisData(record)) as Order).orderId }),
});

const dynamodbStreams = dynamodbStreamJobs({
  store,
  scope: 'index-order',
  // A REMOVE has no new image: its org comes from the old image when the stream carries one.
  org: (record) =>
    (streamImage(record.dynamodb?.NewImage) ?? streamImage(record.dynamodb?.OldImage))?.orgId as
      | string
      | undefined,
  // Each change is a job, removes included: the event id is the same on every retry of the batch.
  jobKey: dynamodbStreamJobKeys.eventId,
  processRecord: (record) => ({ indexed: record.eventName }),
});

const kafka = kafkaJobs({
  store,
  scope: 'capture-payment',
  org: (record) => record.headers['org-id'],
  jobKey: kafkaJobKeys.fromValue((payment) => (payment as { paymentId: string }).paymentId),
  processRecord: (record) => ({ captured: record.offset }),
});

/** Kafka events carry `records` by topic-partition; Kinesis and DynamoDB Streams a `Records` array. */
export async function handler(event: unknown, context: Context): Promise<unknown> {
  const shaped = event as { Records?: { eventSource?: string }[]; eventSource?: string };
  if (shaped.eventSource === 'aws:kafka' || shaped.eventSource === 'SelfManagedKafka') {
    return kafka(event as KafkaEvent, context);
  }
  if (shaped.Records?.[0]?.eventSource === 'aws:dynamodb') return dynamodbStreams(event as never, context);
  return kinesis(event as never, context);
}
