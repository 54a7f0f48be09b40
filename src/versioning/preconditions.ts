import type { MiddlewareObj, Request } from '@middy/core';
import type { Context } from 'aws-lambda';
import { readHttpEvent } from '../http/event.js';
import { Problem, problemResponse } from '../http/problem.js';
import { type ExpectedVersion, VersionConflictError } from './versioned-write.js';

/**
 * Options of {@link httpPreconditions}.
 *
 * @example
 * { requireIfMatch: ['PUT', 'PATCH', 'DELETE'] }
 */
export interface HttpPreconditionsOptions {
  /**
   * Methods that must carry `If-Match` (RFC 6585: 428 Precondition Required without it), so no client can
   * overwrite a change it never saw.
   * @default []
   */
  readonly requireIfMatch?: readonly string[];
}

/** The strong `ETag` of a version (RFC 9110 section 8.8.3): `"4"`. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

// The expected version of each running request, by its Lambda context (concurrent invocations each have theirs).
const expectations = new WeakMap<object, ExpectedVersion>();

/**
 * The version the request's `If-Match` names (`'*'` for `If-Match: *`), for the handler's versioned write;
 * `undefined` when the request has no `If-Match`.
 *
 * @example
 * await versionedWrite({ ...write, expectedVersion: ifMatchVersion(context) });
 */
export function ifMatchVersion(context: Context): ExpectedVersion | undefined {
  return typeof context === 'object' && context !== null ? expectations.get(context) : undefined;
}

/** `*`, or one strong entity tag holding a version. A weak tag never matches for `If-Match` (RFC 9110). */
function parseIfMatch(value: string): ExpectedVersion | 'unmatchable' {
  const trimmed = value.trim();
  if (trimmed === '*') return '*';
  const match = /^"(\d{1,15})"$/.exec(trimmed);
  return match === null ? 'unmatchable' : Number(match[1]);
}

type AnyRequest = Request<unknown, unknown, Error, Context, Record<string, unknown>>;

const preconditionFailed = (detail: string, current?: number) =>
  problemResponse(Problem.PreconditionFailed, detail, current === undefined ? {} : { ETag: etagOf(current) });

/**
 * Middy middleware for HTTP preconditions on versioned resources (RFC 9110 `If-Match`, RFC 6585 428): it reads
 * `If-Match` for the handler (`ifMatchVersion(context)`), answers **428** problem+json when a method that requires
 * it has none, and turns a {@link VersionConflictError} from the handler's write into **412** problem+json with
 * the current `ETag`. Use it **before** `httpIdempotency`, so a retry of a write that succeeded is replayed
 * (never a false 412) and a 412 is never stored:
 *
 * @example
 * export const handler = middy(updateOrder)
 *   .use(httpPreconditions({ requireIfMatch: ['PUT', 'PATCH'] }))
 *   .use(httpIdempotency({ store, org }));
 */
export function httpPreconditions<TEvent = unknown, TResult = unknown>(
  options: HttpPreconditionsOptions = {},
): MiddlewareObj<TEvent, TResult> {
  const required = new Set((options.requireIfMatch ?? []).map((method) => method.toUpperCase()));

  const preconditionsBefore = (request: AnyRequest) => {
    const view = readHttpEvent(request.event);
    if (view === undefined) return;
    const header = view.headers['if-match'];
    if (header === undefined) {
      if (!required.has(view.method)) return;
      request.earlyResponse = problemResponse(
        Problem.PreconditionRequired,
        `${view.method} requests to this resource need an If-Match header: read the resource, then send its ETag.`,
      );
      return;
    }
    const expected = parseIfMatch(header);
    if (expected === 'unmatchable') {
      request.earlyResponse = preconditionFailed(
        'If-Match names no current version of this resource (send one strong ETag, as a read returned it, or *).',
      );
      return;
    }
    if (typeof request.context === 'object' && request.context !== null)
      expectations.set(request.context, expected);
  };

  const preconditionsAfter = (request: AnyRequest) => {
    if (typeof request.context === 'object' && request.context !== null) expectations.delete(request.context);
  };

  const preconditionsOnError = (request: AnyRequest) => {
    preconditionsAfter(request);
    if (!(request.error instanceof VersionConflictError)) return;
    // Set the answer without ending the chain: the middlewares after this one (httpIdempotency) still see the
    // error and release their lease, so a 412 is never stored.
    request.response = preconditionFailed(
      request.error.current === undefined
        ? 'The resource does not exist (any more); read it again before you change it.'
        : 'The resource changed since the version in If-Match; read it again and send its new ETag.',
      request.error.currentVersion,
    );
  };

  return {
    name: 'idemkit-preconditions',
    before: preconditionsBefore,
    after: preconditionsAfter,
    onError: preconditionsOnError,
  } as unknown as MiddlewareObj<TEvent, TResult>;
}
