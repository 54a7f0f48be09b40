import { randomUUID } from 'node:crypto';
import type { MiddlewareObj, Request } from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { buildGuard } from '../core/door.js';
import { durableGuardInput } from '../core/durable.js';
import { remainingTimeOf, valueFingerprint } from '../core/fingerprint.js';
import type { Duplicate, Ownership } from '../core/guard.js';
import { assertValidName } from '../core/keys.js';
import {
  type CommonOptions,
  commonOptionsShape,
  functionSchema,
  orgSchema,
  parseOptions,
  scopeSchema,
  stringListSchema,
} from '../core/options.js';
import { resolveHttpSettings } from '../core/settings.js';
import { Signal, type SignalFacts } from '../core/telemetry.js';
import { defaultScope, type HttpRequestView, readHttpEvent } from './event.js';
import { httpFingerprint, httpRawDigest } from './fingerprint.js';
import { IDEMPOTENCY_KEY_HEADER, readIdempotencyKey } from './key.js';
import { Problem, type ProxyResponse, problemResponse } from './problem.js';
import { headersWith, omitHeaders, responseStatus, toStructured } from './response.js';
import { isStoredStream, isStreamBody, keepWhileStreaming, replayStream } from './streaming.js';

/** The header a replayed response carries. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';
/** The header a replay carries when the stored body was left out (`too_large` or `unserializable`). */
export const RESULT_OMITTED_HEADER = 'Idempotent-Result-Omitted';
/** The correlation header read from the request (else `x-request-id`, else generated) and echoed back. */
export const CORRELATION_HEADER = 'x-correlation-id';

// Lower-cased where they are used; a call here would keep the module's top level in every bundle that imports it.
const DEFAULT_OMITTED_HEADERS = ['set-cookie', 'date', CORRELATION_HEADER, 'x-request-id', REPLAYED_HEADER];
// Stryker disable next-line StringLiteral: any key works that no other middleware uses; none is tested for.
const STATE = 'idemkit:http';

/**
 * Which responses are stored for replay, and which of their headers.
 *
 * @example
 * { statusCodes: (status) => status >= 200 && status < 300, omitHeaders: ['x-rate-limit'] }
 */
export interface StoreResponseOptions {
  /**
   * Whether a response with this status is stored and replayed; others release the key so a retry runs again.
   * @default (status) => status < 500 - 2xx, 3xx and 4xx are stored; 5xx are released
   */
  readonly statusCodes?: (statusCode: number) => boolean;
  /**
   * Response headers never stored or replayed, besides `Set-Cookie`, `Date`, `X-Correlation-Id`, `X-Request-Id`.
   * @default []
   */
  readonly omitHeaders?: readonly string[];
}

/**
 * Options of {@link httpIdempotency}. Every `IDEMPOTENCY_*` variable of docs/protocol.md section 5 wins over the
 * matching option, so operators can change a running service without a code change.
 *
 * @example
 * { store, scope: 'create-order', org: (event) => event.requestContext.authorizer.jwt.claims.org_id }
 */
export interface HttpIdempotencyOptions<TEvent = unknown> extends CommonOptions {
  /**
   * The tenant: a constant, or a function of the trusted, authenticated context (authorizer claims). Never a
   * value the client can set unless that is the service's choice.
   */
  readonly org: string | ((event: TEvent, context: Context) => string | undefined);
  /**
   * The operation's name; two operations never share records.
   * @default the route: `routeKey` (HTTP API), method and resource (REST), method and path (Function URL, ALB)
   */
  readonly scope?: string;
  /**
   * Methods that require an `Idempotency-Key`; other methods pass through untouched.
   * `IDEMPOTENCY_ENFORCE_METHODS` (comma-separated) wins over it.
   * @default ['POST', 'PATCH']
   */
  readonly enforceMethods?: readonly string[];
  /**
   * Paths left alone, as globs where `*` matches any characters (`/health`, `/internal/*`).
   * `IDEMPOTENCY_EXCLUDE_PATHS` (comma-separated) wins over it.
   * @default []
   */
  readonly excludePaths?: readonly string[];
  /**
   * What the request means, compared on every retry (same key + different fingerprint = 422).
   * @default method, path, sorted query and the canonical body (JSON compared by meaning)
   */
  readonly fingerprint?: (event: TEvent, context: Context) => unknown;
  /**
   * Which responses are stored and replayed.
   * @default { statusCodes: (status) => status < 500 }
   */
  readonly storeResponse?: StoreResponseOptions;
  /**
   * Runs once per operation, right after its response is stored (an audit record): never on a replay, a
   * duplicate, a lost lease or a released key (a 5xx, a throw). A throw is logged; the response stands.
   * @default none
   */
  readonly onFirstCompletion?: (event: TEvent, response: unknown, context: Context) => Promise<void> | void;
}

// Built by the factory, once per middleware at cold start: a module-level object spreading the common shape
// could not be dropped, and the edge, which imports this module for `decisionResponse`, would carry it.
const optionsSchema = () =>
  z.strictObject({
    ...commonOptionsShape,
    org: orgSchema,
    scope: z.optional(scopeSchema),
    enforceMethods: z.optional(stringListSchema),
    excludePaths: z.optional(stringListSchema),
    fingerprint: z.optional(functionSchema),
    storeResponse: z.optional(
      z.strictObject({ statusCodes: z.optional(functionSchema), omitHeaders: z.optional(stringListSchema) }),
    ),
    onFirstCompletion: z.optional(functionSchema),
  });

interface RequestState {
  readonly correlationId: string;
  readonly facts: SignalFacts;
  ownership?: Ownership;
}

// The abort signal of each running first execution, by its Lambda context: concurrent invocations in one
// process (Lambda Managed Instances) each have their own context object.
const signals = new WeakMap<object, AbortSignal>();

/**
 * The abort signal of the lease this HTTP request runs under: it aborts when another invocation takes the
 * lease over (the outcome would not be stored), so a long handler can stop early. `undefined` when the request
 * is not a guarded first execution.
 *
 * @example
 * const handler = middy(async (event, context) => {
 *   await db.write(order, { abortSignal: httpLeaseSignal(context) });
 * }).use(httpIdempotency(options));
 */
export function httpLeaseSignal(context: Context): AbortSignal | undefined {
  // A WeakMap answers undefined for a non-object key, so no guard is needed for a plain call.
  return signals.get(context);
}

type AnyRequest = Request<unknown, unknown, Error, Context, Record<string, unknown>>;

/**
 * Middy middleware that makes HTTP handlers (API Gateway REST and HTTP APIs, Function URLs, ALB) idempotent
 * by the `Idempotency-Key` header, per docs/protocol.md section 4: the first request runs; a retry with the same
 * request gets the stored response with `Idempotent-Replayed: true`; a reused key with another request gets
 * 422; a retry while the first still runs waits, then gets 409 with `Retry-After`.
 *
 * @example
 * export const handler = middy(createOrder).use(httpIdempotency({
 *   store: new DynamoDBStore({ tableName: 'idempotency' }),
 *   scope: 'create-order',
 *   org: (event) => event.requestContext.authorizer.jwt.claims.org_id,
 * }));
 */
export function httpIdempotency<TEvent = unknown, TResult = unknown>(
  options: HttpIdempotencyOptions<TEvent>,
): MiddlewareObj<TEvent, TResult> {
  parseOptions(optionsSchema(), options, 'httpIdempotency');
  const guard = buildGuard(options, 'httpIdempotency');
  const { engine } = guard;
  const { enforceMethods, excludePaths } = resolveHttpSettings(options);
  const isExcluded = globMatcher(excludePaths);
  const shouldStore = options.storeResponse?.statusCodes ?? ((status: number) => status < 500);
  // Stryker disable next-line ArrayDeclaration: one more omitted name that no response carries changes nothing.
  const alsoOmitted = options.storeResponse?.omitHeaders ?? [];
  const omitted = new Set([...DEFAULT_OMITTED_HEADERS, ...alsoOmitted].map(lower));
  const enforcing = () => engine.mode === 'enforce';

  const answer = (request: AnyRequest, state: RequestState, response: ProxyResponse | undefined) => {
    request.earlyResponse =
      response === undefined
        ? undefined
        : headersWith(response, { [CORRELATION_HEADER]: state.correlationId });
    // Middy runs no `after` on an early response: this invocation's metrics are written here.
    engine.telemetry.flush?.();
  };

  const idempotencyBefore = async (request: AnyRequest): Promise<void> => {
    if (engine.mode === 'off') return;
    const view = readHttpEvent(request.event);
    if (view === undefined || !enforceMethods.has(view.method) || isExcluded(view.path)) return;
    const correlationId = correlationOf(view);
    const scope = options.scope ?? defaultScope(view);
    const state: RequestState = { correlationId, facts: { mode: engine.mode, scope, correlationId } };
    request.internal[STATE] = state;

    const reading = readIdempotencyKey(view.headers[IDEMPOTENCY_KEY_HEADER]);
    if (reading.kind !== 'valid') {
      const missing = reading.kind === 'missing';
      engine.telemetry.emit(missing ? Signal.MissingKey : Signal.InvalidKey, state.facts);
      if (!enforcing()) return;
      return answer(
        request,
        state,
        missing
          ? problemResponse(
              Problem.MissingKey,
              `${view.method} requests to this endpoint need an Idempotency-Key header: send a unique value (a UUID) and reuse it on retries.`,
            )
          : problemResponse(
              Problem.InvalidKey,
              `${reading.reason} Send 1 to 255 printable characters, as a bare token or a quoted string.`,
            ),
      );
    }
    const org = resolveOrg(options.org, request.event as TEvent, request.context);
    if (org === undefined) {
      engine.telemetry.emit(Signal.InvalidOrg, state.facts);
      if (!enforcing()) return;
      return answer(
        request,
        state,
        problemResponse(
          Problem.InvalidOrg,
          'The authenticated context names no usable organization; sign in with an account that belongs to one.',
        ),
      );
    }
    // The default fingerprint is computed only if the raw digest cannot decide (docs/protocol.md section 2).
    const fingerprint =
      options.fingerprint === undefined
        ? () => httpFingerprint(view)
        : valueFingerprint(options.fingerprint(request.event as TEvent, request.context));
    const entry = await guard.enter({
      org,
      scope,
      key: reading.key,
      fingerprint,
      ...(options.fingerprint === undefined ? { rawDigest: httpRawDigest(view) } : {}),
      correlationId,
      // Inside a Lambda durable function, the execution owns the record (docs/protocol.md section 10).
      ...durableGuardInput([request.context], () => remainingTimeOf(request.context)),
    });
    switch (entry.kind) {
      case 'owner':
        state.ownership = entry.ownership;
        // Middy passes `{}` when it is invoked without a context, so there is always an object to key on.
        signals.set(request.context, entry.ownership.signal);
        return;
      case 'unguarded':
        return;
      case 'refused':
        return answer(
          request,
          state,
          problemResponse(
            Problem.StoreUnavailable,
            'The idempotency store could not be reached, so the request was not run; retry with the same Idempotency-Key.',
            { 'Retry-After': '1' },
          ),
        );
      case 'duplicate':
        return answer(request, state, decisionResponse(entry.decision));
    }
  };

  /** The request's ownership, taken once: the phase that settles it is the only one that may. */
  const takeOwnership = (request: AnyRequest, state: RequestState | undefined): Ownership | undefined => {
    const ownership = state?.ownership;
    if (state !== undefined) state.ownership = undefined;
    if (ownership !== undefined) signals.delete(request.context);
    return ownership;
  };

  const idempotencyAfter = async (request: AnyRequest): Promise<void> => {
    const state = request.internal[STATE] as RequestState | undefined;
    if (state === undefined) return;
    const ownership = takeOwnership(request, state);
    if (ownership !== undefined) {
      const status = responseStatus(request.response);
      if (status >= 500 || !shouldStore(status)) {
        await ownership.release();
      } else {
        const stored = omitHeaders(request.response, omitted);
        // Stored only when the response does not fit: its status and headers, without the body.
        const fallback = { ...toStructured(stored), body: '' };
        const { onFirstCompletion } = options;
        const response = request.response;
        const audit =
          onFirstCompletion && (() => onFirstCompletion(request.event as TEvent, response, request.context));
        const body = (response as { body?: unknown } | undefined)?.body;
        if (isStreamBody(body)) {
          // A streamed body is settled when it ends: completed whole, or released if it fails midway.
          request.response = {
            ...(response as ProxyResponse),
            body: keepWhileStreaming(stored as ProxyResponse, body, (outcome) =>
              (outcome.ok
                ? ownership.complete(outcome.stored, { fallback, dropped: outcome.dropped, audit })
                : ownership.release()
              ).finally(() => engine.telemetry.flush?.()),
            ),
          };
        } else {
          await ownership.complete(stored, { fallback, audit });
        }
      }
    }
    if (request.response !== undefined && request.response !== null) {
      request.response = headersWith(toStructured(request.response), {
        [CORRELATION_HEADER]: state.correlationId,
      });
    }
    engine.telemetry.flush?.();
  };

  const idempotencyOnError = async (request: AnyRequest): Promise<void> => {
    // Only a lease this request owns is released: a rejected duplicate holds none.
    await takeOwnership(request, request.internal[STATE] as RequestState | undefined)?.release();
    engine.telemetry.flush?.();
  };

  return {
    name: 'idemkit-http',
    before: idempotencyBefore,
    after: idempotencyAfter,
    onError: idempotencyOnError,
  } as unknown as MiddlewareObj<TEvent, TResult>;
}

/** The response for a duplicate in `enforce` mode; the edge door answers with the same one (src/edge). */
export function decisionResponse(decision: Duplicate): ProxyResponse | undefined {
  switch (decision.kind) {
    case 'replay': {
      const dropped = decision.dropped;
      if (decision.result === undefined && dropped === undefined) return undefined;
      const replayed = isStoredStream(decision.result)
        ? replayStream(decision.result)
        : toStructured(decision.result ?? { statusCode: 200 });
      return headersWith(dropped === undefined ? replayed : { ...replayed, body: '' }, {
        [REPLAYED_HEADER]: 'true',
        ...(dropped === undefined ? {} : { [RESULT_OMITTED_HEADER]: dropped }),
      });
    }
    case 'mismatch':
      return problemResponse(
        Problem.KeyMismatch,
        'This Idempotency-Key was already used with a different request; send a new key for a new request.',
      );
    case 'failed':
      return problemResponse(
        Problem.PreviouslyFailed,
        'This Idempotency-Key belongs to an operation that failed permanently; send a new key to try again.',
      );
    case 'in_progress':
      return problemResponse(
        Problem.InProgress,
        `The first request with this Idempotency-Key is still running; retry in ${decision.retryAfterSeconds} s with the same key.`,
        { 'Retry-After': String(decision.retryAfterSeconds) },
      );
  }
}

function resolveOrg<TEvent>(
  org: HttpIdempotencyOptions<TEvent>['org'],
  event: TEvent,
  context: Context,
): string | undefined {
  let value: unknown;
  try {
    value = typeof org === 'string' ? org : org(event, context);
    assertValidName('org', value);
  } catch {
    // A missing claim or a malformed org id is the request's problem, answered with 400, never a 500.
    return undefined;
  }
  return value as string;
}

function correlationOf(view: HttpRequestView): string {
  const candidate = view.headers[CORRELATION_HEADER] ?? view.headers['x-request-id'];
  return candidate !== undefined && /^[\x21-\x7e]{1,128}$/.test(candidate) ? candidate : randomUUID();
}

/** `*` matches any run of characters; everything else is literal. */
function globMatcher(globs: readonly string[]): (path: string) => boolean {
  if (globs.length === 0) return () => false;
  const patterns = globs.map(
    (glob) =>
      new RegExp(
        `^${glob
          .split('*')
          .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
      ),
  );
  return (path) => patterns.some((pattern) => pattern.test(path));
}

const lower = (name: string) => name.toLowerCase();
