import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Gateway,
  type GatewayRoute,
  httpApiEvent,
  orgFromToken,
  startGateway,
} from '../../playground/gateway.js';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const fn = { functionName: 'orders-api', timeoutMs: 2000, memoryMiB: 512 };

async function serve(handler: GatewayRoute['handler'], crashes: unknown[] = []): Promise<string> {
  gateway = await startGateway({
    port: 0,
    maxBodyBytes: 1024,
    routes: new Map([['POST /orders', { fn, handler }]]),
    onCrash: (error) => crashes.push(error),
  });
  return gateway.url;
}

const post = (url: string, body = '{}', headers: Record<string, string> = {}) =>
  fetch(`${url}/orders`, {
    method: 'POST',
    headers: { authorization: 'Bearer dev:acme', 'content-type': 'application/json', ...headers },
    body,
  });

describe('the local HTTP API', () => {
  it('answers a handler crash with a 500 problem, logs it, and keeps serving', async () => {
    const crashes: unknown[] = [];
    let calls = 0;
    const url = await serve(async () => {
      calls += 1;
      if (calls === 1) throw new TypeError('boom');
      return { statusCode: 200, body: 'ok' };
    }, crashes);
    const crashed = await post(url);
    expect(crashed.status).toBe(500);
    expect(crashed.headers.get('content-type')).toBe('application/problem+json');
    expect(await crashed.json()).toMatchObject({
      status: 500,
      type: expect.stringMatching(/function-error$/),
    });
    expect(crashes).toHaveLength(1);
    expect((await post(url)).status).toBe(200);
  });

  it("answers a handler that runs past the function's timeout with a 504 problem", async () => {
    const url = await serve(
      () => new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200 }), fn.timeoutMs + 500)),
    );
    const answer = await post(url);
    expect(answer.status).toBe(504);
    expect(await answer.json()).toMatchObject({ type: expect.stringMatching(/function-timeout$/) });
  });

  it('gives the handler a payload 2.0 event with the org claim and a counting-down context', async () => {
    let seen: { event: APIGatewayProxyEventV2WithJWTAuthorizer; remaining: number } | undefined;
    const url = await serve(async (event, context) => {
      seen = { event, remaining: context.getRemainingTimeInMillis() };
      return { statusCode: 201, headers: { 'x-made': 'here' }, cookies: ['a=1'], body: '{"ok":true}' };
    });
    const answer = await post(url, '{"items":[]}', { 'idempotency-key': 'k-1', cookie: 'session=1' });
    expect(answer.status).toBe(201);
    expect(answer.headers.get('x-made')).toBe('here');
    expect(answer.headers.get('set-cookie')).toBe('a=1');
    expect(seen?.event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /orders',
      rawPath: '/orders',
      body: '{"items":[]}',
      isBase64Encoded: false,
      cookies: ['session=1'],
      headers: { 'idempotency-key': 'k-1' },
      requestContext: { authorizer: { jwt: { claims: { org_id: 'acme' } } }, http: { method: 'POST' } },
    });
    expect(seen?.remaining).toBeGreaterThan(0);
    expect(seen?.remaining).toBeLessThanOrEqual(fn.timeoutMs);
  });

  it('refuses a body over the limit with 413 before the handler runs', async () => {
    let calls = 0;
    const url = await serve(async () => {
      calls += 1;
      return { statusCode: 200 };
    });
    const answer = await post(url, 'x'.repeat(5000));
    expect(answer.status).toBe(413);
    expect(calls).toBe(0);
  });
});

describe('development tokens', () => {
  it('read the org from `Bearer dev:<org>` and nothing else', () => {
    expect(orgFromToken('Bearer dev:acme')).toBe('acme');
    expect(orgFromToken('bearer dev:globex ')).toBe('globex');
    expect(orgFromToken('Bearer dev:')).toBeUndefined();
    expect(orgFromToken('Bearer eyJhbGciOi...')).toBeUndefined();
    expect(orgFromToken(undefined)).toBeUndefined();
  });
});

describe('payload 2.0 events', () => {
  it('carry a binary body base64-encoded and repeated query parameters joined, as API Gateway does', () => {
    const event = httpApiEvent({
      routeKey: 'POST /orders',
      method: 'POST',
      url: new URL('http://127.0.0.1/orders?a=1&a=2'),
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from([0, 1, 2]),
      org: 'acme',
      sourceIp: '127.0.0.1',
    });
    expect(event.isBase64Encoded).toBe(true);
    expect(event.body).toBe(Buffer.from([0, 1, 2]).toString('base64'));
    expect(event.queryStringParameters).toEqual({ a: '1,2' });
    expect(event.rawQueryString).toBe('a=1&a=2');
  });
});
