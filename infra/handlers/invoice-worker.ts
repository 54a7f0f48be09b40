/**
 * The reference SQS worker: sends each invoice email once per `invoiceId`, however often the job is
 * delivered, redriven or replayed from the dead-letter queue. Copy it and replace `sendInvoiceEmail`.
 *
 * Deployed by `infra/stacks/orders-stack.ts` on a `JobQueue` with `ReportBatchItemFailures`. Environment:
 * `IDEMPOTENCY_TABLE` and the `IDEMPOTENCY_*` rollout variables. Producers set the `orgId` message
 * attribute and put `invoiceId` in the JSON body.
 *
 * @example
 * aws sqs send-message --queue-url "$QUEUE_URL" --message-body '{"invoiceId":"inv-1","orderId":"o-1"}' \
 *   --message-attributes 'orgId={DataType=String,StringValue=acme}'
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { sqsJobs } from '../../src/sqs/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';

interface InvoiceJob {
  readonly invoiceId: string;
  /** Set by the orders API; jobs from other producers may carry none. */
  readonly orderId?: string;
}

/** A job no retry can fix (the provider rejects the invoice id): the record is marked failed and its message goes to the DLQ. */
class InvalidInvoiceJobError extends Error {
  override name = 'InvalidInvoiceJobError';
}

// Built once per cold start and shared by every batch.
const tableName = process.env.IDEMPOTENCY_TABLE;
if (tableName === undefined || tableName === '') {
  throw new Error(
    'Expected the environment variable `IDEMPOTENCY_TABLE` to be set, got nothing; the stack sets it.',
  );
}
const store = new DynamoDBStore({ tableName, client: new DynamoDBClient({}) });

export const handler = sqsJobs({
  store,
  scope: 'send-invoice-email',
  // The producer (the orders API) sets the org from the caller's verified token.
  org: (record) => record.messageAttributes.orgId?.stringValue,
  // A business id, never `messageId`: a redrive or a DLQ replay gives the same job a new messageId. Read
  // apart from the rest of the body, so a job with a key but a body this worker cannot process becomes
  // FAILED (and reaches the DLQ, to be replayed after a fix) instead of being rejected as `missing_key`.
  jobKey: (record) => jobFields(record)?.invoiceId,
  // What the job means: the invoice and its order. A legacy producer's numeric `orderId` (7) names the
  // same order as "7", so a worker fixed to read it sees its replay as the same job, not a mismatch.
  fingerprint: (record) => {
    const { invoiceId, orderId } = jobFields(record) ?? {};
    return { invoiceId, orderId: orderId === undefined ? undefined : String(orderId) };
  },
  processRecord: async (record) => {
    const job = readJob(record);
    if (job === undefined) throw new InvalidInvoiceJobError('Expected a body {"invoiceId", "orderId"?}.');
    return sendInvoiceEmail(job);
  },
  isPermanentError: (error) => error instanceof InvalidInvoiceJobError,
});

/** Stands in for the mail provider; pass `invoiceId` as its own idempotency key where it takes one. */
async function sendInvoiceEmail(job: InvoiceJob): Promise<{ invoiceId: string; sentAt: string }> {
  if (!job.invoiceId.startsWith('inv-')) {
    throw new InvalidInvoiceJobError(
      'Expected an invoice id starting with `inv-`; the provider rejects others.',
    );
  }
  return { invoiceId: job.invoiceId, sentAt: new Date().toISOString() };
}

/** The body's `invoiceId` (when a string) and `orderId` (as sent), whether or not the job is valid. */
function jobFields(record: SQSRecord): { invoiceId?: string; orderId?: unknown } | undefined {
  try {
    const body = JSON.parse(record.body) as { invoiceId?: unknown; orderId?: unknown } | null;
    if (typeof body !== 'object' || body === null) return undefined;
    return {
      ...(typeof body.invoiceId === 'string' ? { invoiceId: body.invoiceId } : {}),
      ...(body.orderId === undefined ? {} : { orderId: body.orderId }),
    };
  } catch {
    return undefined; // not JSON: no job key, so sqsJobs reports this record alone as failed
  }
}

function readJob(record: SQSRecord): InvoiceJob | undefined {
  try {
    const body = JSON.parse(record.body) as Partial<InvoiceJob> | null;
    if (
      typeof body?.invoiceId === 'string' &&
      (body.orderId === undefined || typeof body.orderId === 'string')
    ) {
      return { invoiceId: body.invoiceId, orderId: body.orderId };
    }
  } catch {
    // Not JSON: no job key, so sqsJobs reports this record alone as failed.
  }
  return undefined;
}
