import { readFileSync } from 'node:fs';
import type { CloudFrontRequestEvent } from 'aws-lambda';
import { type EventKindName, httpEvent } from '../http/harness.js';

type Json = Record<string, unknown>;

/** One client request, as the client sent it; rendered below as each door receives it. */
export interface ClientRequest {
  readonly key?: string;
  readonly method?: string;
  /** The path the origin sees; CloudFront sees it under `/api`. */
  readonly path?: string;
  /** `name=value` pairs joined by `&`, in the client's order. */
  readonly query?: string;
  readonly body?: Json | string;
  readonly contentType?: string;
  readonly org?: string;
}

export const EDGE_EVENTS = ['origin-request', 'viewer-request'] as const;
export type EdgeEventName = (typeof EDGE_EVENTS)[number];

const sample = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8'),
  ) as CloudFrontRequestEvent;

const bodyText = (body: ClientRequest['body']) =>
  body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);

/**
 * The request as CloudFront hands it to a Lambda@Edge function, from the sample in `events/`: with the body
 * (the behaviour includes it; `truncated` marks it cut) or without (the `-no-body` sample: not included).
 */
export function cloudFrontEvent(
  type: EdgeEventName,
  request: ClientRequest,
  body: 'included' | 'not-included' | 'truncated' = 'included',
): CloudFrontRequestEvent {
  const event = sample(`cloudfront-${type}${body === 'not-included' ? '-no-body' : ''}.json`);
  const cf = event.Records[0]?.cf as CloudFrontRequestEvent['Records'][0]['cf'];
  const headers = cf.request.headers;
  delete headers['idempotency-key'];
  delete headers['content-type'];
  delete headers['x-org-id'];
  // The key quoted as a Structured Field string at the edge; the origin gets it bare: the same key.
  if (request.key !== undefined)
    headers['idempotency-key'] = [{ key: 'Idempotency-Key', value: `"${request.key}"` }];
  if (request.contentType !== undefined)
    headers['content-type'] = [{ key: 'Content-Type', value: request.contentType }];
  headers['x-org-id'] = [{ key: 'X-Org-Id', value: request.org ?? 'acme' }];
  (cf.request as { method: string }).method = request.method ?? 'POST';
  cf.request.uri = `/api${request.path ?? '/orders'}`;
  cf.request.querystring = request.query ?? '';
  if (cf.request.body !== undefined) {
    const text = bodyText(request.body) ?? '';
    cf.request.body = {
      ...cf.request.body,
      data: Buffer.from(body === 'truncated' ? text.slice(0, Math.floor(text.length / 2)) : text).toString(
        'base64',
      ),
      inputTruncated: body === 'truncated',
    };
  }
  return event;
}

/** The same request as the origin's Lambda receives it, through API Gateway, a Function URL or an ALB. */
export function originEvent(kind: EventKindName, request: ClientRequest): Json {
  const headers: Record<string, string> = { 'x-org-id': request.org ?? 'acme' };
  if (request.contentType !== undefined) headers['content-type'] = request.contentType;
  const event = httpEvent(kind, {
    key: request.key ?? null,
    body: request.body,
    method: request.method,
    path: request.path,
    headers,
    org: request.org,
  });
  const query = request.query ?? '';
  const pairs = [...new URLSearchParams(query)];
  if (kind === 'http' || kind === 'function-url') {
    event.rawQueryString = query;
    event.queryStringParameters = pairs.length === 0 ? undefined : Object.fromEntries(pairs);
  } else {
    event.queryStringParameters = pairs.length === 0 ? null : Object.fromEntries(pairs);
    if (kind === 'rest') {
      const multi: Record<string, string[]> = {};
      for (const [name, value] of pairs) multi[name] = [...(multi[name] ?? []), value];
      event.multiValueQueryStringParameters = pairs.length === 0 ? null : multi;
    }
  }
  return event;
}

/** The identity both doors share in these tests: org from `x-org-id`, the CloudFront `/api` prefix removed. */
export const ORIGIN_PATH = (uri: string) => uri.replace(/^\/api(?=\/)/, '');
