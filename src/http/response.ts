import type { ProxyResponse } from './problem.js';

type Loose = Record<string, unknown>;

const isStructured = (value: unknown): value is ProxyResponse =>
  typeof value === 'object' && value !== null && typeof (value as Loose).statusCode === 'number';

/** The status a handler's result answers with: API Gateway treats a result without `statusCode` as 200. */
export function responseStatus(response: unknown): number {
  return isStructured(response) ? response.statusCode : 200;
}

/**
 * A handler result as a structured proxy response. HTTP APIs and Function URLs accept a bare value and answer
 * it as 200 `application/json`; this does the same, so headers can be added to it.
 *
 * @example
 * toStructured({ id: 1 }); // { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"id":1}' }
 */
export function toStructured(response: unknown): ProxyResponse {
  if (isStructured(response)) return response;
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: typeof response === 'string' ? response : (JSON.stringify(response) ?? ''),
  };
}

/** A copy of `response` with `headers` set, replacing any header of the same name in any case. */
export function headersWith(response: ProxyResponse, headers: Record<string, string>): ProxyResponse {
  const names = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  const without = <T>(entries: Record<string, T>) =>
    Object.fromEntries(Object.entries(entries).filter(([name]) => !names.has(name.toLowerCase())));
  return {
    ...response,
    headers: { ...without(response.headers ?? {}), ...headers },
    ...(response.multiValueHeaders === undefined
      ? {}
      : { multiValueHeaders: without(response.multiValueHeaders) }),
  };
}

/** The result to store: the handler's response without the headers that must not be replayed. */
export function omitHeaders(response: unknown, omitted: ReadonlySet<string>): unknown {
  if (!isStructured(response)) return response;
  const keep = <T>(entries: Record<string, T>) =>
    Object.fromEntries(Object.entries(entries).filter(([name]) => !omitted.has(name.toLowerCase())));
  // An HTTP API's `cookies` are its Set-Cookie headers, which are never stored (the middleware always omits them).
  const { cookies: _cookies, headers, multiValueHeaders, ...rest } = response;
  return {
    ...rest,
    ...(headers === undefined ? {} : { headers: keep(headers) }),
    ...(multiValueHeaders === undefined ? {} : { multiValueHeaders: keep(multiValueHeaders) }),
  };
}
