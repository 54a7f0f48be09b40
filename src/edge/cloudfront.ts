import type { CloudFrontHeaders, CloudFrontRequest, CloudFrontResultResponse } from 'aws-lambda';
import { EventKind, type HttpRequestView } from '../http/event.js';
import type { ProxyResponse } from '../http/problem.js';

/** The Lambda@Edge events the edge door handles. */
export const EdgeEventType = { ViewerRequest: 'viewer-request', OriginRequest: 'origin-request' } as const;
/** One of {@link EdgeEventType}. */
export type EdgeEventType = (typeof EdgeEventType)[keyof typeof EdgeEventType];

/**
 * The largest response a Lambda@Edge function may generate, headers and body included, in bytes (CloudFront
 * quotas, "Lambda@Edge": 40 KB on viewer request, 1 MB on origin request). A larger stored response is
 * left for the origin to replay.
 */
export const GENERATED_RESPONSE_LIMIT: Readonly<Record<EdgeEventType, number>> = {
  'viewer-request': 40 * 1024,
  'origin-request': 1024 * 1024,
};

// Headers CloudFront refuses in a response a function generates (its "Restrictions on edge functions"), and
// the hop-by-hop ones CloudFront sets itself; a stored response keeps them, the edge leaves them out.
const DISALLOWED = new Set([
  'connection',
  'content-length',
  'expect',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'via',
  'x-cache',
  'x-forwarded-proto',
  'x-real-ip',
]);
const DISALLOWED_PREFIXES = ['x-accel-', 'x-amz-cf-', 'x-amzn-', 'x-edge-'];

/** Why a CloudFront request cannot be read as the origin will read it. */
export type UnreadableReason = 'body-not-included' | 'body-truncated';

/**
 * The request as the origin's `readHttpEvent` will see it, from CloudFront's shape (headers as lists, the body
 * base64 with `inputTruncated`), or why it cannot be: a body the function was not given, or only part of.
 *
 * @example
 * const view = readCloudFrontRequest(event.Records[0].cf.request, (uri) => uri);
 */
export function readCloudFrontRequest(
  request: CloudFrontRequest,
  originPath: (uri: string) => string,
): { readonly view: HttpRequestView } | { readonly unreadable: UnreadableReason } {
  const body = request.body;
  // Without the body (the behaviour does not include it) the fingerprint would be a guess.
  if (body === undefined || body === null) return { unreadable: 'body-not-included' };
  if (body.inputTruncated) return { unreadable: 'body-truncated' };
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(request.headers ?? {})) {
    const first = values[0]?.value;
    if (first !== undefined) headers[name.toLowerCase()] = first;
  }
  const method = request.method.toUpperCase();
  const path = originPath(request.uri);
  const params = new URLSearchParams(request.querystring ?? '');
  const data = body.data ?? '';
  return {
    view: {
      kind: EventKind.Http,
      method,
      path,
      route: `${method} ${path}`,
      headers,
      query: [...params].map(([name, value]) => `${name}=${value}`).sort(),
      body: data === '' ? undefined : data,
      isBase64Encoded: data !== '' && body.encoding !== 'text',
    },
  };
}

/**
 * A Lambda proxy response as the response a Lambda@Edge function generates, or `undefined` when CloudFront
 * could not return it (larger than `limit` bytes, headers and body counted as sent).
 *
 * @example
 * toCloudFrontResponse({ statusCode: 201, headers: { 'content-type': 'application/json' }, body: '{}' }, 40_960);
 */
export function toCloudFrontResponse(
  response: ProxyResponse,
  limit: number,
): CloudFrontResultResponse | undefined {
  const headers: CloudFrontHeaders = {};
  const add = (name: string, value: string | number | boolean) => {
    const lower = name.toLowerCase();
    if (DISALLOWED.has(lower) || DISALLOWED_PREFIXES.some((prefix) => lower.startsWith(prefix))) return;
    headers[lower] ??= [];
    headers[lower].push({ key: name, value: String(value) });
  };
  for (const [name, values] of Object.entries(response.multiValueHeaders ?? {}))
    for (const value of values) add(name, value);
  for (const [name, value] of Object.entries(response.headers ?? {}))
    if (response.multiValueHeaders?.[name] === undefined) add(name, value);
  for (const cookie of response.cookies ?? []) add('Set-Cookie', cookie);
  const body = response.body ?? '';
  const generated: CloudFrontResultResponse = {
    status: String(response.statusCode),
    headers,
    ...(body === '' ? {} : { body, bodyEncoding: response.isBase64Encoded === true ? 'base64' : 'text' }),
  };
  // JSON (its UTF-8 bytes) is longer than what CloudFront counts (names, quotes), so within it is within the limit.
  return Buffer.byteLength(JSON.stringify(generated)) <= limit ? generated : undefined;
}
