import { type IdempotencyRecord, RecordStatus } from './types.js';

/**
 * What a stored record means now (docs/protocol.md section 3). Expiry is a comparison with now, never a
 * stored status: TTL deletion lags.
 * - `expired`: past `expiresAt`; claimable, as if absent.
 * - `completed`, `failed`: a final outcome.
 * - `live`: `IN_PROGRESS` with a lease that has not ended; its owner runs.
 * - `stuck`: `IN_PROGRESS` past its lease (the owner died); claimable.
 */
export const RecordState = {
  Expired: 'expired',
  Completed: 'completed',
  Failed: 'failed',
  Live: 'live',
  Stuck: 'stuck',
} as const;

/** One of {@link RecordState}. */
export type RecordState = (typeof RecordState)[keyof typeof RecordState];

/**
 * Whether the record is past its lifetime. `expiresAt` is epoch seconds and now is compared in whole seconds,
 * exactly as the DynamoDB claim condition `expiresAt < :nowS` does, so every reader agrees to the second.
 */
export function isExpired(record: Pick<IdempotencyRecord, 'expiresAt'>, nowMs: number): boolean {
  return record.expiresAt < Math.floor(nowMs / 1000);
}

/** Whether an `IN_PROGRESS` record's lease has ended (`leaseUntil` is epoch ms). */
export function isLeaseOver(record: Pick<IdempotencyRecord, 'leaseUntil'>, nowMs: number): boolean {
  return (record.leaseUntil ?? 0) < nowMs;
}

/**
 * The one rule for what a record means at `nowMs`; the engine, the stores, `records` and `doctor` all call it.
 *
 * @example
 * if (recordState(record, Date.now()) === RecordState.Stuck) release(record);
 */
export function recordState(
  record: Pick<IdempotencyRecord, 'status' | 'expiresAt' | 'leaseUntil'>,
  nowMs: number,
): RecordState {
  if (isExpired(record, nowMs)) return RecordState.Expired;
  switch (record.status) {
    case RecordStatus.Completed:
      return RecordState.Completed;
    case RecordStatus.Failed:
      return RecordState.Failed;
    default:
      return isLeaseOver(record, nowMs) ? RecordState.Stuck : RecordState.Live;
  }
}

/** What a claim needs besides the new record. */
export interface ClaimOptions {
  /** Now, epoch milliseconds; the store compares `expiresAt` and `leaseUntil` with it. */
  readonly nowMs: number;
  /**
   * Also take over the `FAILED` record whose lease token is this one: the record an operator's replay was
   * told to run again, and no other (docs/protocol.md section 6).
   */
  readonly failedToken?: string;
}

/**
 * The claim condition of docs/protocol.md section 3, as a predicate over the current item. The memory store
 * evaluates it inside its atomic step; the DynamoDB store sends the same rule as its condition expression.
 */
export function isClaimable(existing: IdempotencyRecord | undefined, options: ClaimOptions): boolean {
  if (existing === undefined) return true;
  const state = recordState(existing, options.nowMs);
  if (state === RecordState.Expired || state === RecordState.Stuck) return true;
  return (
    state === RecordState.Failed &&
    options.failedToken !== undefined &&
    existing.leaseToken === options.failedToken
  );
}

/**
 * Whether an operator's replay may run a `FAILED` record again: only when a different message failed it. A
 * redelivery of the replayed message that failed it itself must not reopen the job: once per replay.
 */
export function isReopenable(record: IdempotencyRecord, owner: string | undefined): boolean {
  return (
    record.status === RecordStatus.Failed &&
    record.leaseToken !== undefined &&
    (owner === undefined || record.owner !== owner)
  );
}
