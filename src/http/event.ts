import { createHash } from 'node:crypto';
import { assertValidName } from '../core/keys.js';

/** The HTTP event shapes Lambda receives, as far as idemkit reads them. */
export const EventKind = {
  /** API Gateway REST API (payload 1.0). */
  Rest: 'rest',
  /** API Gateway HTTP API (payload 2.0). */
  Http: 'http',
  /** Lambda Function URL (payload 2.0, route `$default`). */
  FunctionUrl: 'function-url',
  /** Application Load Balancer. */
  Alb: 'alb',
} as const;
/** One of {@link EventKind}. */
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/** What the middleware needs of any HTTP event, read once per request. */
export interface HttpRequestView {
  readonly kind: EventKind;
  /** Upper case. */
  readonly method: string;
  readonly path: string;
  /** The route template when the source has one (`POST /orders/{id}`), else method and path. */
  readonly route: string;
  /** Lower-cased names; the first value when a header repeats. */
  readonly headers: Readonly<Record<string, string>>;
  /** `name=value` pairs, sorted, so parameter order does not change the fingerprint. */
  readonly query: readonly string[];
  /** The body as the handler will see it: a string, or an object when a body parser ran first. */
  readonly body: unknown;
  readonly isBase64Encoded: boolean;
}

type Loose = Record<string, unknown>;

const asRecord = (value: unknown): Loose | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : undefined;
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * Reads an API Gateway REST (v1) or HTTP API (v2), Function URL or ALB event. Returns `undefined` for
 * anything else, so a misrouted event is answered, never thrown on.
 *
 * @example
 * const view = readHttpEvent(event); // { kind: 'http', method: 'POST', path: '/orders', ... }
 */
export function readHttpEvent(event: unknown): HttpRequestView | undefined {
  const record = asRecord(event);
  if (record === undefined) return undefined;
  const requestContext = asRecord(record.requestContext) ?? {};
  const http = asRecord(requestContext.http);
  const headers = readHeaders(record);
  if (record.version === '2.0' || http !== undefined) {
    const method = (asString(http?.method) ?? '').toUpperCase();
    const path = asString(record.rawPath) ?? asString(http?.path) ?? '/';
    const routeKey = asString(record.routeKey);
    // A Function URL has the route `$default` or none; an HTTP API route key is the route template.
    const isHttpApi = routeKey !== undefined && routeKey !== '$default';
    return {
      kind: isHttpApi ? EventKind.Http : EventKind.FunctionUrl,
      method,
      path,
      route: isHttpApi ? routeKey : `${method} ${path}`,
      headers,
      query: sortedQuery(new URLSearchParams(asString(record.rawQueryString) ?? '')),
      body: record.body,
      isBase64Encoded: record.isBase64Encoded === true,
    };
  }
  const method = asString(record.httpMethod)?.toUpperCase();
  if (method === undefined) return undefined;
  const path = asString(record.path) ?? '/';
  const isAlb = asRecord(requestContext.elb) !== undefined;
  const resource = asString(record.resource);
  return {
    kind: isAlb ? EventKind.Alb : EventKind.Rest,
    method,
    path,
    route: `${method} ${!isAlb && resource !== undefined ? resource : path}`,
    headers,
    query: sortedQuery(readQuery(record)),
    body: record.body,
    isBase64Encoded: record.isBase64Encoded === true,
  };
}

function readHeaders(record: Loose): Record<string, string> {
  const headers: Record<string, string> = {};
  const multi = asRecord(record.multiValueHeaders);
  if (multi !== undefined) {
    for (const [name, values] of Object.entries(multi)) {
      const first = Array.isArray(values) ? asString(values[0]) : undefined;
      if (first !== undefined) headers[name.toLowerCase()] = first;
    }
  }
  for (const [name, value] of Object.entries(asRecord(record.headers) ?? {})) {
    const lower = name.toLowerCase();
    if (typeof value === 'string' && headers[lower] === undefined) headers[lower] = value;
  }
  return headers;
}

function readQuery(record: Loose): URLSearchParams {
  const params = new URLSearchParams();
  const multi = asRecord(record.multiValueQueryStringParameters);
  if (multi !== undefined) {
    for (const [name, values] of Object.entries(multi)) {
      if (Array.isArray(values)) for (const value of values) params.append(name, String(value));
    }
    return params;
  }
  for (const [name, value] of Object.entries(asRecord(record.queryStringParameters) ?? {})) {
    if (value !== undefined && value !== null) params.append(name, String(value));
  }
  return params;
}

function sortedQuery(params: URLSearchParams): string[] {
  return [...params].map(([name, value]) => `${name}=${value}`).sort();
}

/**
 * The default scope of a request: its route (`POST /orders`). A route that cannot lead a `pk`
 * (too long, `#` or `*`) is replaced by the method and a digest of the route, so a client's path can
 * never make the scope invalid.
 *
 * @example
 * defaultScope(view); // 'POST /orders/{id}'
 */
export function defaultScope(view: HttpRequestView): string {
  try {
    assertValidName('scope', view.route);
    return view.route;
  } catch {
    return `${view.method || 'HTTP'} route-${createHash('sha256').update(view.route).digest('base64url').slice(0, 22)}`;
  }
}
