import { IdempotencyError } from '../core/errors.js';

/**
 * An `application/problem+json` body (RFC 9457), as idemkit's middleware and most APIs answer errors. A body
 * that is not problem+json is read as `{ type: 'about:blank', title: <status text>, status }`.
 */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  /** Extension members the API added. */
  readonly [member: string]: unknown;
}

/**
 * The API answered with an error status and the client gave up: a status it never retries (400, 412, 422,
 * any other 4xx), or a retryable one (409, 429, 503) after the attempts or the time budget ran out
 * (`retryable` is then `true`: the operation may still complete; retry later with the same key).
 *
 * @example
 * catch (error) { if (error instanceof IdempotencyProblemError && error.status === 422) showConflict(error.problem.detail); }
 */
export class IdempotencyProblemError extends IdempotencyError {
  override name = 'IdempotencyProblemError';
  /** The HTTP status of the last answer. */
  readonly status: number;
  /** The parsed problem+json body of the last answer. */
  readonly problem: ProblemDetails;
  /** The last answer's headers. */
  readonly headers: Headers;
  /** Whether the status was one the client retries (it gave up because the attempts or the budget ran out). */
  readonly retryable: boolean;
  /** How many requests were sent for this operation. */
  readonly attempts: number;
  /** The server's `Retry-After`, in seconds, when it sent one. */
  readonly retryAfterSeconds: number | undefined;
  /** The `X-Correlation-Id` every attempt carried: the one to search the server's logs for. */
  readonly correlationId: string;

  constructor(facts: {
    status: number;
    problem: ProblemDetails;
    headers: Headers;
    retryable: boolean;
    attempts: number;
    retryAfterSeconds: number | undefined;
    correlationId: string;
  }) {
    const { problem } = facts;
    super(
      `The API answered ${facts.status} (${problem.title})${problem.detail === undefined ? '' : `: ${problem.detail}`}${facts.retryable ? ` after ${facts.attempts} attempts; retry later with the same idempotency key.` : ''}`,
    );
    this.status = facts.status;
    this.problem = problem;
    this.headers = facts.headers;
    this.retryable = facts.retryable;
    this.attempts = facts.attempts;
    this.retryAfterSeconds = facts.retryAfterSeconds;
    this.correlationId = facts.correlationId;
  }
}

/**
 * No answer came back (network errors or attempt timeouts) before the attempts or the time budget ran out.
 * The operation may have run: retry later with the same key, never a new one. `cause` is the last error.
 *
 * @example
 * catch (error) { if (error instanceof IdempotencyRequestError) queueForLater(operation, key); }
 */
export class IdempotencyRequestError extends IdempotencyError {
  override name = 'IdempotencyRequestError';
  /** `network` (the connection failed or was cut) or `timeout` (no answer within `attemptTimeoutMs`). */
  readonly reason: 'network' | 'timeout';
  /** How many requests were sent for this operation. */
  readonly attempts: number;
  /** The `X-Correlation-Id` every attempt carried. */
  readonly correlationId: string;

  constructor(reason: 'network' | 'timeout', attempts: number, correlationId: string, cause: unknown) {
    super(
      `No answer from the API after ${attempts} attempt${attempts === 1 ? '' : 's'} (last: ${reason === 'timeout' ? 'timed out' : describe(cause)}); the operation may have run: retry later with the same idempotency key.`,
      { cause },
    );
    this.reason = reason;
    this.attempts = attempts;
    this.correlationId = correlationId;
  }
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? ` (${cause.cause.message})` : '';
  return `${cause.name}: ${cause.message}${inner}`;
}
