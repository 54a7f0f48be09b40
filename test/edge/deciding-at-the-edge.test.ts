/**
 * What the edge door decides for each request, on a memory store written by the origin's own middleware: which
 * requests it looks up, what it answers and with which headers, and what it leaves to the origin. The same
 * door on DynamoDB Local, behind every origin kind, is `edge.dynamodb.test.ts`.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import middy from '@middy/core';
import type { CloudFrontRequest, CloudFrontRequestEvent, CloudFrontResultResponse } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { readCloudFrontRequest, toCloudFrontResponse } from '../../src/edge/cloudfront.js';
import { replicaStore } from '../../src/edge/edge.js';
import {
  type EdgeIdempotencyOptions,
  edgeIdempotency,
  ForwardReason,
  httpIdentity,
} from '../../src/edge/index.js';
import { httpIdempotency } from '../../src/http/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { flushing, recordingTelemetry } from '../core/recording-telemetry.js';
import { lambdaContext, newKey, newPayload } from '../http/harness.js';
import { MemoryResultStore } from '../support/memory-result-store.js';
import { type ClientRequest, cloudFrontEvent, ORIGIN_PATH, originEvent } from './harness.js';

const identity = httpIdentity({
  scope: 'create-order',
  org: (request) => request.headers['x-org-id'],
  originPath: ORIGIN_PATH,
});

type OriginHandler = () => Promise<unknown>;

/** The origin and the edge on one memory store; the origin's handler answers what `answer` returns. */
function doors(answer: OriginHandler, edgeOptions: Partial<EdgeIdempotencyOptions> = {}) {
  const store = new MemoryStore();
  const runs = { count: 0 };
  const origin = middy(async () => {
    runs.count++;
    return answer();
  }).use(
    httpIdempotency({
      store,
      ...identity.origin,
      environment: 'test',
      mode: 'enforce',
      waitBudgetMs: 0,
      enforceMethods: ['POST', 'PATCH', 'PUT'],
    }),
  );
  const edge = edgeIdempotency({ identity, store, environment: 'test', ...edgeOptions });
  const invoke = (request: ClientRequest) =>
    origin(originEvent('http', request), lambdaContext()) as Promise<{ body?: unknown }>;
  return { store, runs, edge, invoke };
}

const created: OriginHandler = async () => ({
  statusCode: 201,
  headers: { 'content-type': 'application/json', location: '/orders/7' },
  body: '{"orderId":"o-7"}',
});

const jsonRequest = (extra: Partial<ClientRequest> = {}): ClientRequest => ({
  key: newKey(),
  body: newPayload({ amount: 1 }),
  contentType: 'application/json',
  ...extra,
});

/** The edge's event for `request` with extra headers, as CloudFront lists them. */
function withHeaders(request: ClientRequest, headers: Record<string, string>): CloudFrontRequestEvent {
  const event = cloudFrontEvent('viewer-request', request);
  const cfHeaders = event.Records[0]?.cf.request.headers ?? {};
  for (const [name, value] of Object.entries(headers)) cfHeaders[name] = [{ key: name, value }];
  return event;
}

const header = (response: CloudFrontResultResponse, name: string) =>
  response.headers?.[name.toLowerCase()]?.map((entry) => entry.value);

async function answered(
  edge: ReturnType<typeof doors>['edge'],
  event: CloudFrontRequestEvent,
): Promise<CloudFrontResultResponse> {
  const outcome = await edge.decide(event);
  if (outcome.kind !== 'answer')
    throw new Error(`Expected an answer, the edge forwarded (${outcome.reason}).`);
  return outcome.response as CloudFrontResultResponse;
}

describe('the correlation id of an answer at the edge', () => {
  it('is the client’s x-correlation-id, else its x-request-id, when 1 to 128 printable characters', async () => {
    const { edge, invoke } = doors(created);
    const request = jsonRequest();
    await invoke(request);
    const longest = 'c'.repeat(128);
    expect(
      header(await answered(edge, withHeaders(request, { 'x-correlation-id': longest })), 'x-correlation-id'),
    ).toEqual([longest]);
    expect(
      header(await answered(edge, withHeaders(request, { 'x-request-id': 'req-9' })), 'x-correlation-id'),
    ).toEqual(['req-9']);
    expect(
      header(
        await answered(edge, withHeaders(request, { 'x-correlation-id': 'corr-1', 'x-request-id': 'req-9' })),
        'x-correlation-id',
      ),
    ).toEqual(['corr-1']);
  });

  it('is generated when the client sent none, one too long or one with a space', async () => {
    const { edge, invoke } = doors(created);
    const request = jsonRequest();
    await invoke(request);
    const sent: Record<string, string>[] = [
      {},
      { 'x-correlation-id': 'c'.repeat(129) },
      { 'x-correlation-id': 'two words' },
    ];
    for (const headers of sent) {
      const answer = await answered(edge, withHeaders(request, headers));
      expect(header(answer, 'x-correlation-id')).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    }
  });
});

describe('the Lambda@Edge handler', () => {
  it('returns the generated response when the edge answers, and the request unchanged when it forwards', async () => {
    const { edge, invoke } = doors(created);
    const request = jsonRequest();
    await invoke(request);
    expect(await edge(cloudFrontEvent('viewer-request', request))).toMatchObject({
      status: '201',
      body: '{"orderId":"o-7"}',
    });
    const unseen = cloudFrontEvent('viewer-request', jsonRequest());
    expect(await edge(unseen)).toBe(unseen.Records[0]?.cf.request);
  });
});

describe('the requests the edge looks up', () => {
  it('are POST and PATCH by default, in any case; others go straight to the origin', async () => {
    const { edge } = doors(created);
    for (const method of ['POST', 'PATCH', 'post']) {
      expect(await edge.decide(cloudFrontEvent('viewer-request', jsonRequest({ method })))).toMatchObject({
        reason: ForwardReason.OriginDecides,
      });
    }
    for (const method of ['PUT', 'GET']) {
      expect(await edge.decide(cloudFrontEvent('viewer-request', jsonRequest({ method })))).toMatchObject({
        reason: ForwardReason.NotGuarded,
      });
    }
  });

  it('are the `enforceMethods` given, whatever their case', async () => {
    const { edge, invoke } = doors(created, { enforceMethods: ['put'] });
    const request = jsonRequest({ method: 'PUT' });
    await invoke(request);
    expect((await answered(edge, cloudFrontEvent('viewer-request', request))).status).toBe('201');
    expect(await edge.decide(cloudFrontEvent('viewer-request', jsonRequest()))).toMatchObject({
      reason: ForwardReason.NotGuarded,
    });
  });

  it('reject an event without a CloudFront record, as a misrouted invocation', async () => {
    const { edge } = doors(created);
    await expect(edge.decide({ Records: [] } as CloudFrontRequestEvent)).rejects.toThrow(
      'Expected a CloudFront request event with one record, got none.',
    );
  });
});

describe('a request whose org the edge cannot name', () => {
  it.each([
    ['names none', () => undefined],
    ['names one that cannot lead a record key', () => 'acme#eu'],
    [
      'throws',
      () => {
        throw new Error('no org header');
      },
    ],
  ])('goes on to the origin when the org function %s', async (_case, org) => {
    const store = new MemoryStore();
    const edge = edgeIdempotency({ identity: httpIdentity({ scope: 'create-order', org }), store });
    expect(await edge.decide(cloudFrontEvent('viewer-request', jsonRequest()))).toMatchObject({
      kind: 'forward',
      reason: ForwardReason.NoOrg,
    });
  });
});

describe('a stored response the edge does not answer itself', () => {
  it('is a streamed one: the origin replays its bytes', async () => {
    const { edge, invoke } = doors(async () => ({
      statusCode: 200,
      headers: { 'content-type': 'application/octet-stream' },
      body: Readable.from([Buffer.from('streamed bytes')]),
    }));
    const request = jsonRequest();
    const first = await invoke(request);
    // The record completes once the stream has been read to its end.
    for await (const _chunk of first.body as Readable) {
      // Read and dropped: only the stream's end matters here.
    }
    expect(await edge.decide(cloudFrontEvent('origin-request', request))).toMatchObject({
      kind: 'forward',
      reason: ForwardReason.TooLarge,
    });
  });

  it('is an empty one (the handler answered nothing): the origin answers it as it always has', async () => {
    const { edge, invoke } = doors(async () => undefined);
    const request = jsonRequest();
    await invoke(request);
    expect(await edge.decide(cloudFrontEvent('origin-request', request))).toMatchObject({
      kind: 'forward',
      reason: ForwardReason.OriginDecides,
    });
  });
});

describe('a request that differs from one whose whole response is kept in a large-result store', () => {
  it('is answered 422 at the edge, as the origin would: only a replay needs the object', async () => {
    const largeResults = new MemoryResultStore();
    const store = new MemoryStore();
    const origin = middy(async () => ({
      statusCode: 200,
      body: randomBytes(600_000).toString('base64'),
    })).use(
      httpIdempotency({
        store,
        ...identity.origin,
        environment: 'test',
        mode: 'enforce',
        waitBudgetMs: 0,
        largeResults,
      }),
    );
    const edge = edgeIdempotency({ identity, store, environment: 'test' });
    const request = jsonRequest();
    await origin(originEvent('http', request), lambdaContext());
    expect(largeResults.objects.size).toBe(1);
    const other = { ...request, body: newPayload({ amount: 2 }) };
    expect((await answered(edge, cloudFrontEvent('origin-request', other))).status).toBe('422');
    expect(await edge.decide(cloudFrontEvent('origin-request', request))).toMatchObject({
      kind: 'forward',
      reason: ForwardReason.TooLarge,
    });
  });
});

describe('a stored response whose body was too large to keep', () => {
  it('is answered at the edge without the body, saying so, as the origin would', async () => {
    const { edge, invoke, runs } = doors(async () => ({
      statusCode: 201,
      headers: { location: '/orders/9' },
      // Random bytes do not compress: well past the record's 350 KB.
      body: randomBytes(450_000).toString('base64'),
    }));
    const request = jsonRequest();
    await invoke(request);
    const replay = await answered(edge, cloudFrontEvent('origin-request', request));
    expect(replay.status).toBe('201');
    expect(replay.body).toBeUndefined();
    expect(header(replay, 'location')).toEqual(['/orders/9']);
    expect(header(replay, 'idempotent-result-omitted')).toEqual(['too_large']);
    expect(header(replay, 'idempotent-replayed')).toEqual(['true']);
    expect(runs.count).toBe(1);
  });
});

describe('the telemetry of the edge', () => {
  it('is flushed once per decision: an answer, a forward, or an event it cannot read', async () => {
    const { telemetry, flushes } = flushing();
    const { edge, invoke } = doors(created, { telemetry });
    const request = jsonRequest();
    await invoke(request);
    await edge.decide(cloudFrontEvent('viewer-request', request));
    expect(flushes.count).toBe(1);
    await edge(cloudFrontEvent('viewer-request', jsonRequest()));
    expect(flushes.count).toBe(2);
    await expect(edge.decide({ Records: [] } as CloudFrontRequestEvent)).rejects.toThrow(TypeError);
    expect(flushes.count).toBe(3);
  });
});

describe('the options of the edge door', () => {
  const variables = [
    'IDEMPOTENCY_ENV',
    'IDEMPOTENCY_ENFORCE_METHODS',
    'IDEMPOTENCY_TABLE',
    'IDEMPOTENCY_LOCK_TTL_SECONDS',
    'MY_IDEMPOTENCY_MODE',
  ];
  afterEach(() => {
    for (const name of variables) delete process.env[name];
  });

  it('say whether neither or both of `table` and `store` were given', () => {
    expect(() => edgeIdempotency({ identity })).toThrow(/exactly one of `table` and `store`.*got neither/);
    expect(() =>
      edgeIdempotency({
        identity,
        store: new MemoryStore(),
        table: { name: 'idempotency', regions: ['us-east-1'] },
      }),
    ).toThrow(/exactly one of `table` and `store`.*got both/);
  });

  it.each([
    ['an identity not made by httpIdentity', { identity: { scope: 'create-order' } }],
    ['an identity without a scope', { identity: { orgOf: () => 'acme' } }],
    ['no identity object at all', { identity: 'create-order' }],
    ['a null identity', { identity: null }],
    ['a table without a name', { table: { name: '', regions: ['us-east-1'] } }],
    ['a table without Regions', { table: { name: 'idempotency', regions: [] } }],
    ['a store that is not an object', { store: 'idempotency' }],
    ['a null store', { store: null }],
    ['a telemetry that is not an object', { telemetry: 'stdout' }],
    ['a null telemetry', { telemetry: null }],
    ['a clock that is not a function', { clock: 1_700_000_000_000 }],
  ])('refuse %s', (_case, wrong) => {
    const options = { identity, store: new MemoryStore(), ...wrong } as Record<string, unknown>;
    if ('table' in wrong) delete options.store;
    expect(() => edgeIdempotency(options as never)).toThrow(/edgeIdempotency/);
  });

  it('say what an identity must be: the object httpIdentity returns', () => {
    expect(() =>
      edgeIdempotency({ identity: { scope: 'create-order' }, store: new MemoryStore() } as never),
    ).toThrow(/the object `httpIdentity\(\.\.\.\)` returns, shared with the origin/);
  });

  it('read a table through one client per Region, in the Region of the nearest replica', async () => {
    const region = process.env.AWS_REGION;
    process.env.AWS_REGION = 'eu-west-2';
    try {
      const orders = replicaStore({ name: 'orders', regions: ['us-east-1', 'eu-west-1'] });
      const invoices = replicaStore({ name: 'invoices', regions: ['eu-west-1', 'ap-southeast-2'] });
      expect(await orders.client.config.region()).toBe('eu-west-1');
      expect(invoices.client).toBe(orders.client);
      expect([orders.tableName, invoices.tableName]).toEqual(['orders', 'invoices']);
      const sydney = replicaStore({ name: 'orders', regions: ['ap-southeast-2'] });
      expect(await sydney.client.config.region()).toBe('ap-southeast-2');
    } finally {
      if (region === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = region;
    }
  });

  it.each([
    'eu-west-1x',
    'xeu-west-1',
    'eu-west-12',
    'euwest-1',
    'e1-west-1',
    'eu-west-',
    'eu-we5t-1',
    'EU-west-1',
  ])('refuse the Region name %s', (region) => {
    expect(() => edgeIdempotency({ identity, table: { name: 'idempotency', regions: [region] } })).toThrow(
      /regions/,
    );
  });

  it('accept Region names of every shape AWS uses', () => {
    for (const region of ['us-east-1', 'ap-southeast-7', 'us-gov-west-1', 'eu-isoe-west-1']) {
      expect(() =>
        edgeIdempotency({ identity, table: { name: 'idempotency', regions: [region] } }),
      ).not.toThrow();
    }
  });

  it('warn of each IDEMPOTENCY_* variable with the option to set instead, and of no other variable', () => {
    Object.assign(process.env, {
      IDEMPOTENCY_ENV: 'prod',
      IDEMPOTENCY_ENFORCE_METHODS: 'POST',
      IDEMPOTENCY_TABLE: 'idempotency',
      IDEMPOTENCY_LOCK_TTL_SECONDS: '30',
      MY_IDEMPOTENCY_MODE: 'off',
    });
    const telemetry = recordingTelemetry();
    edgeIdempotency({ identity, store: new MemoryStore(), telemetry: telemetry.telemetry });
    const said = (name: string) => telemetry.warnings.find((warning) => warning.startsWith(`\`${name}\``));
    expect(said('IDEMPOTENCY_ENV')).toMatch(/set `environment` of `edgeIdempotency` instead\.$/);
    expect(said('IDEMPOTENCY_ENFORCE_METHODS')).toMatch(
      /set `enforceMethods` of `edgeIdempotency` instead\.$/,
    );
    expect(said('IDEMPOTENCY_TABLE')).toMatch(/set `table` of `edgeIdempotency` instead\.$/);
    expect(said('IDEMPOTENCY_LOCK_TTL_SECONDS')).toMatch(
      /set the matching option of `edgeIdempotency` instead\.$/,
    );
    expect(telemetry.warnings.filter((warning) => warning.includes('MY_IDEMPOTENCY_MODE'))).toEqual([]);
  });
});

describe('the identity shared by the origin and the edge', () => {
  it('refuses an org that is neither a string nor a function, saying what it got', () => {
    expect(() => httpIdentity({ scope: 'create-order', org: 42 as never })).toThrow(
      'Expected `org` of `httpIdentity` to be a string or a function of the request, got number.',
    );
  });

  it('names a constant org for every request, at the origin and at the edge', async () => {
    const shared = httpIdentity({ scope: 'create-order', org: 'acme' });
    const read = readCloudFrontRequest(
      cloudFrontEvent('viewer-request', jsonRequest()).Records[0]?.cf.request as CloudFrontRequest,
      shared.originPath,
    );
    if (!('view' in read)) throw new Error('unreadable');
    expect(shared.orgOf(read.view)).toBe('acme');
    expect(shared.origin.org(originEvent('rest', jsonRequest()))).toBe('acme');
  });

  it('leaves the URI as the origin path unless told otherwise, and names no org for an event that is not HTTP', () => {
    const shared = httpIdentity({ scope: 'create-order', org: (request) => request.headers['x-org-id'] });
    expect(shared.originPath('/api/orders')).toBe('/api/orders');
    expect(shared.origin.org({ Records: [] })).toBeUndefined();
    expect(shared.origin.org(originEvent('alb', jsonRequest({ org: 'globex' })))).toBe('globex');
  });
});

describe('a CloudFront request as the origin will read it', () => {
  const request = (overrides: Record<string, unknown>) =>
    ({
      clientIp: '203.0.113.178',
      method: 'post',
      uri: '/api/orders',
      querystring: 'b=2&a=1&a=0',
      headers: {
        'Content-Type': [{ key: 'Content-Type', value: 'application/json' }],
        'x-org-id': [
          { key: 'X-Org-Id', value: 'acme' },
          { key: 'X-Org-Id', value: 'globex' },
        ],
        'x-empty': [],
      },
      body: { action: 'read-only', data: 'e30=', encoding: 'base64', inputTruncated: false },
      ...overrides,
    }) as never;

  it('has the upper-cased method, lower-cased header names with their first value, the sorted query and the body', () => {
    expect(readCloudFrontRequest(request({}), ORIGIN_PATH)).toEqual({
      view: {
        kind: 'http',
        method: 'POST',
        path: '/orders',
        route: 'POST /orders',
        headers: { 'content-type': 'application/json', 'x-org-id': 'acme' },
        query: ['a=0', 'a=1', 'b=2'],
        body: 'e30=',
        isBase64Encoded: true,
      },
    });
  });

  it('has a text body as text, and an empty body as none', () => {
    const text = readCloudFrontRequest(
      request({ body: { action: 'read-only', data: '{}', encoding: 'text', inputTruncated: false } }),
      ORIGIN_PATH,
    );
    expect(text).toMatchObject({ view: { body: '{}', isBase64Encoded: false } });
    const empty = readCloudFrontRequest(
      request({ body: { action: 'read-only', data: '', encoding: 'base64', inputTruncated: false } }),
      ORIGIN_PATH,
    );
    expect(empty).toMatchObject({ view: { body: undefined, isBase64Encoded: false } });
  });

  it('cannot be read without its body, and has none when CloudFront sends the body without data', () => {
    expect(readCloudFrontRequest(request({ body: null }), ORIGIN_PATH)).toEqual({
      unreadable: 'body-not-included',
    });
    expect(
      readCloudFrontRequest(
        request({ body: { action: 'read-only', encoding: 'base64', inputTruncated: false } }),
        ORIGIN_PATH,
      ),
    ).toMatchObject({ view: { body: undefined, isBase64Encoded: false } });
  });

  it('has no query and no headers when CloudFront sends none', () => {
    const bare = readCloudFrontRequest(request({ querystring: undefined, headers: undefined }), ORIGIN_PATH);
    expect(bare).toMatchObject({ view: { query: [], headers: {} } });
  });
});

describe('a response the edge generates', () => {
  it('leaves out every header CloudFront refuses in a generated response, and keeps the others with their case', () => {
    const refused = [
      'Connection',
      'Content-Length',
      'Expect',
      'Keep-Alive',
      'Proxy-Authenticate',
      'Proxy-Authorization',
      'Proxy-Connection',
      'Trailer',
      'Transfer-Encoding',
      'Upgrade',
      'Via',
      'X-Cache',
      'X-Forwarded-Proto',
      'X-Real-IP',
      'X-Accel-Buffering',
      'X-Amz-Cf-Id',
      'X-Amzn-Trace-Id',
      'X-Edge-Location',
    ];
    const generated = toCloudFrontResponse(
      {
        statusCode: 201,
        headers: {
          ...Object.fromEntries(refused.map((name) => [name, 'x'])),
          Location: '/orders/7',
          'X-Count': 3,
        },
        body: '{}',
      },
      40 * 1024,
    );
    expect(generated?.headers).toEqual({
      location: [{ key: 'Location', value: '/orders/7' }],
      'x-count': [{ key: 'X-Count', value: '3' }],
    });
  });

  it('carries every value of a multi-value header once, and each cookie as a Set-Cookie', () => {
    const generated = toCloudFrontResponse(
      {
        statusCode: 200,
        headers: { Vary: 'ignored', 'Cache-Control': 'no-store' },
        multiValueHeaders: { Vary: ['accept', 'origin'] },
        cookies: ['a=1', 'b=2'],
        body: 'ok',
      },
      40 * 1024,
    );
    expect(generated).toEqual({
      status: '200',
      headers: {
        vary: [
          { key: 'Vary', value: 'accept' },
          { key: 'Vary', value: 'origin' },
        ],
        'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
        'set-cookie': [
          { key: 'Set-Cookie', value: 'a=1' },
          { key: 'Set-Cookie', value: 'b=2' },
        ],
      },
      body: 'ok',
      bodyEncoding: 'text',
    });
  });

  it('says a base64 body is base64, and has no body at all for an empty one', () => {
    expect(toCloudFrontResponse({ statusCode: 200, body: 'AAEC', isBase64Encoded: true }, 1024)).toEqual({
      status: '200',
      headers: {},
      body: 'AAEC',
      bodyEncoding: 'base64',
    });
    expect(toCloudFrontResponse({ statusCode: 204, body: '' }, 1024)).toEqual({ status: '204', headers: {} });
    expect(toCloudFrontResponse({ statusCode: 204 }, 1024)).toEqual({ status: '204', headers: {} });
  });

  it('is returned up to the limit, byte for byte, and not one byte past it', () => {
    const response = { statusCode: 200, body: 'é'.repeat(100) };
    const size = Buffer.byteLength(JSON.stringify(toCloudFrontResponse(response, 1_000_000)), 'utf8');
    expect(toCloudFrontResponse(response, size)).toBeDefined();
    expect(toCloudFrontResponse(response, size - 1)).toBeUndefined();
  });
});
