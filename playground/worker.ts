import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/** Playground-only switches the demo and `/_playground/fix` flip while the playground runs. */
export interface WorkerToggles {
  /**
   * Whether "the fix" is deployed: the worker then accepts jobs from the legacy producer, whose `orderId`
   * is a number. Before it, such a job has no usable job key, fails on every delivery and reaches the DLQ.
   */
  fixed: boolean;
}

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * The playground's poison job and its fix, around the reference worker (left as it is). The legacy
 * producer sends `{"invoiceId":"inv-7","orderId":7}`; the reference worker expects `orderId` as a string,
 * so each delivery fails alone until the queue's redrive policy moves it to the DLQ. With `fixed`, the
 * wrapper plays the patched worker: it reads the legacy shape (`orderId` as a string) before the reference
 * worker runs, so `idemkit dlq replay` brings the job back and it completes, once.
 *
 * @example
 * const toggles = { fixed: false };
 * const worker = withLegacyJobFix(referenceWorker, toggles);
 */
export function withLegacyJobFix(handler: SqsHandler, toggles: WorkerToggles): SqsHandler {
  return async function playgroundWorker(event, context) {
    if (!toggles.fixed) return handler(event, context);
    return handler({ ...event, Records: event.Records.map(upgradeLegacyJob) }, context);
  };
}

/** The legacy producer's job, `orderId` as a number, in today's shape; other records unchanged. */
export function upgradeLegacyJob(record: SQSRecord): SQSRecord {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    return record;
  }
  const job = body as { invoiceId?: unknown; orderId?: unknown } | null;
  if (typeof job?.invoiceId !== 'string' || typeof job.orderId !== 'number') return record;
  return { ...record, body: JSON.stringify({ ...job, orderId: String(job.orderId) }) };
}
