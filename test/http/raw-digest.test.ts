import middy from '@middy/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyDigest } from '../../src/core/keys.js';
import { RECORD_VERSION, RecordStatus } from '../../src/core/types.js';
import { readHttpEvent } from '../../src/http/event.js';
import { httpFingerprint, httpRawDigest } from '../../src/http/fingerprint.js';
import { httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { captureLogs, type LogCapture } from '../support/log-capture.js';
import { type HttpResult, httpEvent, lambdaContext, newKey, orgOf } from './harness.js';

// docs/protocol.md section 2, "The raw digest": a byte-identical retry is matched by the digest of its raw bytes;
// other bytes by their canonical meaning, which a claim leaves provisional until the owner completes.
const { client } = localClient();
let store: DynamoDBStore;
let logs: LogCapture;

beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client), client });
  logs = captureLogs();
});
afterAll(() => {
  logs.stop();
  client.destroy();
});

const pkOf = (key: string) => `acme#POST /orders#${keyDigest(key)}`;
const ORDER = '{"customerId":"cus-1","lines":[{"sku":"A","quantity":2},{"sku":"B","quantity":1}]}';
// The same order with its keys in another order and other spacing: other bytes, the same meaning.
const SAME_ORDER = '{ "lines": [{"quantity":2,"sku":"A"},{"quantity":1,"sku":"B"}], "customerId": "cus-1" }';
const OTHER_ORDER = '{"customerId":"cus-1","lines":[{"sku":"A","quantity":3}]}';

function build(options: { readonly waitBudgetMs?: number } = {}, gate?: Promise<void>) {
  const runs = { count: 0 };
  const handler = middy(async (event: { body?: string }) => {
    runs.count++;
    await gate;
    return {
      statusCode: 201,
      body: JSON.stringify({ run: runs.count, got: JSON.parse(event.body ?? '{}') }),
    };
  }).use(
    httpIdempotency<Record<string, unknown>>({
      store,
      org: (event) => orgOf(event),
      environment: 'test',
      waitBudgetMs: options.waitBudgetMs ?? 0,
      jitterMs: 5,
    }),
  );
  const invoke = (key: string, body: string) =>
    handler(httpEvent('http', { key, body }), lambdaContext()) as Promise<HttpResult>;
  return { runs, invoke };
}

/** The fingerprint and raw digest the middleware computes for this request. */
function identityOf(key: string, body: string) {
  const view = readHttpEvent(httpEvent('http', { key, body }));
  if (view === undefined) throw new Error('not an HTTP event');
  return { fingerprint: httpFingerprint(view), rawDigest: httpRawDigest(view) };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let attempt = 0; attempt < 3000; attempt++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not reached');
}

describe('the raw digest', () => {
  it('is written beside the meaning: provisional while in progress, the canonical fingerprint once completed', async () => {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const { invoke } = build({}, gate);
    const key = newKey();
    const expected = identityOf(key, ORDER);
    const first = invoke(key, ORDER);
    const running = await until(
      () => store.get(pkOf(key)),
      (record) => record !== undefined,
    );
    expect(running).toMatchObject({
      status: RecordStatus.InProgress,
      rawDigest: expected.rawDigest,
      fingerprint: `raw:${expected.rawDigest}`,
    });
    open();
    expect((await first).statusCode).toBe(201);
    expect(await store.get(pkOf(key))).toMatchObject({
      status: RecordStatus.Completed,
      rawDigest: expected.rawDigest,
      fingerprint: expected.fingerprint,
    });
  });

  it('replays a byte-identical retry and one with the same meaning in other bytes, and rejects another meaning', async () => {
    const { runs, invoke } = build();
    const key = newKey();
    const first = await invoke(key, ORDER);
    expect((await invoke(key, ORDER)).body).toBe(first.body);
    expect((await invoke(key, SAME_ORDER)).body).toBe(first.body);
    expect((await invoke(key, OTHER_ORDER)).statusCode).toBe(422);
    expect(runs.count).toBe(1);
  });

  it('leaves records written before it working: matched by their canonical fingerprint alone', async () => {
    const { runs, invoke } = build();
    const key = newKey();
    const pk = pkOf(key);
    const { fingerprint } = identityOf(key, ORDER);
    const now = Date.now();
    // A record as the engine wrote it before the raw digest existed.
    await store.claim(
      {
        pk,
        org: 'acme',
        scope: 'POST /orders',
        status: RecordStatus.InProgress,
        expiresAt: Math.floor(now / 1000) + 3600,
        leaseUntil: now + 60_000,
        leaseToken: 'old-token',
        fingerprint,
        createdAt: now,
        attempt: 1,
        v: RECORD_VERSION,
      },
      { nowMs: now },
    );
    await store.complete(pk, 'old-token', {
      status: RecordStatus.Completed,
      result: JSON.stringify({ statusCode: 201, body: '{"from":"before"}' }),
      completedAt: now,
      expiresAt: Math.floor(now / 1000) + 3600,
    });
    expect((await invoke(key, ORDER)).body).toBe('{"from":"before"}');
    expect((await invoke(key, SAME_ORDER)).body).toBe('{"from":"before"}');
    expect((await invoke(key, OTHER_ORDER)).statusCode).toBe(422);
    expect(runs.count).toBe(0);
  });

  describe('while the first request runs, a duplicate in other bytes', () => {
    it('with the same meaning waits for the outcome and replays it', async () => {
      let open: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const { runs, invoke } = build({ waitBudgetMs: 20_000 }, gate);
      const key = newKey();
      const first = invoke(key, ORDER);
      await until(
        () => store.get(pkOf(key)),
        (record) => record !== undefined,
      );
      const duplicate = invoke(key, SAME_ORDER);
      // The duplicate is polling the running record, not rejected: open the gate once it has had a look.
      await new Promise((resolve) => setImmediate(resolve));
      open();
      const [a, b] = await Promise.all([first, duplicate]);
      expect(runs.count).toBe(1);
      expect(b).toMatchObject({ statusCode: 201, body: a.body });
    });

    it('with another meaning gets 409 while it runs and 422 once it completed', async () => {
      let open: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const { runs, invoke } = build({}, gate);
      const key = newKey();
      const first = invoke(key, ORDER);
      await until(
        () => store.get(pkOf(key)),
        (record) => record !== undefined,
      );
      expect((await invoke(key, OTHER_ORDER)).statusCode).toBe(409);
      open();
      expect((await first).statusCode).toBe(201);
      expect((await invoke(key, OTHER_ORDER)).statusCode).toBe(422);
      expect(runs.count).toBe(1);
    });
  });
});
