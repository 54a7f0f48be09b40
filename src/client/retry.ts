/**
 * The client's retry rules (docs/protocol.md section 9), as pure functions: which answers are retried, how
 * long to wait before the next attempt, and what a `Retry-After` header says. No timers, no I/O.
 */

/** Statuses retried by default: "retry later" (409), throttled (429), unavailable (503). Never other 4xx. */
export const DEFAULT_RETRY_STATUSES: readonly number[] = [409, 429, 503];

/** Statuses that may be added to `retryStatuses`: the "try again" 4xx and any 5xx; never 400, 412 or 422. */
export function isRetryableStatusChoice(status: number): boolean {
  return (
    status === 408 || status === 409 || status === 425 || status === 429 || (status >= 500 && status <= 599)
  );
}

/** The backoff bounds of {@link retryDelay}. */
export interface BackoffBounds {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * How long to wait before retry number `retry` (1 for the first retry), in ms: full jitter over a capped
 * exponential ceiling, `random() * min(maxDelayMs, baseDelayMs * 2^(retry-1))`, but never less than the
 * server's `Retry-After`.
 *
 * @example
 * retryDelay(3, { baseDelayMs: 100, maxDelayMs: 2_000 }, () => 0.5, undefined); // 200
 */
export function retryDelay(
  retry: number,
  bounds: BackoffBounds,
  random: () => number,
  retryAfterMs: number | undefined,
): number {
  const ceiling = Math.min(bounds.maxDelayMs, bounds.baseDelayMs * 2 ** (retry - 1));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/**
 * A `Retry-After` header in ms: delay-seconds (`3`) or an HTTP-date, which is compared with `wallClockMs`;
 * `undefined` when absent or unreadable. A date in the past is 0.
 *
 * @example
 * parseRetryAfter('3', Date.now()); // 3000
 */
export function parseRetryAfter(value: string | null, wallClockMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - wallClockMs);
}
