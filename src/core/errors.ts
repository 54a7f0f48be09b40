import type { IdempotencyRecord } from './types.js';

/**
 * The base of every error idemkit throws. `cause` is kept when there is one.
 *
 * @example
 * if (error instanceof IdempotencyError) logger.warn(error.message);
 */
export class IdempotencyError extends Error {
  override name = 'IdempotencyError';
}

/**
 * Configuration that cannot be used: a bad option or `IDEMPOTENCY_*` variable, found at cold start.
 *
 * @example
 * new IdempotencyConfigError('Expected `lockTtlSeconds` to be a positive integer, got -1.');
 */
export class IdempotencyConfigError extends IdempotencyError {
  override name = 'IdempotencyConfigError';
  /** Each problem found, one sentence each. */
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(
      issues.length === 1
        ? (issues[0] as string)
        : `Invalid idemkit configuration:\n- ${issues.join('\n- ')}`,
    );
    this.issues = issues;
  }
}

/**
 * An input the caller controls is not usable: a malformed key, org or scope.
 *
 * @example
 * new IdempotencyValidationError('key', 'Expected `key` to be 1 to 255 printable characters, got 300 characters.');
 */
export class IdempotencyValidationError extends IdempotencyError {
  override name = 'IdempotencyValidationError';
  /** Which input was rejected: `key`, `org` or `scope`. */
  readonly field: 'key' | 'org' | 'scope';
  constructor(field: 'key' | 'org' | 'scope', message: string) {
    super(message);
    this.field = field;
  }
}

/**
 * The key was used before with a different request (the fingerprint differs): a client error, never a replay.
 *
 * @example
 * catch (error) { if (error instanceof IdempotencyKeyMismatchError) return { statusCode: 422 }; }
 */
export class IdempotencyKeyMismatchError extends IdempotencyError {
  override name = 'IdempotencyKeyMismatchError';
  readonly record: IdempotencyRecord;
  constructor(record: IdempotencyRecord) {
    super(
      'This idempotency key was already used with a different request; send a new key for a new request.',
    );
    this.record = record;
  }
}

/**
 * Another invocation holds a live lease on the key and the wait budget is spent: retry later.
 *
 * @example
 * catch (error) { if (error instanceof IdempotencyInProgressError) retryIn(error.retryAfterSeconds); }
 */
export class IdempotencyInProgressError extends IdempotencyError {
  override name = 'IdempotencyInProgressError';
  readonly record: IdempotencyRecord;
  /** Seconds left on the owner's lease, at least 1. */
  readonly retryAfterSeconds: number;
  constructor(record: IdempotencyRecord, retryAfterSeconds: number) {
    super(`An operation with this idempotency key is still running; retry in ${retryAfterSeconds} s.`);
    this.record = record;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The operation failed permanently before (status `FAILED`): it is not run again until a replay.
 *
 * @example
 * catch (error) { if (error instanceof IdempotencyPreviouslyFailedError) sendToDlq(); }
 */
export class IdempotencyPreviouslyFailedError extends IdempotencyError {
  override name = 'IdempotencyPreviouslyFailedError';
  readonly record: IdempotencyRecord;
  constructor(record: IdempotencyRecord) {
    super('This operation failed permanently before; replay it after a fix to run it again.');
    this.record = record;
  }
}

/**
 * The store could not be reached or answered with an error; `cause` holds the SDK error.
 *
 * @example
 * catch (error) { if (error instanceof IdempotencyStoreError) return serviceUnavailable(); }
 */
export class IdempotencyStoreError extends IdempotencyError {
  override name = 'IdempotencyStoreError';
  /** The store operation that failed. */
  readonly operation: string;
  constructor(operation: string, cause: unknown) {
    super(`The idempotency store failed during \`${operation}\`: ${describeCause(cause)}`, { cause });
    this.operation = operation;
  }
}

/**
 * A record read from the store is damaged: a required attribute is missing, or one has the wrong type. It is
 * never taken for a claimable lease; the engine treats it as a store error (fail open, or 503 when strict).
 *
 * @example
 * catch (error) { if (error.cause instanceof IdempotencyCorruptRecordError) alert(error.cause.attributes); }
 */
export class IdempotencyCorruptRecordError extends IdempotencyError {
  override name = 'IdempotencyCorruptRecordError';
  /** The attributes that are missing or malformed (names only, never values). */
  readonly attributes: readonly string[];
  constructor(attributes: readonly string[]) {
    super(
      `A stored idempotency record is damaged: ${attributes.map((name) => `\`${name}\``).join(', ')} missing or malformed; inspect it with \`idemkit records get\` and release it.`,
    );
    this.attributes = attributes;
  }
}

/**
 * A completed operation is replayed, but its stored result was left out (too large, or not serializable), so
 * there is nothing to return: the operation already ran and is not run again.
 *
 * @example
 * catch (error) { if (error instanceof IdempotencyResultOmittedError) return lookUpTheOutcome(); }
 */
export class IdempotencyResultOmittedError extends IdempotencyError {
  override name = 'IdempotencyResultOmittedError';
  readonly record: IdempotencyRecord;
  /** Why the result was not stored: `too_large` or `unserializable`. */
  readonly reason: string;
  constructor(record: IdempotencyRecord, reason: string) {
    super(
      `This operation already ran, but its result was not stored (${reason}), so it cannot be replayed; read the outcome from where the operation wrote it.`,
    );
    this.record = record;
    this.reason = reason;
  }
}

/**
 * The lease this operation ran under was taken over (it ran past its lease, or a renewal found another owner):
 * its outcome is not written. The reason of the operation's abort signal.
 *
 * @example
 * signal.addEventListener('abort', () => { if (signal.reason instanceof IdempotencyLeaseLostError) stop(); });
 */
export class IdempotencyLeaseLostError extends IdempotencyError {
  override name = 'IdempotencyLeaseLostError';
  constructor() {
    super("Another invocation took over this operation's lease; stop early, its outcome will not be stored.");
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return String(cause);
}
