import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';

export const EVENT_KINDS = ['http', 'rest', 'function-url', 'alb'] as const;
export type EventKindName = (typeof EVENT_KINDS)[number];

const FILES: Record<EventKindName, string> = {
  http: 'apigw-http-api-v2.json',
  rest: 'apigw-rest-api-v1.json',
  'function-url': 'function-url.json',
  alb: 'alb.json',
};

type Json = Record<string, unknown>;

/** Every raw key and payload marker a test used: none may appear in any log line. */
export const secrets = new Set<string>();

/** A fresh, unique key, registered as a secret. */
export function newKey(): string {
  const key = `key-${randomUUID()}`;
  secrets.add(key);
  return key;
}

/** A JSON payload carrying a unique marker, registered as a secret. */
export function newPayload(extra: Json = {}): Json {
  const marker = `payload-${randomUUID()}`;
  secrets.add(marker);
  return { marker, ...extra };
}

export interface EventInput {
  /** `null` sends no header; a string is sent as the header value as is. */
  readonly key?: string | null;
  readonly body?: Json | string;
  readonly method?: string;
  readonly path?: string;
  readonly org?: string | null;
  readonly headers?: Record<string, string>;
}

/** A realistic event of each kind, built from the samples in `events/`. */
export function httpEvent(kind: EventKindName, input: EventInput = {}): Json {
  const event = JSON.parse(
    readFileSync(new URL(`../../events/${FILES[kind]}`, import.meta.url), 'utf8'),
  ) as Json;
  const method = input.method ?? 'POST';
  const path = input.path ?? '/orders';
  const body =
    input.body === undefined
      ? undefined
      : typeof input.body === 'string'
        ? input.body
        : JSON.stringify(input.body);
  const headers = Object.fromEntries(
    Object.entries(event.headers as Record<string, string>).filter(
      ([name]) => !['idempotency-key', 'x-org-id'].includes(name.toLowerCase()),
    ),
  );
  if (input.key !== null && input.key !== undefined)
    headers[kind === 'rest' ? 'Idempotency-Key' : 'idempotency-key'] = input.key;
  if (input.org !== null && (kind === 'function-url' || kind === 'alb'))
    headers['x-org-id'] = input.org ?? 'acme';
  Object.assign(headers, input.headers);
  event.headers = headers;
  event.body = body ?? null;
  event.isBase64Encoded = false;
  const context = event.requestContext as Json;
  if (kind === 'http' || kind === 'function-url') {
    const http = context.http as Json;
    http.method = method;
    http.path = path;
    event.rawPath = path;
    if (kind === 'http') {
      event.routeKey = `${method} ${path}`;
      context.routeKey = event.routeKey;
      const claims = ((context.authorizer as Json).jwt as Json).claims as Json;
      if (input.org === null) delete claims.org_id;
      else claims.org_id = input.org ?? 'acme';
    }
  } else {
    event.httpMethod = method;
    event.path = path;
    if (kind === 'rest') {
      event.resource = path;
      event.multiValueHeaders = Object.fromEntries(
        Object.entries(headers).map(([name, value]) => [name, [value]]),
      );
      const claims = (context.authorizer as Json).claims as Json;
      if (input.org === null) delete claims['custom:org_id'];
      else claims['custom:org_id'] = input.org ?? 'acme';
    }
  }
  return event;
}

/** Where each kind's org lives: JWT claims (HTTP API), Cognito claims (REST), a trusted header otherwise. */
export function orgOf(event: Json): string | undefined {
  const context = event.requestContext as Json | undefined;
  const authorizer = context?.authorizer as Json | undefined;
  const jwt = authorizer?.jwt as Json | undefined;
  if (jwt !== undefined) return (jwt.claims as Json).org_id as string | undefined;
  if (authorizer?.claims !== undefined)
    return (authorizer.claims as Json)['custom:org_id'] as string | undefined;
  return (event.headers as Record<string, string>)['x-org-id'];
}

/** A Lambda context with a real clock behind `getRemainingTimeInMillis`. */
export function lambdaContext(timeoutMs = 30_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'orders-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:orders-api',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/orders-api',
    logStreamName: '2026/11/22/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface HttpResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

export function header(response: HttpResult | undefined, name: string): string | undefined {
  const entry = Object.entries(response?.headers ?? {}).find(
    ([candidate]) => candidate.toLowerCase() === name.toLowerCase(),
  );
  return entry?.[1];
}

export function problemOf(response: HttpResult): {
  type: string;
  title: string;
  status: number;
  detail: string;
} {
  expectContentType(response);
  return JSON.parse(response.body ?? '{}');
}

function expectContentType(response: HttpResult): void {
  if (header(response, 'content-type') !== 'application/problem+json') {
    throw new Error(`expected application/problem+json, got ${header(response, 'content-type')}`);
  }
}
