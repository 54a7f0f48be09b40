import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { buildGuard } from '../core/door.js';
import { remainingTimeOf } from '../core/fingerprint.js';
import type { Duplicate, Ownership } from '../core/guard.js';
import { digestOf, recordKey } from '../core/keys.js';
import {
  type CommonOptions,
  commonOptionsShape,
  functionSchema,
  orgSchema,
  parseOptions,
  scopeSchema,
} from '../core/options.js';
import { Signal, type SignalFacts } from '../core/telemetry.js';
import { identifyJob, type JobIdentity } from './identify.js';
import { createLimiter } from './limiter.js';
import { REPLAY_ATTRIBUTE } from './replay-marker.js';

/**
 * Options of {@link sqsJobs}.
 *
 * @example
 * {
 *   store, scope: 'send-invoice-email',
 *   org: (record) => record.messageAttributes.orgId?.stringValue,
 *   jobKey: (record) => JSON.parse(record.body).invoiceId,
 *   processRecord: async (record) => mailer.send(JSON.parse(record.body)),
 * }
 */
export interface SqsJobsOptions<Result = unknown> extends CommonOptions {
  /** The operation's name; two operations never share records. */
  readonly scope: string;
  /**
   * The tenant, from data the service owner trusts: a constant, or a function of the record (a message
   * attribute the producer sets). A record without a usable org fails alone.
   */
  readonly org: string | ((record: SQSRecord) => string | undefined);
  /**
   * The job's business or producer id, from the body or a message attribute; a string or a finite number.
   * Never the SQS `messageId`: a redrive or a DLQ replay gives the same job a new one. A record without a
   * usable key fails alone.
   */
  readonly jobKey: (record: SQSRecord) => string | number | undefined;
  /**
   * Runs the job; called once per job, not once per message. A throw fails the record. `signal` aborts when
   * another invocation takes the job's lease over (its outcome would not be stored), so long work can stop.
   */
  readonly processRecord: (
    record: SQSRecord,
    context: Context,
    lease: { readonly signal: AbortSignal },
  ) => Promise<Result> | Result;
  /**
   * What the job means, compared on every duplicate: the same job key with a different fingerprint is
   * reported failed (a producer bug) and counted as `mismatch`, never acknowledged.
   * @default the body's JSON value (key order and spacing ignored), or the raw body when it is not JSON
   */
  readonly fingerprint?: (record: SQSRecord) => unknown;
  /**
   * How many jobs of one batch run at once. FIFO message groups run side by side, each in order.
   * @default 10
   */
  readonly concurrency?: number;
  /**
   * Whether a thrown error is permanent: the record becomes `FAILED`, so duplicates and redeliveries do not
   * run the job again and are reported failed until the message reaches the DLQ. Other errors release the
   * job so a redelivery runs it again.
   * @default () => false
   */
  readonly isPermanentError?: (error: unknown) => boolean;
  /**
   * Runs once per job, after its result is stored (an audit record); never on a duplicate or a replay. A
   * throw is logged and does not fail the record, because the job is already done.
   * @default none
   */
  readonly onFirstCompletion?: (record: SQSRecord, result: Result, context: Context) => Promise<void> | void;
}

/** A Lambda handler for SQS events with partial batch responses (`ReportBatchItemFailures`). */
export type SqsJobsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** How many jobs of a batch run at once unless `concurrency` says otherwise. */
export const DEFAULT_CONCURRENCY = 10;
const MAX_CONCURRENCY = 1000;

const schema = z.strictObject({
  ...commonOptionsShape,
  scope: scopeSchema,
  org: orgSchema,
  jobKey: functionSchema,
  processRecord: functionSchema,
  fingerprint: z.optional(functionSchema),
  concurrency: z.optional(z.int().check(z.minimum(1), z.maximum(MAX_CONCURRENCY))),
  isPermanentError: z.optional(functionSchema),
  onFirstCompletion: z.optional(functionSchema),
});

/** What became of one record: acknowledged, or reported in `batchItemFailures`. */
type Outcome = 'ack' | 'fail';

/**
 * Makes each SQS **job** run once: a Lambda handler (plain, or inside `middy()`) that collapses duplicates
 * of a batch before any I/O, claims each job in the shared idempotency table, runs `processRecord` for
 * first executions only, and answers with a partial batch response (docs/protocol.md section 6).
 *
 * Enable `ReportBatchItemFailures` on the event source mapping: only the records to retry are reported.
 * Throws {@link IdempotencyConfigError} at cold start for a bad option.
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
  parseOptions(schema, options, 'sqsJobs');
  const guard = buildGuard(options, 'sqsJobs');
  const { engine } = guard;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const isPermanentError = options.isPermanentError ?? (() => false);
  const { scope, processRecord, onFirstCompletion } = options;
  const baseFacts = (messageId: string): SignalFacts => ({
    mode: engine.mode,
    scope,
    correlationId: messageId,
  });
  let warnedMessageIdKey = false;

  return async function sqsJobsHandler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
    if (!Array.isArray(event?.Records)) {
      throw new TypeError(
        `Expected an SQS event with a \`Records\` array, got ${event === null ? 'null' : typeof event}; attach the handler to an SQS event source.`,
      );
    }
    const records = event.Records;
    const limit = createLimiter(concurrency);
    const remainingTimeMs = () => remainingTimeOf(context);
    const outcomes = new Map<SQSRecord, Outcome>();
    // One run per (org, job key) in this batch: the first record to start leads, the others share its outcome.
    const leaders = new Map<string, { readonly fingerprint: string; readonly outcome: Promise<Outcome> }>();
    // Identify every record before any I/O, so that duplicates are collapsed before the first claim.
    const jobs = new Map(records.map((record) => [record, identify(record)]));

    const settle = async (record: SQSRecord): Promise<Outcome> => {
      const outcome = await dispatch(record);
      outcomes.set(record, outcome);
      return outcome;
    };

    const dispatch = async (record: SQSRecord): Promise<Outcome> => {
      if (engine.mode === 'off') return limit(() => runUnguarded(record, context));
      const job = jobs.get(record);
      if (job === undefined) return 'fail';
      if (engine.mode === 'observe') return limit(() => runJob(record, job, context, remainingTimeMs));
      const collapseKey = `${job.org}#${job.key}`;
      const leader = leaders.get(collapseKey);
      if (leader === undefined) {
        const outcome = limit(() => runJob(record, job, context, remainingTimeMs));
        leaders.set(collapseKey, { fingerprint: job.fingerprint, outcome });
        return outcome;
      }
      if (leader.fingerprint !== job.fingerprint) {
        engine.telemetry.emit(Signal.Mismatch, {
          ...baseFacts(record.messageId),
          org: job.org,
          keyDigest: digestOf(recordKey(job.org, scope, job.key)),
          detail: { inBatch: true },
        });
        return 'fail';
      }
      return leader.outcome;
    };

    if (isFifo(records)) {
      // FIFO: each message group in order; after a failure the rest of the group is reported, unprocessed.
      await Promise.all(
        [...groupBy(records, (record) => record.attributes?.MessageGroupId ?? '').values()].map(
          async (group) => {
            let broken = false;
            for (const record of group) {
              if (broken) outcomes.set(record, 'fail');
              else broken = (await settle(record)) === 'fail';
            }
          },
        ),
      );
    } else {
      await Promise.all(records.map(settle));
    }

    const failed = new Set(
      records.filter((record) => outcomes.get(record) !== 'ack').map((record) => record.messageId),
    );
    return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
  };

  function identify(record: SQSRecord): JobIdentity | undefined {
    if (engine.mode === 'off') return undefined;
    const identified = identifyJob(record, options);
    if (!identified.ok) {
      engine.telemetry.emit(identified.signal, {
        ...baseFacts(record.messageId),
        detail: { reason: identified.reason },
      });
      return undefined;
    }
    if (!warnedMessageIdKey && identified.job.key === record.messageId) {
      warnedMessageIdKey = true;
      engine.telemetry.warn(
        `\`jobKey\` of \`sqsJobs\` (scope ${scope}) returned the SQS messageId; a redrive or replay gives the same job a new messageId, so return a business or producer id instead.`,
      );
    }
    return identified.job;
  }

  /** Claims the job and acts on the guard's answer (docs/protocol.md sections 3 and 6). */
  async function runJob(
    record: SQSRecord,
    job: JobIdentity,
    context: Context,
    remainingTimeMs: () => number | undefined,
  ): Promise<Outcome> {
    const entry = await guard.enter({
      ...job,
      scope,
      remainingTimeMs,
      owner: record.messageId,
      reclaimFailed: isReplay(record),
      // Jobs never wait: a redelivery is cheaper than holding a batch.
      waitBudgetMs: 0,
      correlationId: record.messageId,
    });
    switch (entry.kind) {
      case 'owner':
        return runOwned(record, job, context, entry.ownership);
      case 'unguarded':
        return runUnguarded(record, context);
      case 'refused':
        return 'fail';
      case 'duplicate':
        return duplicateOutcome(record, entry.decision);
    }
  }

  async function runOwned(
    record: SQSRecord,
    job: JobIdentity,
    context: Context,
    ownership: Ownership,
  ): Promise<Outcome> {
    const outcome = await ownership.run((signal) => processRecord(record, context, { signal }));
    if (outcome.ok) {
      // The side effect happened: a store failure here is logged and counted, never reported. A job whose
      // lease was taken over is acknowledged too, since reporting it would only invite another run.
      if ((await ownership.complete(outcome.value)) === 'done' && onFirstCompletion !== undefined) {
        await audit(record, outcome.value, context);
      }
      return 'ack';
    }
    if (permanent(outcome.error)) {
      const settled = await ownership.fail({ error: errorName(outcome.error) });
      if (settled !== 'lost') {
        engine.telemetry.emit(Signal.PermanentFailure, {
          ...baseFacts(record.messageId),
          org: job.org,
          keyDigest: digestOf(recordKey(job.org, scope, job.key)),
          detail: { error: errorName(outcome.error) },
        });
      }
    } else {
      await ownership.release();
    }
    return 'fail';
  }

  async function audit(record: SQSRecord, result: Result, context: Context): Promise<void> {
    try {
      await onFirstCompletion?.(record, result, context);
    } catch (error) {
      engine.telemetry.warn(
        `\`onFirstCompletion\` of \`sqsJobs\` (scope ${scope}) threw ${errorName(error)} for message ${record.messageId}; the job is done and will not run it again.`,
      );
    }
  }

  function permanent(error: unknown): boolean {
    try {
      return isPermanentError(error) === true;
    } catch {
      return false;
    }
  }

  async function runUnguarded(record: SQSRecord, context: Context): Promise<Outcome> {
    try {
      await processRecord(record, context, { signal: UNGUARDED });
      return 'ack';
    } catch {
      return 'fail';
    }
  }
}

// The signal an unguarded run gets: no lease, so nothing can take it over.
const UNGUARDED = new AbortController().signal;

/** A duplicate's answer (docs/protocol.md section 6). */
function duplicateOutcome(record: SQSRecord, decision: Duplicate): Outcome {
  switch (decision.kind) {
    case 'replay':
      return 'ack';
    case 'mismatch':
    case 'failed':
      return 'fail';
    case 'in_progress':
      // Another message's live lease: its own message still guards the job, so this copy may go. Another
      // delivery of this same message: deleting it could lose the job if that delivery dies.
      return decision.record.owner === record.messageId ? 'fail' : 'ack';
  }
}

function isFifo(records: readonly SQSRecord[]): boolean {
  return records.some((record) => record.eventSourceARN?.endsWith('.fifo') === true);
}

function isReplay(record: SQSRecord): boolean {
  return record.messageAttributes?.[REPLAY_ATTRIBUTE] !== undefined;
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
