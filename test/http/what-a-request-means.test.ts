/**
 * What makes two HTTP requests the same request (docs/protocol.md section 2): the fingerprint compares what a
 * request means (a JSON or form body by meaning, any other body by its bytes), the raw digest what it was sent as.
 * The edge and the origin compute both from the same view, so these are what either door compares.
 */
import { describe, expect, it } from 'vitest';
import { type HttpRequestView, readHttpEvent } from '../../src/http/event.js';
import { httpFingerprint, httpRawDigest } from '../../src/http/fingerprint.js';

interface Sent {
  readonly method?: string;
  readonly path?: string;
  readonly query?: string;
  readonly contentType?: string;
  readonly body?: unknown;
  readonly base64?: boolean;
}

/** The view of an HTTP API request as sent. */
function request(sent: Sent = {}): HttpRequestView {
  const view = readHttpEvent({
    version: '2.0',
    routeKey: 'POST /orders',
    rawPath: sent.path ?? '/orders',
    rawQueryString: sent.query ?? '',
    headers: sent.contentType === undefined ? {} : { 'content-type': sent.contentType },
    requestContext: { http: { method: sent.method ?? 'POST' } },
    body: sent.body,
    isBase64Encoded: sent.base64 === true,
  });
  if (view === undefined) throw new Error('Expected an HTTP event.');
  return view;
}

const same = (a: Sent, b: Sent) => httpFingerprint(request(a)) === httpFingerprint(request(b));
const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('the fingerprint of a request', () => {
  it('tells apart another method, path, query or body', () => {
    const order = { contentType: 'application/json', body: '{"a":1}' };
    expect(same(order, { ...order, method: 'PATCH' })).toBe(false);
    expect(same(order, { ...order, path: '/orders/2' })).toBe(false);
    expect(same(order, { ...order, query: 'dryRun=1' })).toBe(false);
    expect(same(order, { ...order, body: '{"a":2}' })).toBe(false);
    expect(same({ query: 'a=1&b=2' }, { query: 'b=2&a=1' })).toBe(true);
  });

  it.each([
    ['application/json', true],
    ['Application/JSON; charset=utf-8', true],
    ['application/vnd.api+json', true],
    [undefined, true],
    ['text/plain', false],
  ])('compares a body sent as %s by meaning: %s', (contentType, byMeaning) => {
    expect(
      same({ contentType, body: '{"a":1,"b":[1,2]}' }, { contentType, body: '{ "b": [1, 2], "a": 1 }' }),
    ).toBe(byMeaning);
  });

  it('compares a JSON content type whose body is not JSON by its bytes', () => {
    const json = 'application/json';
    expect(same({ contentType: json, body: 'not json' }, { contentType: json, body: 'not json' })).toBe(true);
    expect(same({ contentType: json, body: 'not json' }, { contentType: json, body: 'not  json' })).toBe(
      false,
    );
  });

  it('reads a base64 body as the bytes it encodes', () => {
    const json = 'application/json';
    expect(
      same(
        { contentType: json, body: base64('{"a":1}'), base64: true },
        { contentType: json, body: '{ "a": 1 }' },
      ),
    ).toBe(true);
    const text = 'text/plain';
    expect(
      same({ contentType: text, body: base64('hello'), base64: true }, { contentType: text, body: 'hello' }),
    ).toBe(true);
    expect(
      same(
        { contentType: text, body: base64('hello'), base64: true },
        { contentType: text, body: base64('hello') },
      ),
    ).toBe(false);
  });

  it('is the same for a body a parser already turned into an object', () => {
    expect(same({ contentType: 'application/json', body: '{"b":2,"a":1}' }, { body: { a: 1, b: 2 } })).toBe(
      true,
    );
  });

  it('is the same for an empty, null or absent body', () => {
    expect(same({ body: '' }, { body: null })).toBe(true);
    expect(same({ body: '' }, {})).toBe(true);
    expect(same({ body: '' }, { body: '""' })).toBe(false);
  });

  describe('of a form body', () => {
    const form = 'application/x-www-form-urlencoded; charset=utf-8';
    it('compares names in any order, and repeated names in their order, as the body parser shapes them', () => {
      expect(same({ contentType: form, body: 'a=1&b=2' }, { contentType: form, body: 'b=2&a=1' })).toBe(true);
      expect(same({ contentType: form, body: 'a=1&a=2' }, { contentType: form, body: 'a=2&a=1' })).toBe(
        false,
      );
      expect(same({ contentType: form, body: 'a=1&a=2' }, { contentType: form, body: 'a=1' })).toBe(false);
      expect(same({ contentType: form, body: 'a=1&a=2&a=3' }, { contentType: form, body: 'a=1&a=2' })).toBe(
        false,
      );
    });

    it('means the same as no body when it is empty', () => {
      expect(same({ contentType: form, body: '' }, { contentType: form })).toBe(true);
      expect(same({ contentType: form, body: '' }, { contentType: form, body: 'a=1' })).toBe(false);
    });

    it('is the same as the object the urlencoded body parser makes of it', () => {
      expect(
        same({ contentType: form, body: 'a=1&a=2&a=3&b=x' }, { body: { b: 'x', a: ['1', '2', '3'] } }),
      ).toBe(true);
      expect(same({ contentType: form, body: 'a=1&b=x' }, { body: { a: '1', b: 'x' } })).toBe(true);
    });
  });
});

describe('the raw digest of a request', () => {
  const digest = (sent: Sent) => httpRawDigest(request(sent));
  const order: Sent = { contentType: 'application/json', body: '{"a":1}' };

  it('is the same for the same bytes, and for a content type in another case', () => {
    expect(digest(order)).toBe(digest({ ...order }));
    expect(digest(order)).toBe(digest({ ...order, contentType: 'Application/JSON' }));
  });

  it('tells apart another method, path, query, content type, encoding or body', () => {
    for (const other of [
      { method: 'PATCH' },
      { path: '/orders/2' },
      { query: 'a=1' },
      { contentType: 'text/plain' },
      { base64: true },
      { body: '{ "a": 1 }' },
    ]) {
      expect(digest({ ...order, ...other })).not.toBe(digest(order));
    }
    expect(digest({ body: '' })).not.toBe(digest({ body: '', contentType: 'application/json' }));
  });

  it('is the same for an empty, null or absent body', () => {
    expect(digest({ body: '' })).toBe(digest({ body: null }));
    expect(digest({ body: '' })).toBe(digest({}));
  });

  it('is not computed for a body a parser already turned into an object', () => {
    expect(digest({ body: { a: 1 } })).toBeUndefined();
  });
});

describe('the digests a record keeps', () => {
  // Stored in every record: a change to how they are computed would make a retry that spans a deploy a 422
  // mismatch (or wait on a raw digest that never matches). These values were computed by the release that wrote them.
  it.each([
    [
      'a JSON body with a query',
      { contentType: 'application/json', body: '{"b":[1,2],"a":"x"}', query: 'z=1&y=2' },
      'WuIAe1D-wNgYwMwU9Ex779mfCNX0LNdevbWiVPJzuD4',
      'TG7M25hv8POE9PpKuUhz-8J_tWrm4lgeiK3TPG5b-Bs',
    ],
    [
      'a form body',
      { contentType: 'application/x-www-form-urlencoded', body: 'a=1&a=2&b=x' },
      'StlycEgu6NZbcmHHdrLibFYb7RZ2Bek97Bc8fhN7wFQ',
      '7n3MiuthsFGBurz7AgK0vwbMppMOGFsBw32TDrz_KyA',
    ],
    [
      'a base64 text body',
      { contentType: 'text/plain', body: base64('hello'), base64: true },
      'AKdj9uTBnUQWb67_ZXO09kWIRZOlh3CJGFCDFIGfXMM',
      'K0lk7B6pinZVx-Dg4hXTi6tZSvol9t2n22_feJ78J44',
    ],
    [
      'no body',
      { method: 'PATCH', path: '/orders/7' },
      'NeQ1_U-DeIl6rtiBCeEE6lygwvTTvV-fA3hD-DZuQaQ',
      'ltLXQGgPn_savTqNC_RYxUoiqVtxuL9piintO4gO6pg',
    ],
  ])('are the same from one release to the next for %s', (_case, sent, fingerprint, rawDigest) => {
    expect(httpFingerprint(request(sent))).toBe(fingerprint);
    expect(httpRawDigest(request(sent))).toBe(rawDigest);
  });
});
