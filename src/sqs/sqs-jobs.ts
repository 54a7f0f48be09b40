import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { jsonMeaning } from '../batch/identify.js';
import { type BatchSource, batchRunner, type JobsOptions } from '../batch/runner.js';
import { REPLAY_ATTRIBUTE } from './replay-marker.js';

/**
 * Options of {@link sqsJobs}: the options of every job runner, with SQS records. The job key is a business
 * or producer id from the body or a message attribute, never the SQS `messageId`: a redrive or a DLQ replay
 * gives the same job a new one.
 *
 * @example
 * {
 *   store, scope: 'send-invoice-email',
 *   org: (record) => record.messageAttributes.orgId?.stringValue,
 *   jobKey: (record) => JSON.parse(record.body).invoiceId,
 *   processRecord: async (record) => mailer.send(JSON.parse(record.body)),
 * }
 */
export type SqsJobsOptions<Result = unknown> = JobsOptions<SQSRecord, Result>;

/** A Lambda handler for SQS events with partial batch responses (`ReportBatchItemFailures`). */
export type SqsJobsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

// https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
// SQS deletes each acknowledged message alone, so a FIFO group's failure reports the rest of the group too.
const sqsSource: BatchSource<SQSEvent, SQSRecord, string> = {
  door: 'sqsJobs',
  expected: 'an SQS event with a `Records` array',
  records: (event) => (Array.isArray(event.Records) ? event.Records : undefined),
  owner: (record) => record.messageId,
  failure: (record) => record.messageId,
  // FIFO queues keep order per message group; a standard queue's messages run side by side.
  unit: (record) => {
    if (record.eventSourceARN?.endsWith('.fifo') !== true) return undefined;
    // Stryker disable next-line StringLiteral: any one name puts a FIFO queue's group-less messages in one group.
    return record.attributes?.MessageGroupId ?? '';
  },
  reportsRestOfUnit: true,
  reopens: (record) => record.messageAttributes?.[REPLAY_ATTRIBUTE] !== undefined,
  meaning: (record) => jsonMeaning(record.body),
  // A missing count is NaN, never above 1: a first delivery.
  redelivered: (record) => Number(record.attributes?.ApproximateReceiveCount) > 1,
  keyWarning: (record, key) =>
    key === record.messageId
      ? '`jobKey` of `sqsJobs` returned the SQS messageId; a redrive or replay gives the same job a new messageId, so return a business or producer id instead.'
      : undefined,
};

/**
 * Makes each SQS **job** run once: a Lambda handler (plain, or inside `middy()`) that collapses duplicates
 * of a batch before any I/O, claims each job in the shared idempotency table, runs `processRecord` for
 * first executions only, and answers with a partial batch response (docs/protocol.md section 6).
 *
 * Enable `ReportBatchItemFailures` on the event source mapping: only the records to retry are reported.
 * Throws `IdempotencyConfigError` at cold start for a bad option.
 *
 * @example
 * export const handler = sqsJobs({
 *   store: new DynamoDBStore({ tableName: process.env.IDEMPOTENCY_TABLE! }),
 *   scope: 'send-invoice-email',
 *   org: (record) => record.messageAttributes.orgId?.stringValue,
 *   jobKey: (record) => JSON.parse(record.body).invoiceId,
 *   processRecord: async (record) => sendInvoiceEmail(JSON.parse(record.body)),
 * });
 */
export function sqsJobs<Result = unknown>(options: SqsJobsOptions<Result>): SqsJobsHandler {
  return batchRunner(sqsSource, options);
}
