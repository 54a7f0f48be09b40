import type { Context } from 'aws-lambda';
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
  wholeNumberSchema,
} from '../core/options.js';
import { Signal, type SignalFacts } from '../core/telemetry.js';
import type { IdempotencyRecord } from '../core/types.js';
import { identifyJob, type JobIdentity } from './identify.js';
import { createLimiter } from './limiter.js';

/**
 * Options every job runner takes (`sqsJobs`, `kinesisJobs`, `dynamodbStreamJobs`, `kafkaJobs`); `R` is the
 * record as the runner hands it to these functions.
 *
 * @example
 * { store, scope: 'ship-order', org: 'acme', jobKey: (record) => orderIdOf(record), processRecord: ship }
 */
export interface JobsOptions<R, Result = unknown> extends CommonOptions {
  /** The operation's name; two operations never share records. */
  readonly scope: string;
  /**
   * The tenant, from data the service owner trusts: a constant, or a function of the record. A record without
   * a usable org fails alone.
   */
  readonly org: string | ((record: R) => string | undefined);
  /**
   * The job's id: a business or producer id, a string or a finite number. A record without a usable key fails
   * alone. Each source names its choices (a business id from the payload, or the record's own id).
   */
  readonly jobKey: (record: R) => string | number | undefined;
  /**
   * Runs the job; called once per job, not once per record. A throw fails the record. `signal` aborts when
   * another invocation takes the job's lease over (its outcome would not be stored), so long work can stop.
   */
  readonly processRecord: (
    record: R,
    context: Context,
    lease: { readonly signal: AbortSignal },
  ) => Promise<Result> | Result;
  /**
   * What the job means, compared on every duplicate: the same job key with a different fingerprint is
   * reported failed (a producer bug) and counted as `mismatch`, never acknowledged.
   * @default what the source's record carries (the body, the data, the new image), JSON compared by meaning
   */
  readonly fingerprint?: (record: R) => unknown;
  /**
   * How many jobs of one batch run at once. Ordered units (FIFO groups, partition keys, items,
   * topic-partitions) run side by side, each in order.
   * @default 10
   */
  readonly concurrency?: number;
  /**
   * Whether a thrown error is permanent: the record becomes `FAILED`, so duplicates and redeliveries do not
   * run the job again and are reported failed until the source gives up on it (a DLQ, an on-failure
   * destination). Other errors release the job so a redelivery runs it again.
   * @default () => false
   */
  readonly isPermanentError?: (error: unknown) => boolean;
  /**
   * Runs once per job, after its result is stored (an audit record); never on a duplicate or a replay. A
   * throw is logged and does not fail the record, because the job is already done.
   * @default none
   */
  readonly onFirstCompletion?: (record: R, result: Result, context: Context) => Promise<void> | void;
}

/** How many jobs of a batch run at once unless `concurrency` says otherwise. */
export const DEFAULT_CONCURRENCY = 10;
const MAX_CONCURRENCY = 1000;

/** The zod schema of {@link JobsOptions}. */
export const jobsSchema = z.strictObject({
  ...commonOptionsShape,
  scope: scopeSchema,
  org: orgSchema,
  jobKey: functionSchema,
  processRecord: functionSchema,
  fingerprint: z.optional(functionSchema),
  concurrency: z.optional(wholeNumberSchema(1, { max: MAX_CONCURRENCY })),
  isPermanentError: z.optional(functionSchema),
  onFirstCompletion: z.optional(functionSchema),
});

/**
 * What a source adds to the one batch core: its event shape, its ordering unit and its failure identifier
 * (docs/protocol.md section 6).
 */
export interface BatchSource<Event, R, Failure> {
  /** The runner's name, for messages and warnings. */
  readonly door: string;
  /** The records of an event in the order the source delivered them, or `undefined` for another shape. */
  records(event: Event): readonly R[] | undefined;
  /** What the event should have been, for the error a wrong event gets. */
  readonly expected: string;
  /** This delivery's identity: a redelivery of the same record has the same one. */
  owner(record: R): string;
  /** How the partial batch response names the record. */
  failure(record: R): Failure;
  /** The ordering unit: records of one unit run in order, one at a time; `undefined` runs the record alone. */
  unit(record: R): string | undefined;
  /**
   * `true` where each record is acknowledged alone (SQS): after a unit's first failure, the rest of the unit is
   * reported too. `false` where the source checkpoints (streams, Kafka): only the first failure of a unit is
   * reported, and the source retries from it.
   */
  readonly reportsRestOfUnit: boolean;
  /** Whether the record is an operator's replay, which may reopen a `FAILED` job once. */
  reopens(record: R): boolean;
  /** The default fingerprint's input. */
  meaning(record: R): unknown;
  /** Whether the source says this record was delivered before (SQS: a receive count above 1). */
  redelivered?(record: R): boolean;
  /** A warning when the job key is this delivery's own id where that is a mistake (SQS), else `undefined`. */
  keyWarning?(record: R, key: string): string | undefined;
}

/** A partial batch response (`ReportBatchItemFailures`). */
export interface BatchResponse<Failure> {
  batchItemFailures: { itemIdentifier: Failure }[];
}

/** What became of one record: acknowledged, or reported in `batchItemFailures`. */
type Outcome = 'ack' | 'fail';

// The signal an unguarded run gets: no lease, so nothing can take it over.
const UNGUARDED = new AbortController().signal;

/**
 * Builds a job runner for one source on the shared batch core: duplicates collapsed before any I/O, each job
 * run once under a kept lease through the guard, ordered units in order, permanent failures `FAILED`, audit
 * once, and a partial batch response in the source's shape. Throws `IdempotencyConfigError` at cold start for
 * a bad option.
 *
 * @example
 * export const handler = batchRunner(sqsSource, options);
 */
export function batchRunner<Event, R, Failure, Result>(
  source: BatchSource<Event, R, Failure>,
  options: JobsOptions<R, Result>,
): (event: Event, context: Context) => Promise<BatchResponse<Failure>> {
  parseOptions(jobsSchema, options, source.door);
  const guard = buildGuard(options, source.door);
  const { engine } = guard;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const { scope, processRecord, isPermanentError, onFirstCompletion } = options;
  const baseFacts = (record: R): SignalFacts => ({
    mode: engine.mode,
    scope,
    correlationId: source.owner(record),
  });
  let warned = false;

  return async function jobsHandler(event: Event, context: Context): Promise<BatchResponse<Failure>> {
    try {
      return await handleBatch(event, context);
    } finally {
      // The whole batch's decisions in one EMF document.
      engine.telemetry.flush?.();
    }
  };

  async function handleBatch(event: Event, context: Context): Promise<BatchResponse<Failure>> {
    const records = event === null || typeof event !== 'object' ? undefined : source.records(event);
    if (records === undefined) {
      throw new TypeError(
        `Expected ${source.expected}, got ${event === null ? 'null' : typeof event}; attach \`${source.door}\` to that event source.`,
      );
    }
    const limit = createLimiter(concurrency);
    const remainingTimeMs = () => remainingTimeOf(context);
    // One run per (org, job key) in this batch: the first record to start leads, the others share its outcome.
    const leaders = new Map<string, { readonly fingerprint: string; readonly outcome: Promise<Outcome> }>();
    // Identify every record before any I/O, so that duplicates are collapsed before the first claim.
    const jobs = new Map(records.map((record) => [record, identify(record)]));
    // A batch that comes back is read in one round trip first: completed jobs are then acknowledged unwritten.
    const known = await prefetch(records, jobs);

    const dispatch = (record: R): Promise<Outcome> => {
      if (engine.mode === 'off') return limit(() => runUnguarded(record, context));
      const job = jobs.get(record);
      if (job === undefined) return Promise.resolve('fail');
      const seen = known.get(recordKey(job.org, scope, job.key));
      if (engine.mode === 'observe') return limit(() => runJob(record, job, context, remainingTimeMs, seen));
      const collapseKey = `${job.org}#${job.key}`;
      const leader = leaders.get(collapseKey);
      if (leader === undefined) {
        const outcome = limit(() => runJob(record, job, context, remainingTimeMs, seen));
        leaders.set(collapseKey, { fingerprint: job.fingerprint, outcome });
        return outcome;
      }
      if (leader.fingerprint !== job.fingerprint) {
        engine.telemetry.emit(Signal.Mismatch, {
          ...baseFacts(record),
          org: job.org,
          keyDigest: digestOf(recordKey(job.org, scope, job.key)),
          detail: { inBatch: true },
        });
        return Promise.resolve('fail');
      }
      return leader.outcome;
    };

    // Each unit in order; after its first failure the rest of the unit does not run.
    const reported = new Set<R>();
    await Promise.all(
      [...unitsOf(records, source)].map(async (unit) => {
        for (const [index, record] of unit.entries()) {
          if ((await dispatch(record)) === 'ack') continue;
          reported.add(record);
          if (source.reportsRestOfUnit) for (const rest of unit.slice(index + 1)) reported.add(rest);
          return;
        }
      }),
    );

    const failed = new Map<string, Failure>();
    // In delivery order, once each: a source checkpoints at the lowest identifier it is told.
    for (const record of records) {
      if (!reported.has(record)) continue;
      const failure = source.failure(record);
      failed.set(JSON.stringify(failure), failure);
    }
    return { batchItemFailures: [...failed.values()].map((itemIdentifier) => ({ itemIdentifier })) };
  }

  /** The records of the redelivered jobs of this batch, read in one batch read; none for a fresh batch. */
  async function prefetch(
    records: readonly R[],
    jobs: ReadonlyMap<R, JobIdentity | undefined>,
  ): Promise<ReadonlyMap<string, IdempotencyRecord>> {
    // Off mode identifies no job, and a source that cannot tell a redelivery (streams) has none: nothing to read.
    const again = records
      .filter((record) => source.redelivered?.(record) === true)
      .map((record) => jobs.get(record))
      .filter((job): job is JobIdentity => job !== undefined);
    const distinct = [...new Map(again.map((job) => [`${job.org}#${job.key}`, job])).values()];
    // One redelivered job costs one round trip either way (its claim reads the record back); two or more are
    // cheaper read together, and each completed one then costs no write.
    return distinct.length < 2
      ? new Map()
      : engine.prefetch(distinct.map((job) => ({ org: job.org, scope, key: job.key })));
  }

  function identify(record: R): JobIdentity | undefined {
    if (engine.mode === 'off') return undefined;
    const identified = identifyJob(record, options, (r) => source.meaning(r));
    if (!identified.ok) {
      engine.telemetry.emit(identified.signal, {
        ...baseFacts(record),
        detail: { reason: identified.reason },
      });
      return undefined;
    }
    const warning = warned ? undefined : source.keyWarning?.(record, identified.job.key);
    if (warning !== undefined) {
      warned = true;
      engine.telemetry.warn(warning);
    }
    return identified.job;
  }

  /** Claims the job and acts on the guard's answer (docs/protocol.md sections 3 and 6). */
  async function runJob(
    record: R,
    job: JobIdentity,
    context: Context,
    remainingTimeMs: () => number | undefined,
    known: IdempotencyRecord | undefined,
  ): Promise<Outcome> {
    const owner = source.owner(record);
    const entry = await guard.enter({
      ...job,
      scope,
      known,
      remainingTimeMs,
      owner,
      reclaimFailed: source.reopens(record),
      // Jobs never wait: a redelivery is cheaper than holding a batch.
      waitBudgetMs: 0,
      correlationId: owner,
    });
    switch (entry.kind) {
      case 'owner':
        return runOwned(record, job, context, entry.ownership);
      case 'unguarded':
        return runUnguarded(record, context);
      case 'refused':
        return 'fail';
      case 'duplicate':
        return duplicateOutcome(owner, entry.decision);
    }
  }

  async function runOwned(
    record: R,
    job: JobIdentity,
    context: Context,
    ownership: Ownership,
  ): Promise<Outcome> {
    const outcome = await ownership.run((signal) => processRecord(record, context, { signal }));
    if (outcome.ok) {
      // The side effect happened: a store failure here is logged and counted, never reported. A job whose
      // lease was taken over is acknowledged too, since reporting it would only invite another run.
      await ownership.complete(outcome.value, {
        audit: onFirstCompletion && (() => onFirstCompletion(record, outcome.value, context)),
      });
      return 'ack';
    }
    if (permanent(outcome.error)) {
      if ((await ownership.fail({ error: errorName(outcome.error) })) !== 'lost') {
        engine.telemetry.emit(Signal.PermanentFailure, {
          ...baseFacts(record),
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

  function permanent(error: unknown): boolean {
    try {
      return isPermanentError?.(error) === true;
    } catch {
      return false;
    }
  }

  async function runUnguarded(record: R, context: Context): Promise<Outcome> {
    try {
      await processRecord(record, context, { signal: UNGUARDED });
      return 'ack';
    } catch {
      return 'fail';
    }
  }
}

/** A duplicate's answer (docs/protocol.md section 6). */
function duplicateOutcome(owner: string, decision: Duplicate): Outcome {
  switch (decision.kind) {
    case 'replay':
      return 'ack';
    case 'mismatch':
    case 'failed':
      return 'fail';
    case 'in_progress':
      // Another record's live lease: its own delivery still guards the job, so this copy may go. Another
      // delivery of this same record: acknowledging it could lose the job if that delivery dies.
      return decision.record.owner === owner ? 'fail' : 'ack';
  }
}

/** The batch's records by ordering unit, each in delivery order; a record without a unit stands alone. */
function unitsOf<R>(records: readonly R[], source: BatchSource<unknown, R, unknown>): R[][] {
  const units = new Map<string, R[]>();
  const alone: R[][] = [];
  for (const record of records) {
    const unit = source.unit(record);
    if (unit === undefined) {
      alone.push([record]);
      continue;
    }
    const members = units.get(unit);
    if (members === undefined) units.set(unit, [record]);
    else members.push(record);
  }
  return [...units.values(), ...alone];
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
