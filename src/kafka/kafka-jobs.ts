import type { Context, MSKEvent, MSKRecord, SelfManagedKafkaEvent } from 'aws-lambda';
import { jsonMeaning } from '../batch/identify.js';
import { type BatchSource, batchRunner, type JobsOptions } from '../batch/runner.js';

/** An Amazon MSK or self-managed Kafka event. */
export type KafkaEvent = MSKEvent | SelfManagedKafkaEvent;

/**
 * A Kafka record as `kafkaJobs` hands it to your functions: key, value and headers decoded from base64 to
 * text (UTF-8). `raw` is the record as Lambda delivered it.
 */
export interface KafkaJobRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly timestampType: MSKRecord['timestampType'];
  /** `undefined` when the record has no key. */
  readonly key: string | undefined;
  /** `''` for a tombstone (no value). */
  readonly value: string;
  /** Each header once; a header sent twice keeps its last value. */
  readonly headers: Readonly<Record<string, string>>;
  readonly raw: MSKRecord;
}

/**
 * How Lambda names a failed Kafka record: the topic-partition and the offset to resume from. A plain string
 * (as for SQS and Kinesis) is not accepted and fails the whole batch.
 */
export interface KafkaItemIdentifier {
  /** `<topic>-<partition>`. */
  readonly partition: string;
  readonly offset: number;
}

/** A Kafka partial batch response. */
export interface KafkaBatchResponse {
  batchItemFailures: { itemIdentifier: KafkaItemIdentifier }[];
}

/** Options of {@link kafkaJobs}: the options of every job runner, with decoded Kafka records. */
export type KafkaJobsOptions<Result = unknown> = JobsOptions<KafkaJobRecord, Result>;

/** A Lambda handler for MSK and self-managed Kafka events with partial batch responses. */
export type KafkaJobsHandler = (event: KafkaEvent, context: Context) => Promise<KafkaBatchResponse>;

/**
 * The two kinds of job key a Kafka job can have. A retried batch redelivers the same offsets, so `offset`
 * (`topic-partition-offset`) dedups retries; a producer that sends the same work twice writes two records, so
 * a business id from the value (`fromValue`) or the record key (`recordKey`) is the better key when the
 * producer may retry.
 *
 * @example
 * jobKey: kafkaJobKeys.fromValue((payment) => (payment as { paymentId: string }).paymentId)
 */
export const kafkaJobKeys = {
  /** `<topic>-<partition>-<offset>`: the record's place in the log, the same on every retry. */
  offset: (record: KafkaJobRecord): string => `${record.topic}-${record.partition}-${record.offset}`,
  /** The record's Kafka key, decoded. */
  recordKey: (record: KafkaJobRecord): string | undefined => record.key,
  /** A business id picked from the value, parsed as JSON (or the text when it is not JSON). */
  fromValue:
    (pick: (value: unknown) => string | number | undefined) =>
    (record: KafkaJobRecord): string | number | undefined =>
      pick(jsonMeaning(record.value)),
};

const text = (base64: string | null | undefined) =>
  base64 === null || base64 === undefined ? undefined : Buffer.from(base64, 'base64').toString('utf8');

function decode(raw: MSKRecord): KafkaJobRecord {
  const headers: Record<string, string> = {};
  for (const header of raw.headers ?? []) {
    for (const [name, bytes] of Object.entries(header)) headers[name] = Buffer.from(bytes).toString('utf8');
  }
  return {
    topic: raw.topic,
    partition: raw.partition,
    offset: raw.offset,
    timestamp: raw.timestamp,
    timestampType: raw.timestampType,
    key: text(raw.key),
    value: text(raw.value) ?? '',
    headers,
    raw,
  };
}

// https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html (provisioned poller mode)
// Lambda resumes each reported topic-partition from the reported offset.
const kafkaSource: BatchSource<KafkaEvent, KafkaJobRecord, KafkaItemIdentifier> = {
  door: 'kafkaJobs',
  expected: 'an MSK or self-managed Kafka event with a `records` object of topic-partitions',
  records: (event) =>
    event.records === null || typeof event.records !== 'object' || Array.isArray(event.records)
      ? undefined
      : Object.values(event.records)
          .flatMap((partition) => (Array.isArray(partition) ? partition : []))
          .map(decode),
  owner: (record) => kafkaJobKeys.offset(record),
  failure: (record) => ({ partition: `${record.topic}-${record.partition}`, offset: record.offset }),
  // Kafka orders records per topic-partition.
  unit: (record) => `${record.topic}-${record.partition}`,
  reportsRestOfUnit: false,
  reopens: () => false,
  meaning: (record) => ({ key: record.key, value: jsonMeaning(record.value) }),
};

/**
 * Makes each Kafka **job** run once (Amazon MSK and self-managed Kafka): a Lambda handler (plain, or inside
 * `middy()`) that decodes each record, collapses duplicates before any I/O, runs the records of each
 * topic-partition in order, and answers with a partial batch response naming the first failed offset of each
 * topic-partition (docs/protocol.md section 6). Enable `ReportBatchItemFailures` (provisioned mode).
 *
 * @example
 * export const handler = kafkaJobs({
 *   store: new DynamoDBStore({ tableName: process.env.IDEMPOTENCY_TABLE! }),
 *   scope: 'capture-payment',
 *   org: (record) => record.headers['org-id'],
 *   jobKey: kafkaJobKeys.fromValue((payment) => (payment as { paymentId: string }).paymentId),
 *   processRecord: async (record) => capture(JSON.parse(record.value)),
 * });
 */
export function kafkaJobs<Result = unknown>(options: KafkaJobsOptions<Result>): KafkaJobsHandler {
  return batchRunner(kafkaSource, options);
}
