import { randomBytes } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import type { CloudFrontRequestEvent, CloudFrontResultResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { readCloudFrontRequest } from '../../src/edge/cloudfront.js';
import { type EdgeHandler, edgeIdempotency, ForwardReason, httpIdentity } from '../../src/edge/index.js';
import { readHttpEvent } from '../../src/http/event.js';
import { httpFingerprint } from '../../src/http/fingerprint.js';
import { httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { recordingTelemetry } from '../core/recording-telemetry.js';
import {
  EVENT_KINDS,
  type EventKindName,
  type HttpResult,
  lambdaContext,
  newKey,
  newPayload,
  secrets,
} from '../http/harness.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { captureLogs, type LogCapture } from '../support/log-capture.js';
import { MemoryResultStore } from '../support/memory-result-store.js';
import { type ClientRequest, cloudFrontEvent, EDGE_EVENTS, ORIGIN_PATH, originEvent } from './harness.js';

const { client } = localClient();
let store: DynamoDBStore;
let tableName: string;
let logs: LogCapture;

const identity = httpIdentity({
  scope: 'create-order',
  org: (request) => request.headers['x-org-id'],
  originPath: ORIGIN_PATH,
});

beforeAll(async () => {
  tableName = await createIdempotencyTable(client);
  store = new DynamoDBStore({ tableName, client });
  edge = edgeIdempotency({ identity, store, environment: 'test' });
  logs = captureLogs();
});
afterAll(() => {
  logs.stop();
  client.destroy();
  // No raw key, payload or result reached a log line, at the origin or the edge.
  for (const line of logs.lines) for (const secret of secrets) expect(line).not.toContain(secret);
});

/** The origin: `httpIdempotency` with the shared identity, in front of a handler that counts its runs. */
function origin(handler?: (event: Record<string, unknown>) => Promise<unknown>) {
  const runs = { count: 0 };
  const wrapped = middy(async (event: Record<string, unknown>) => {
    runs.count++;
    if (handler !== undefined) return handler(event);
    return {
      statusCode: 201,
      headers: { 'content-type': 'application/json', location: '/orders/1' },
      body: JSON.stringify({ orderId: `order-${runs.count}`, secret: newPayload().marker }),
    };
  }).use(
    httpIdempotency({ store, ...identity.origin, environment: 'test', mode: 'enforce', waitBudgetMs: 0 }),
  );
  const invoke = (kind: EventKindName, request: ClientRequest) =>
    wrapped(originEvent(kind, request), lambdaContext()) as Promise<HttpResult>;
  return { runs, invoke };
}

let edge: EdgeHandler;

const answered = async (event: CloudFrontRequestEvent): Promise<CloudFrontResultResponse> => {
  const outcome = await edge.decide(event);
  if (outcome.kind !== 'answer')
    throw new Error(`Expected an answer, the edge forwarded (${outcome.reason}).`);
  return outcome.response as CloudFrontResultResponse;
};
const header = (response: CloudFrontResultResponse, name: string) =>
  response.headers?.[name.toLowerCase()]?.[0]?.value;

const REQUESTS: Record<string, (key: string) => ClientRequest> = {
  'a JSON body with a query': (key) => ({
    key,
    body: newPayload({ items: [{ sku: 'BOOK-42', quantity: 2 }] }),
    contentType: 'application/json',
    query: 'source=web&b=2&a=1',
  }),
  'a form body': (key) => ({
    key,
    body: `sku=BOOK-42&quantity=2&note=${newPayload().marker}`,
    contentType: 'application/x-www-form-urlencoded',
  }),
  'a text body': (key) => ({ key, body: `plain ${newPayload().marker} é`, contentType: 'text/plain' }),
  'no body': (key) => ({ key, path: '/orders/42/cancel' }),
};

describe('the edge and the origin name a request the same way', () => {
  describe.each(EVENT_KINDS)('behind a %s origin', (kind) => {
    describe.each(EDGE_EVENTS)('at %s', (type) => {
      it.each(Object.keys(REQUESTS))(
        'derive the same pk and fingerprint for %s, as the record shows',
        async (name) => {
          const key = newKey();
          const request = (REQUESTS[name] as (key: string) => ClientRequest)(key);
          const { invoke } = origin();
          const first = await invoke(kind, request);
          expect(first.statusCode).toBe(201);

          const items = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
          const pk = recordKey('acme', 'create-order', key);
          const item = items.Items?.find((candidate) => candidate.pk?.S === pk);
          expect(item?.status?.S).toBe('COMPLETED');
          const [record] = cloudFrontEvent(type, request).Records;
          if (record === undefined) throw new Error('the sample has no record');
          const read = readCloudFrontRequest(record.cf.request, ORIGIN_PATH);
          if (!('view' in read)) throw new Error(`unreadable: ${read.unreadable}`);
          const originView = readHttpEvent(originEvent(kind, request));
          if (originView === undefined) throw new Error('the origin event is not HTTP');
          expect(httpFingerprint(read.view)).toBe(httpFingerprint(originView));
          expect(item?.fingerprint?.S).toBe(httpFingerprint(read.view));
          expect(recordKey(identity.orgOf(read.view) as string, identity.scope, key)).toBe(pk);

          const replay = await answered(cloudFrontEvent(type, request));
          expect(replay.status).toBe('201');
          expect(header(replay, 'Idempotent-Replayed')).toBe('true');
          expect(replay.body).toBe(first.body);
          expect(header(replay, 'location')).toBe('/orders/1');
        },
      );
    });
  });

  it('tells requests apart that the origin tells apart: another body is a mismatch at both', async () => {
    const key = newKey();
    const { invoke } = origin();
    await invoke('http', { key, body: { amount: 5 }, contentType: 'application/json' });
    const other = { key, body: { amount: 6 }, contentType: 'application/json' };
    expect((await invoke('http', other)).statusCode).toBe(422);
    const rejected = await answered(cloudFrontEvent('origin-request', other));
    expect(rejected.status).toBe('422');
    expect(JSON.parse(rejected.body as string).type).toBe(
      'https://idemkit.dev/problems/idempotency-key-reused',
    );
    expect(header(rejected, 'content-type')).toBe('application/problem+json');
  });

  it('treats JSON the same whatever its key order or spacing, as the origin does', async () => {
    const key = newKey();
    const { invoke } = origin();
    await invoke('function-url', { key, body: '{"a":1,"b":[1,2]}', contentType: 'application/json' });
    const replay = await answered(
      cloudFrontEvent('viewer-request', {
        key,
        body: '{ "b": [1, 2], "a": 1 }',
        contentType: 'application/json',
      }),
    );
    expect(replay.status).toBe('201');
  });
});

describe('the edge answers only what the origin decided', () => {
  it('answers 409 with Retry-After while the origin still runs, then the stored response once it completes', async () => {
    const key = newKey();
    let finish: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const { invoke, runs } = origin(async () => {
      await released;
      return { statusCode: 201, body: '{"done":true}' };
    });
    const request = { key, body: { amount: 1 }, contentType: 'application/json' };
    const first = invoke('rest', request);
    const pk = recordKey('acme', 'create-order', key);
    // Wait for the origin's claim itself, bounded only by the test's timeout.
    while ((await store.get(pk))?.status !== 'IN_PROGRESS')
      await new Promise((resolve) => setImmediate(resolve));

    const busy = await answered(cloudFrontEvent('viewer-request', request));
    expect(busy.status).toBe('409');
    expect(Number(header(busy, 'Retry-After'))).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(busy.body as string).type).toBe('https://idemkit.dev/problems/request-in-progress');

    finish();
    expect((await first).statusCode).toBe(201);
    const replay = await answered(cloudFrontEvent('viewer-request', request));
    expect(replay.status).toBe('201');
    expect(replay.body).toBe('{"done":true}');
    expect(runs.count).toBe(1);
  });

  it('forwards a request the origin has not seen, unchanged, so the origin claims it', async () => {
    const event = cloudFrontEvent('origin-request', {
      key: newKey(),
      body: { amount: 1 },
      contentType: 'application/json',
    });
    const request = event.Records[0]?.cf.request;
    const outcome = await edge.decide(event);
    expect(outcome).toMatchObject({ kind: 'forward', reason: ForwardReason.OriginDecides });
    expect(await edge(event)).toBe(request);
  });

  it('forwards a request whose first run failed (5xx released the key), so the origin runs it again', async () => {
    const key = newKey();
    const { invoke } = origin(async () => ({ statusCode: 503, body: 'later' }));
    const request = { key, body: { amount: 1 }, contentType: 'application/json' };
    expect((await invoke('alb', request)).statusCode).toBe(503);
    expect(await edge.decide(cloudFrontEvent('origin-request', request))).toMatchObject({
      kind: 'forward',
      reason: ForwardReason.OriginDecides,
    });
  });

  it('forwards a completed request once its record has expired', async () => {
    const key = newKey();
    const { invoke } = origin();
    const request = { key, body: { amount: 1 }, contentType: 'application/json' };
    await invoke('http', request);
    const later = edgeIdempotency({
      identity,
      store,
      environment: 'test',
      clock: () => Date.now() + 2 * 86_400_000,
    });
    expect(await later.decide(cloudFrontEvent('origin-request', request))).toMatchObject({
      reason: ForwardReason.OriginDecides,
    });
  });

  describe('never guesses: it forwards', () => {
    const completed = async () => {
      const key = newKey();
      const request = { key, body: { amount: 1 }, contentType: 'application/json' };
      await origin().invoke('http', request);
      // The edge could replay this one: each case below must still forward it.
      expect((await edge.decide(cloudFrontEvent('viewer-request', request))).kind).toBe('answer');
      return request;
    };

    it.each(EDGE_EVENTS)('when the %s behaviour does not include the body', async (type) => {
      const request = await completed();
      expect(await edge.decide(cloudFrontEvent(type, request, 'not-included'))).toMatchObject({
        reason: ForwardReason.BodyNotIncluded,
      });
    });

    it.each(EDGE_EVENTS)('when CloudFront truncated the body at %s', async (type) => {
      const request = await completed();
      expect(await edge.decide(cloudFrontEvent(type, request, 'truncated'))).toMatchObject({
        reason: ForwardReason.BodyTruncated,
      });
    });

    it('when the stored response is larger than a viewer-request function may return, but not at origin request', async () => {
      const key = newKey();
      const request = { key, body: { amount: 1 }, contentType: 'application/json' };
      // 60 KB: over viewer request's 40 KB, under origin request's 1 MB.
      await origin(async () => ({ statusCode: 200, body: 'x'.repeat(60 * 1024) })).invoke('http', request);
      expect(await edge.decide(cloudFrontEvent('viewer-request', request))).toMatchObject({
        reason: ForwardReason.TooLarge,
      });
      const replay = await answered(cloudFrontEvent('origin-request', request));
      expect(replay.body?.length).toBe(60 * 1024);
    });

    it('when the whole response is kept in a large-result store the edge does not read: the origin replays it whole', async () => {
      const largeResults = new MemoryResultStore();
      const request = { key: newKey(), body: { amount: 1 }, contentType: 'application/json' };
      // Random bytes do not compress: 800 KB of base64 stays past the record's limit after brotli.
      const big = randomBytes(600_000).toString('base64');
      const wrapped = middy(async () => ({ statusCode: 200, body: big })).use(
        httpIdempotency({
          store,
          ...identity.origin,
          environment: 'test',
          mode: 'enforce',
          waitBudgetMs: 0,
          largeResults,
        }),
      );
      await wrapped(originEvent('http', request), lambdaContext());
      expect(largeResults.objects.size).toBe(1);
      for (const type of EDGE_EVENTS) {
        expect(await edge.decide(cloudFrontEvent(type, request))).toMatchObject({
          kind: 'forward',
          reason: ForwardReason.TooLarge,
        });
      }
      const replay = (await wrapped(originEvent('http', request), lambdaContext())) as HttpResult;
      expect(replay.body).toBe(big);
    });

    it('when the store fails, whatever strictFailClosed would say at the origin', async () => {
      const request = await completed();
      const telemetry = recordingTelemetry();
      const broken = new DynamoDBStore({
        tableName,
        clientConfig: {
          region: 'eu-west-1',
          endpoint: 'http://127.0.0.1:1',
          maxAttempts: 1,
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        },
      });
      const failing = edgeIdempotency({
        identity,
        store: broken,
        environment: 'test',
        telemetry: telemetry.telemetry,
      });
      expect(await failing.decide(cloudFrontEvent('viewer-request', request))).toMatchObject({
        reason: ForwardReason.OriginDecides,
      });
      expect(telemetry.names()).toContain('store_error');
    });

    it('when there is no key, or a malformed one', async () => {
      const request = await completed();
      const noKey = cloudFrontEvent('viewer-request', { ...request, key: undefined });
      expect(await edge.decide(noKey)).toMatchObject({ reason: ForwardReason.NoKey });
      const bad = cloudFrontEvent('viewer-request', request);
      const headers = bad.Records[0]?.cf.request.headers ?? {};
      headers['idempotency-key'] = [{ key: 'Idempotency-Key', value: '"unterminated' }];
      expect(await edge.decide(bad)).toMatchObject({ reason: ForwardReason.NoKey });
    });

    it('in observe and off modes, after counting what it would have done in observe', async () => {
      const request = await completed();
      const telemetry = recordingTelemetry();
      const observing = edgeIdempotency({ identity, store, mode: 'observe', telemetry: telemetry.telemetry });
      expect(await observing.decide(cloudFrontEvent('viewer-request', request))).toMatchObject({
        kind: 'forward',
      });
      expect(telemetry.names()).toEqual(['would_replay']);
      const off = edgeIdempotency({ identity, store, mode: 'off' });
      expect(await off.decide(cloudFrontEvent('viewer-request', request))).toMatchObject({
        reason: ForwardReason.NotGuarded,
      });
    });

    it('for a method the edge does not look up', async () => {
      const request = await completed();
      expect(
        await edge.decide(cloudFrontEvent('viewer-request', { ...request, method: 'PUT' })),
      ).toMatchObject({
        reason: ForwardReason.NotGuarded,
      });
    });
  });
});
