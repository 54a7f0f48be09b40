/**
 * How the HTTP door reads a request: the view of each Lambda event shape (the origin's and the edge's shared
 * input, docs/protocol.md section 4), the default scope it derives, and the `Idempotency-Key` header it parses.
 */
import { describe, expect, it } from 'vitest';
import { defaultScope, type HttpRequestView, readHttpEvent } from '../../src/http/event.js';
import { readIdempotencyKey } from '../../src/http/index.js';

const view = (event: unknown): HttpRequestView => {
  const read = readHttpEvent(event);
  if (read === undefined) throw new Error('Expected an HTTP event.');
  return read;
};

describe('an HTTP API (payload 2.0) event', () => {
  it('is read with its route key, the upper-cased method, lower-cased headers and the sorted query', () => {
    expect(
      readHttpEvent({
        version: '2.0',
        routeKey: 'POST /orders/{id}',
        rawPath: '/orders/7',
        rawQueryString: 'b=2&a=1&a=0',
        headers: { 'Content-Type': 'application/json', 'X-Count': 3 },
        requestContext: { http: { method: 'post', path: '/ignored' } },
        body: '{"a":1}',
        isBase64Encoded: true,
      }),
    ).toEqual({
      kind: 'http',
      method: 'POST',
      path: '/orders/7',
      route: 'POST /orders/{id}',
      headers: { 'content-type': 'application/json' },
      query: ['a=0', 'a=1', 'b=2'],
      body: '{"a":1}',
      isBase64Encoded: true,
    });
  });

  it('takes the path from requestContext.http without a rawPath, else /', () => {
    expect(view({ requestContext: { http: { method: 'POST', path: '/from-context' } } }).path).toBe(
      '/from-context',
    );
    expect(view({ version: '2.0' })).toMatchObject({ method: '', path: '/', query: [], headers: {} });
  });

  it('is a Function URL event with the $default route or none, routed by method and path', () => {
    for (const routeKey of ['$default', undefined]) {
      expect(
        view({ version: '2.0', routeKey, rawPath: '/orders', requestContext: { http: { method: 'PATCH' } } }),
      ).toMatchObject({ kind: 'function-url', route: 'PATCH /orders' });
    }
  });

  it('is base64 only when it says exactly true', () => {
    expect(view({ version: '2.0', isBase64Encoded: 'true' }).isBase64Encoded).toBe(false);
  });
});

describe('a REST API (payload 1.0) event', () => {
  const rest = (extra: Record<string, unknown>) => ({
    resource: '/orders/{id}',
    path: '/orders/7',
    httpMethod: 'post',
    requestContext: { resourcePath: '/orders/{id}' },
    ...extra,
  });

  it('is routed by method and resource, its multi-value header and query lists winning over the single ones', () => {
    expect(
      readHttpEvent(
        rest({
          headers: { Accept: 'text/plain', 'X-Single': 'only', Host: 7 },
          multiValueHeaders: {
            accept: ['application/json', 'text/plain'],
            'X-Empty': [],
            'X-Odd': 'not-a-list',
          },
          queryStringParameters: { a: 'last' },
          multiValueQueryStringParameters: { a: ['2', '1'], n: [3], odd: 'not-a-list' },
          body: null,
        }),
      ),
    ).toEqual({
      kind: 'rest',
      method: 'POST',
      path: '/orders/7',
      route: 'POST /orders/{id}',
      headers: { accept: 'application/json', 'x-single': 'only' },
      query: ['a=1', 'a=2', 'n=3'],
      body: null,
      isBase64Encoded: false,
    });
  });

  it('is base64 only when it says exactly true', () => {
    expect(view(rest({ isBase64Encoded: true })).isBase64Encoded).toBe(true);
    expect(view(rest({ isBase64Encoded: 'true' })).isBase64Encoded).toBe(false);
  });

  it('reads the single-value query when there is no multi-value one, skipping empty values', () => {
    expect(
      view(rest({ queryStringParameters: { b: 'x', a: 1, gone: null, none: undefined } })).query,
    ).toEqual(['a=1', 'b=x']);
  });

  it('is routed by method and path without a resource, and the path is / without one', () => {
    expect(view({ httpMethod: 'DELETE', path: '/orders/7' }).route).toBe('DELETE /orders/7');
    expect(view({ httpMethod: 'DELETE' })).toMatchObject({ path: '/', route: 'DELETE /' });
  });
});

describe('headers or a query sent as a list or as text instead of by name', () => {
  it('are not read as text', () => {
    const read = view({ httpMethod: 'POST', headers: 'idempotency-key: k-1', queryStringParameters: 'a=1' });
    expect([read.headers, read.query]).toEqual([{}, []]);
  });

  it('are not read as a list', () => {
    const read = view({
      httpMethod: 'POST',
      headers: ['idempotency-key: k-1'],
      multiValueHeaders: [['idempotency-key', 'k-1']],
      queryStringParameters: ['a=1'],
    });
    expect([read.headers, read.query]).toEqual([{}, []]);
  });
});

describe('an ALB event', () => {
  it('is routed by method and path, never by a resource', () => {
    expect(
      view({ httpMethod: 'PUT', path: '/orders/7', resource: '/orders/{id}', requestContext: { elb: {} } }),
    ).toMatchObject({ kind: 'alb', route: 'PUT /orders/7' });
  });
});

describe('an event of another shape', () => {
  it.each([
    ['nothing', undefined],
    ['null', null],
    ['a list', [{ httpMethod: 'POST' }]],
    ['a string', 'POST /orders'],
    ['an SQS batch', { Records: [] }],
    ['a method that is not a string', { httpMethod: 7 }],
    ['a list that has an HTTP method', Object.assign([], { httpMethod: 'POST' })],
  ])('is not read as HTTP: %s', (_case, event) => {
    expect(readHttpEvent(event)).toBeUndefined();
  });
});

describe('the default scope of a request', () => {
  it('is its route', () => {
    expect(defaultScope(view({ httpMethod: 'POST', path: '/orders' }))).toBe('POST /orders');
  });

  it('is the method and a digest of the route when the route could not lead a record key', () => {
    const long = defaultScope(view({ httpMethod: 'POST', path: `/${'x'.repeat(300)}` }));
    const hashed = defaultScope(view({ httpMethod: 'POST', path: '/orders#1' }));
    const other = defaultScope(view({ httpMethod: 'POST', path: '/orders#2' }));
    expect(long).toMatch(/^POST route-[A-Za-z0-9_-]{22}$/);
    expect(hashed).toMatch(/^POST route-[A-Za-z0-9_-]{22}$/);
    expect(hashed).not.toBe(other);
    expect(defaultScope(view({ httpMethod: 'POST', path: '/orders#1' }))).toBe(hashed);
  });

  it('says HTTP for the method when the event had none', () => {
    expect(defaultScope(view({ version: '2.0', rawPath: '/a#b' }))).toMatch(/^HTTP route-[A-Za-z0-9_-]{22}$/);
  });
});

describe('the Idempotency-Key header', () => {
  it.each([
    ['a bare token', 'order-7', 'order-7'],
    ['a bare token with spaces around it', '  order-7 ', 'order-7'],
    ['a Structured Field string', '"order-7"', 'order-7'],
    ['a string with escaped quotes and backslashes', '"a\\"b\\\\c"', 'a"b\\c'],
    ['a string of every printable character', `" ~${'!'.repeat(10)}"`, ` ~${'!'.repeat(10)}`],
    ['a bare token that ends in a quote', 'order"', 'order"'],
    ['255 characters', 'k'.repeat(255), 'k'.repeat(255)],
  ])('is read from %s', (_case, raw, key) => {
    expect(readIdempotencyKey(raw)).toEqual({ kind: 'valid', key });
  });

  it('is missing when the header is absent', () => {
    expect(readIdempotencyKey(undefined)).toEqual({ kind: 'missing' });
  });

  it.each([
    ['an unterminated string', '"order-7'],
    ['a lone quote', '"'],
    ['text after the closing quote', '"order"-7'],
    ['an escape of another character', '"a\\nb"'],
    ['an escape at the very end', '"a\\'],
    ['a control character in the string', '"a\u001fb"'],
    ['DEL in the string', '"a\u007fb"'],
    ['a non-ASCII character in the string', '"caf\u00e9"'],
  ])('is invalid as a Structured Field string: %s', (_case, raw) => {
    expect(readIdempotencyKey(raw)).toEqual({
      kind: 'invalid',
      reason: 'The quoted key is not a valid Structured Field string (RFC 9651).',
    });
  });

  it.each([
    ['empty', ''],
    ['only spaces', '   '],
    ['an empty string', '""'],
    ['256 characters', 'k'.repeat(256)],
    ['a control character', 'a\u0001b'],
  ])('is invalid when %s, saying why without the key', (_case, raw) => {
    const reading = readIdempotencyKey(raw);
    expect(reading.kind).toBe('invalid');
    expect(reading).toMatchObject({ reason: expect.stringMatching(/^Expected the idempotency key to /) });
  });
});
