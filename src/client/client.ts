import { IdempotencyConfigError } from '../core/errors.js';
import { expected } from '../core/messages.js';
import { IdempotencyProblemError, IdempotencyRequestError, type ProblemDetails } from './errors.js';
import { DEFAULT_RETRY_STATUSES, isRetryableStatusChoice, parseRetryAfter, retryDelay } from './retry.js';

/** What {@link IdempotentClientOptions.onRetry} is told before the client waits for the next attempt. */
export interface RetryInfo {
  /** The attempt that failed, 1 for the first. */
  readonly attempt: number;
  /** `status` (a retryable answer), `network` (no answer) or `timeout` (no answer within the attempt timeout). */
  readonly reason: 'status' | 'network' | 'timeout';
  /** The status of the answer, when there was one. */
  readonly status?: number;
  /** How long the client waits before the next attempt, in ms. */
  readonly delayMs: number;
  /** The server's `Retry-After` in ms, when it sent one: `delayMs` is never less. */
  readonly retryAfterMs?: number;
  /** The `X-Correlation-Id` of the operation (never its idempotency key). */
  readonly correlationId: string;
}

/**
 * Options of {@link IdempotentClient}. Every time is in ms.
 *
 * @example
 * { baseUrl: 'https://api.example.com', headers: { authorization: `Bearer ${token}` }, budgetMs: 20_000 }
 */
export interface IdempotentClientOptions {
  /** Resolves relative request URLs. @default none: URLs are used as given */
  readonly baseUrl?: string | URL;
  /** Headers sent with every request (a request's own headers win). @default none */
  readonly headers?: HeadersInit;
  /**
   * The total time one logical operation may take, every attempt and wait included: no attempt starts, and
   * no wait ends, after it.
   * @default 30000
   */
  readonly budgetMs?: number;
  /** How long one attempt waits for an answer before it is abandoned and retried. @default 10000 */
  readonly attemptTimeoutMs?: number;
  /** The most requests sent for one operation. @default 10 */
  readonly maxAttempts?: number;
  /** The ceiling of the first retry's wait; it doubles each retry. @default 200 */
  readonly baseDelayMs?: number;
  /** The highest ceiling of a retry's wait. @default 5000 */
  readonly maxDelayMs?: number;
  /**
   * The statuses retried besides network errors: only 408, 409, 425, 429 and 5xx may be listed; 400, 412, 422
   * and other 4xx are never retried.
   * @default [409, 429, 503]
   */
  readonly retryStatuses?: readonly number[];
  /** The `fetch` to call. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Waits `ms`, rejecting with the signal's reason when it aborts. For tests. @default a timer */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** A number in [0, 1), for jitter. For tests. @default Math.random */
  readonly random?: () => number;
  /** A monotonic clock in ms, for the budget. For tests. @default performance.now */
  readonly now?: () => number;
  /** Makes a new idempotency key (and correlation id). @default crypto.randomUUID */
  readonly newKey?: () => string;
  /** Called before each wait, e.g. to log or count retries. @default none */
  readonly onRetry?: (retry: RetryInfo) => void;
}

/** A request's options: `fetch`'s, plus the operation's key and correlation id. */
export interface IdempotentRequestInit extends RequestInit {
  /**
   * The operation's idempotency key, sent as `Idempotency-Key` on every attempt. Give one to resume an
   * operation later (after a crash, or after the budget ran out).
   * @default a new random key per call (none for GET and HEAD)
   */
  readonly idempotencyKey?: string;
  /** Sent as `X-Correlation-Id` on every attempt. @default a request header of that name, else a new id */
  readonly correlationId?: string;
}

const OPTION_NAMES = new Set([
  'baseUrl',
  'headers',
  'budgetMs',
  'attemptTimeoutMs',
  'maxAttempts',
  'baseDelayMs',
  'maxDelayMs',
  'retryStatuses',
  'fetch',
  'sleep',
  'random',
  'now',
  'newKey',
  'onRetry',
]);
const FUNCTION_OPTIONS = ['fetch', 'sleep', 'random', 'now', 'newKey', 'onRetry'] as const;
/** What `new Headers(...)` accepts. */
type HeadersInit = ConstructorParameters<typeof Headers>[0];
/** Safe methods carry no idempotency key (they are idempotent by definition) but are retried the same way. */
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * A `fetch` for calling idempotent APIs the way Stripe's SDK does: one `Idempotency-Key` per logical
 * operation, retries on network errors, 409, 429 and 503 with capped exponential backoff and full jitter,
 * `Retry-After` honoured, all within a time budget; never a retry of 400, 412, 422 or any other 4xx. Every
 * attempt carries the same `X-Correlation-Id`. A final error answer is thrown as
 * {@link IdempotencyProblemError} with its parsed problem+json; no answer at all as
 * {@link IdempotencyRequestError}; the request's `signal` stops it at once. Needs only the platform's `fetch`,
 * so it runs in browsers, Node and edge runtimes (docs/protocol.md section 9).
 *
 * @example
 * const api = new IdempotentClient({ baseUrl: 'https://api.example.com' });
 * const response = await api.fetch('/orders', { method: 'POST', body: JSON.stringify(order) });
 */
export class IdempotentClient {
  readonly #baseUrl: string | URL | undefined;
  readonly #headers: HeadersInit | undefined;
  readonly #budgetMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #maxAttempts: number;
  readonly #bounds: { readonly baseDelayMs: number; readonly maxDelayMs: number };
  readonly #retryStatuses: ReadonlySet<number>;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #newKey: () => string;
  readonly #onRetry: ((retry: RetryInfo) => void) | undefined;

  constructor(options: IdempotentClientOptions = {}) {
    validate(options);
    this.#baseUrl = options.baseUrl;
    this.#headers = options.headers;
    this.#budgetMs = options.budgetMs ?? 30_000;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    this.#maxAttempts = options.maxAttempts ?? 10;
    this.#bounds = { baseDelayMs: options.baseDelayMs ?? 200, maxDelayMs: options.maxDelayMs ?? 5_000 };
    this.#retryStatuses = new Set(options.retryStatuses ?? DEFAULT_RETRY_STATUSES);
    // Looked up per call when not given, so a test or polyfill that replaces globalThis.fetch later is used.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#sleep = options.sleep ?? sleep;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    this.#newKey = options.newKey ?? randomId;
    this.#onRetry = options.onRetry;
  }

  /**
   * Sends one logical operation, retrying it under the same key until it gets an answer it keeps: a 1xx-3xx
   * response is returned; an error status is thrown as {@link IdempotencyProblemError}.
   *
   * @example
   * const created = await api.fetch('/orders', { method: 'POST', body, idempotencyKey: order.id });
   */
  async fetch(input: string | URL, init: IdempotentRequestInit = {}): Promise<Response> {
    const { idempotencyKey, correlationId: givenCorrelationId, signal, ...request } = init;
    const method = (request.method ?? 'GET').toUpperCase();
    assertResendable(request.body);
    const headers = new Headers(this.#headers);
    // forEach rather than iteration: a browser project's types may lack DOM.Iterable.
    new Headers(request.headers).forEach((value, name) => {
      headers.set(name, value);
    });
    const key =
      idempotencyKey ??
      headers.get('idempotency-key') ??
      (SAFE_METHODS.has(method) ? undefined : this.#newKey());
    if (key !== undefined) headers.set('idempotency-key', key);
    const correlationId = givenCorrelationId ?? headers.get('x-correlation-id') ?? this.#newKey();
    headers.set('x-correlation-id', correlationId);
    const url = this.#baseUrl === undefined ? input : new URL(input, this.#baseUrl);
    // A malformed URL, method or header is a bug to report now, never a network error to retry.
    new Request(url, { method, headers });
    const attemptInit: RequestInit = { ...request, method, headers };
    const deadline = this.#now() + this.#budgetMs;

    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const timeoutMs = Math.min(this.#attemptTimeoutMs, deadline - this.#now());
      const outcome = await this.#attempt(url, attemptInit, timeoutMs, signal ?? undefined);
      let failure: Failure;
      if (outcome.kind === 'answer') {
        const { response } = outcome;
        if (response.status < 400) return response;
        const retryable = this.#retryStatuses.has(response.status);
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
        const error = new IdempotencyProblemError({
          status: response.status,
          problem: outcome.problem ?? aboutBlank(response),
          headers: response.headers,
          retryable,
          attempts: attempt,
          retryAfterSeconds: retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000),
          correlationId,
        });
        if (!retryable) throw error;
        failure = { error, reason: 'status', status: response.status, retryAfterMs };
      } else {
        failure = {
          error: new IdempotencyRequestError(outcome.reason, attempt, correlationId, outcome.cause),
          reason: outcome.reason,
        };
      }
      if (attempt >= this.#maxAttempts) throw failure.error;
      const delayMs = retryDelay(attempt, this.#bounds, this.#random, failure.retryAfterMs);
      // A wait that would end past the budget is not started: the caller hears now, not at the deadline.
      if (this.#now() + delayMs >= deadline) throw failure.error;
      this.#onRetry?.({
        attempt,
        reason: failure.reason,
        status: failure.status,
        delayMs,
        retryAfterMs: failure.retryAfterMs,
        correlationId,
      });
      await this.#sleep(delayMs, signal ?? undefined);
    }
  }

  /** One request, abandoned after `timeoutMs`; an error answer's body is read within the same time. */
  async #attempt(
    url: string | URL,
    init: RequestInit,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<AttemptOutcome> {
    if (timeoutMs <= 0) return { kind: 'failed', reason: 'timeout', cause: undefined };
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    // The caller's signal also reaches a returned response's body, so it stays attached after this attempt.
    signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
    try {
      const response = await this.#fetch(url, { ...init, signal: controller.signal });
      if (response.status < 400) return { kind: 'answer', response, problem: undefined };
      return { kind: 'answer', response, problem: await readProblem(response) };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      return timedOut
        ? { kind: 'failed', reason: 'timeout', cause: error }
        : { kind: 'failed', reason: 'network', cause: error };
    } finally {
      clearTimeout(timer);
    }
  }
}

type AttemptOutcome =
  /** `problem` is read for error statuses only. */
  | { readonly kind: 'answer'; readonly response: Response; readonly problem: ProblemDetails | undefined }
  | { readonly kind: 'failed'; readonly reason: 'network' | 'timeout'; readonly cause: unknown };

interface Failure {
  readonly error: IdempotencyProblemError | IdempotencyRequestError;
  readonly reason: RetryInfo['reason'];
  readonly status?: number;
  readonly retryAfterMs?: number;
}

/** The answer's problem+json, or RFC 9457's `about:blank` problem for any other body. */
async function readProblem(response: Response): Promise<ProblemDetails> {
  const fallback = aboutBlank(response);
  const text = await response.text();
  if (!/json/i.test(response.headers.get('content-type') ?? '')) return fallback;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return fallback;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fallback;
  const members = body as Record<string, unknown>;
  return {
    ...members,
    type: typeof members.type === 'string' ? members.type : fallback.type,
    title: typeof members.title === 'string' ? members.title : fallback.title,
    status: typeof members.status === 'number' ? members.status : fallback.status,
  };
}

function aboutBlank(response: Response): ProblemDetails {
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
  };
}

/** A body must be sendable again on a retry: a stream is read once. */
function assertResendable(body: RequestInit['body']): void {
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) {
    throw new IdempotencyConfigError([
      expected(
        '`body` of `IdempotentClient.fetch`',
        'a string, bytes, Blob, FormData or URLSearchParams',
        'a ReadableStream',
        'a stream cannot be sent again on a retry',
      ),
    ]);
  }
}

function validate(options: IdempotentClientOptions): void {
  const issues: string[] = [];
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name))
      issues.push(
        `Unknown option \`${name}\` passed to \`IdempotentClient\`; remove it or check its spelling.`,
      );
  }
  const whole = (name: keyof IdempotentClientOptions, min: number) => {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || (value as number) < min))
      issues.push(
        expected(`\`${name}\` of \`IdempotentClient\``, `a whole number of at least ${min}`, value),
      );
  };
  whole('budgetMs', 1);
  whole('attemptTimeoutMs', 1);
  whole('maxAttempts', 1);
  whole('baseDelayMs', 0);
  whole('maxDelayMs', 0);
  for (const name of FUNCTION_OPTIONS) {
    if (options[name] !== undefined && typeof options[name] !== 'function')
      issues.push(expected(`\`${name}\` of \`IdempotentClient\``, 'a function', options[name]));
  }
  for (const status of options.retryStatuses ?? []) {
    if (!Number.isInteger(status) || !isRetryableStatusChoice(status))
      issues.push(
        expected(
          '`retryStatuses` of `IdempotentClient`',
          'a list of 408, 409, 425, 429 or 5xx statuses',
          status,
          'a 4xx such as 400, 412 or 422 means the request itself is wrong and fails the same way again',
        ),
      );
  }
  if (issues.length > 0) throw new IdempotencyConfigError(issues);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A random UUID (v4): `crypto.randomUUID` where the platform has it (secure contexts), else from random bytes. */
function randomId(): string {
  const { crypto } = globalThis;
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
