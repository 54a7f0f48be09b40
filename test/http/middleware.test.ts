import middy from '@middy/core';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyDigest } from '../../src/core/keys.js';
import { RecordStatus } from '../../src/core/types.js';
import { type HttpIdempotencyOptions, httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { captureLogs, type LogCapture } from '../support/log-capture.js';
import {
  EVENT_KINDS,
  type EventInput,
  type EventKindName,
  type HttpResult,
  header,
  httpEvent,
  lambdaContext,
  newKey,
  newPayload,
  orgOf,
  problemOf,
  secrets,
} from './harness.js';

const { client, counter } = localClient();
let store: DynamoDBStore;
let logs: LogCapture;
const logLevel = process.env.POWERTOOLS_LOG_LEVEL;

beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client), client });
  logs = captureLogs();
  // Every decision logged, the routine ones too, so the secrets check below reads every line there could be.
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
});
afterAll(() => {
  logs.stop();
  client.destroy();
  if (logLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = logLevel;
});

type Options = Partial<HttpIdempotencyOptions<Record<string, unknown>>>;

/** Runs `make` with `POWERTOOLS_LOG_LEVEL` set, as a function configured with that level would. */
function atLogLevel<T>(level: string, make: () => T): T {
  const previous = process.env.POWERTOOLS_LOG_LEVEL;
  process.env.POWERTOOLS_LOG_LEVEL = level;
  try {
    return make();
  } finally {
    if (previous === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
    else process.env.POWERTOOLS_LOG_LEVEL = previous;
  }
}
type Handler = (event: Record<string, unknown>) => Promise<unknown>;

/** A handler behind the middleware that counts its runs and echoes the order it created. */
function build(options: Options = {}, inner?: Handler) {
  const runs = { count: 0 };
  const base: Handler =
    inner ??
    (async (event) => {
      runs.count++;
      const result = { orderId: `order-${runs.count}`, secret: newPayload().marker };
      return {
        statusCode: 201,
        headers: { 'content-type': 'application/json', location: '/orders/1' },
        body: JSON.stringify({ ...result, got: event.body }),
      };
    });
  const counted: Handler =
    inner === undefined
      ? base
      : async (event) => {
          runs.count++;
          return base(event);
        };
  const handler = middy(counted).use(
    httpIdempotency<Record<string, unknown>>({
      store,
      org: (event) => orgOf(event),
      environment: 'test',
      mode: 'enforce',
      waitBudgetMs: 0,
      ...options,
    }),
  );
  const invoke = (kind: EventKindName, input: EventInput, context: Context = lambdaContext()) =>
    handler(httpEvent(kind, input), context) as Promise<HttpResult>;
  return { runs, invoke };
}

describe.each(EVENT_KINDS)('on a %s event', (kind) => {
  it('runs the first request and replays the stored response to a retry', async () => {
    const { runs, invoke } = build();
    const input = { key: newKey(), body: newPayload() };
    const first = await invoke(kind, input);
    const retry = await invoke(kind, input);
    expect(runs.count).toBe(1);
    expect(first.statusCode).toBe(201);
    expect(header(first, 'idempotent-replayed')).toBeUndefined();
    expect(retry.statusCode).toBe(201);
    expect(retry.body).toBe(first.body);
    expect(header(retry, 'location')).toBe('/orders/1');
    expect(header(retry, 'idempotent-replayed')).toBe('true');
  });

  it('answers 422 problem+json to a reused key with a different body', async () => {
    const { runs, invoke } = build();
    const key = newKey();
    await invoke(kind, { key, body: newPayload({ quantity: 1 }) });
    const reused = await invoke(kind, { key, body: newPayload({ quantity: 2 }) });
    expect(runs.count).toBe(1);
    expect(reused.statusCode).toBe(422);
    expect(problemOf(reused)).toMatchObject({
      type: 'https://idemkit.dev/problems/idempotency-key-reused',
      status: 422,
    });
  });

  it('answers 400 problem+json to a POST without a key and passes a GET through', async () => {
    const { runs, invoke } = build();
    const missing = await invoke(kind, { key: null, body: newPayload() });
    expect(missing.statusCode).toBe(400);
    expect(problemOf(missing).type).toBe('https://idemkit.dev/problems/missing-idempotency-key');
    expect(runs.count).toBe(0);
    const get = await invoke(kind, { key: null, method: 'GET' });
    expect(get.statusCode).toBe(201);
    expect(runs.count).toBe(1);
  });
});

describe('the Idempotency-Key header', () => {
  it('is found whatever the case of its name', async () => {
    const { runs, invoke } = build();
    const key = newKey();
    const body = newPayload();
    await invoke('http', { key: null, body, headers: { 'IDEMPOTENCY-KEY': key } });
    const retry = await invoke('http', { key: null, body, headers: { 'Idempotency-Key': key } });
    expect(runs.count).toBe(1);
    expect(header(retry, 'idempotent-replayed')).toBe('true');
  });

  it('means the same key quoted as a Structured Field string and bare', async () => {
    const { runs, invoke } = build();
    const key = newKey();
    const body = newPayload();
    await invoke('http', { key: `"${key}"`, body });
    const retry = await invoke('http', { key, body });
    expect(runs.count).toBe(1);
    expect(header(retry, 'idempotent-replayed')).toBe('true');
  });

  it.each([
    ['empty', ''],
    ['only spaces', '   '],
    ['256 characters', 'k'.repeat(256)],
    ['a control character', 'abc\u0007def'],
    ['an unterminated quoted string', '"abc'],
    ['a quoted string with a bad escape', '"a\\bc"'],
  ])('is rejected with 400 problem+json when %s', async (_name, key) => {
    const { runs, invoke } = build();
    const response = await invoke('http', { key, body: newPayload() });
    expect(response.statusCode).toBe(400);
    expect(problemOf(response).type).toBe('https://idemkit.dev/problems/invalid-idempotency-key');
    expect(runs.count).toBe(0);
  });

  it('accepts 255 characters', async () => {
    const { invoke } = build();
    const key = newKey().padEnd(255, 'x');
    secrets.add(key);
    expect((await invoke('http', { key, body: newPayload() })).statusCode).toBe(201);
  });
});

describe('what is stored', () => {
  it('releases the key when the handler throws, so a retry runs again', async () => {
    let fail = true;
    const { runs, invoke } = build({}, async () => {
      if (fail) throw new Error('payment provider down');
      return { statusCode: 201, body: '{}' };
    });
    const input = { key: newKey(), body: newPayload() };
    await expect(invoke('http', input)).rejects.toThrow('payment provider down');
    fail = false;
    expect((await invoke('http', input)).statusCode).toBe(201);
    expect(runs.count).toBe(2);
  });

  it('releases the key on a 5xx answer and stores a 4xx answer', async () => {
    let status = 503;
    const { runs, invoke } = build({}, async () => ({
      statusCode: status,
      body: JSON.stringify({ status }),
    }));
    const input = { key: newKey(), body: newPayload() };
    expect((await invoke('http', input)).statusCode).toBe(503);
    status = 409;
    expect((await invoke('http', input)).statusCode).toBe(409);
    status = 201;
    const replay = await invoke('http', input);
    expect(replay.statusCode).toBe(409);
    expect(header(replay, 'idempotent-replayed')).toBe('true');
    expect(runs.count).toBe(2);
  });

  it('lets `storeResponse.statusCodes` choose which statuses are replayed', async () => {
    const { runs, invoke } = build(
      { storeResponse: { statusCodes: (status) => status < 400 } },
      async () => ({
        statusCode: 404,
        body: '{}',
      }),
    );
    const input = { key: newKey(), body: newPayload() };
    await invoke('http', input);
    await invoke('http', input);
    expect(runs.count).toBe(2);
  });

  it('short-circuits a retry whose stored result is undefined', async () => {
    const { runs, invoke } = build({}, async () => undefined);
    const input = { key: newKey(), body: newPayload() };
    expect(await invoke('http', input)).toBeUndefined();
    expect(await invoke('http', input)).toBeUndefined();
    expect(runs.count).toBe(1);
  });

  it('replays a bare HTTP API result as the 200 JSON answer API Gateway made of it', async () => {
    const { runs, invoke } = build({}, async () => ({ id: 7, at: new Date(0) }));
    const input = { key: newKey(), body: newPayload() };
    const first = await invoke('http', input);
    const retry = await invoke('http', input);
    expect(runs.count).toBe(1);
    expect(retry).toMatchObject({ statusCode: 200, body: '{"id":7,"at":"1970-01-01T00:00:00.000Z"}' });
    expect(first.body).toBe(retry.body);
  });

  it('never stores Set-Cookie or the correlation id of the first request', async () => {
    const { invoke } = build({}, async () => ({
      statusCode: 201,
      headers: { 'Set-Cookie': 'session=abc', 'X-Trace': 'kept' },
      body: '{}',
    }));
    const input = { key: newKey(), body: newPayload() };
    await invoke('http', { ...input, headers: { 'x-correlation-id': 'first-request' } });
    const retry = await invoke('http', { ...input, headers: { 'x-correlation-id': 'second-request' } });
    expect(header(retry, 'set-cookie')).toBeUndefined();
    expect(header(retry, 'x-trace')).toBe('kept');
    expect(header(retry, 'x-correlation-id')).toBe('second-request');
  });

  it('replays status and headers without the body when the body was too large, and says so', async () => {
    const huge = Array.from({ length: 60_000 }, (_, index) => `${index}-${Math.random()}`).join(',');
    const { runs, invoke } = build({}, async () => ({
      statusCode: 201,
      headers: { location: '/orders/9' },
      body: huge,
    }));
    const input = { key: newKey(), body: newPayload() };
    expect((await invoke('http', input)).body).toBe(huge);
    const retry = await invoke('http', input);
    expect(runs.count).toBe(1);
    expect(retry).toMatchObject({ statusCode: 201, body: '' });
    expect(header(retry, 'location')).toBe('/orders/9');
    expect(header(retry, 'idempotent-result-omitted')).toBe('too_large');
  });
});

describe('a key whose operation failed permanently', () => {
  it('answers 422 problem+json of its own type, not the reused-key one, and does not run', async () => {
    // A FAILED record is what a job door writes for a permanent failure: copy the record a first request made
    // into a new store as FAILED, and send the same request there.
    const first = new MemoryStore();
    const key = newKey();
    await build({ store: first, scope: 'create-order' }).invoke('http', { key, body: { item: 'a' } });
    const [record] = first.records();
    if (record === undefined) throw new Error('no record');
    const failedStore = new MemoryStore();
    const { result: _result, completedAt: _completedAt, ...rest } = record;
    await failedStore.claim(
      { ...rest, status: RecordStatus.InProgress, leaseToken: 't', leaseUntil: Date.now() + 60_000 },
      { nowMs: Date.now() },
    );
    await failedStore.complete(record.pk, 't', {
      status: RecordStatus.Failed,
      completedAt: Date.now(),
      expiresAt: record.expiresAt,
    });
    const { runs, invoke } = build({ store: failedStore, scope: 'create-order' });

    const response = await invoke('http', { key, body: { item: 'a' } });
    expect(response.statusCode).toBe(422);
    expect(problemOf(response).type).toBe('https://idemkit.dev/problems/operation-failed');
    expect(runs.count).toBe(0);
  });
});

describe('duplicates while the first request runs', () => {
  it('answers 409 with Retry-After once the wait budget is spent', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { runs, invoke } = build({ lockTtlSeconds: 30 }, async () => {
      await gate;
      return { statusCode: 201, body: '{}' };
    });
    const input = { key: newKey(), body: newPayload() };
    const first = invoke('http', input);
    await waitFor(async () => (await store.get(pkOf(input.key))) !== undefined);
    const duplicate = await invoke('http', input);
    expect(duplicate.statusCode).toBe(409);
    expect(Number(header(duplicate, 'retry-after'))).toBeGreaterThanOrEqual(1);
    expect(problemOf(duplicate).type).toBe('https://idemkit.dev/problems/request-in-progress');
    release();
    expect((await first).statusCode).toBe(201);
    expect(runs.count).toBe(1);
  });

  it('waits within the budget and replays when the first completes', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { runs, invoke } = build({ waitBudgetMs: 5_000, jitterMs: 5 }, async () => {
      await gate;
      return { statusCode: 201, body: '{"done":true}' };
    });
    const input = { key: newKey(), body: newPayload() };
    const first = invoke('http', input);
    await waitFor(async () => (await store.get(pkOf(input.key))) !== undefined);
    const duplicate = invoke('http', input);
    setTimeout(release, 100);
    const [a, b] = await Promise.all([first, duplicate]);
    expect(runs.count).toBe(1);
    expect(b).toMatchObject({ statusCode: 201, body: a.body });
    expect(header(b, 'idempotent-replayed')).toBe('true');
  });

  it('never releases the owner\u2019s lease when a duplicate fails (observe mode runs duplicates)', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let calls = 0;
    const { invoke } = build({ mode: 'observe' }, async () => {
      calls++;
      if (calls > 1) throw new Error('duplicate failed');
      await gate;
      return { statusCode: 201, body: '{}' };
    });
    const input = { key: newKey(), body: newPayload() };
    const first = invoke('http', input);
    await waitFor(async () => (await store.get(pkOf(input.key))) !== undefined);
    await expect(invoke('http', input)).rejects.toThrow('duplicate failed');
    expect((await store.get(pkOf(input.key)))?.status).toBe(RecordStatus.InProgress);
    release();
    await first;
    expect((await store.get(pkOf(input.key)))?.status).toBe(RecordStatus.Completed);
  });

  it('runs the handler exactly once for 50 concurrent invocations with one key', async () => {
    const { runs, invoke } = build({ waitBudgetMs: 200, jitterMs: 20 }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { statusCode: 201, body: '{"created":true}' };
    });
    const input = { key: newKey(), body: newPayload() };
    const answers = await Promise.all(Array.from({ length: 50 }, () => invoke('http', input)));
    expect(runs.count).toBe(1);
    const statuses = answers.map((answer) => answer.statusCode);
    expect(statuses.filter((status) => status === 201)).toHaveLength(
      answers.filter((answer) => header(answer, 'idempotent-replayed') === 'true').length + 1,
    );
    expect(statuses.every((status) => status === 201 || status === 409)).toBe(true);
  });
});

describe('tenants', () => {
  it('runs the same key twice for two orgs, in two records led by each org', async () => {
    const { runs, invoke } = build();
    const key = newKey();
    const body = newPayload();
    await invoke('http', { key, body, org: 'acme' });
    await invoke('http', { key, body, org: 'globex' });
    expect(runs.count).toBe(2);
    expect((await store.get(`acme#POST /orders#${keyDigest(key)}`))?.org).toBe('acme');
    expect((await store.get(`globex#POST /orders#${keyDigest(key)}`))?.org).toBe('globex');
  });

  it.each([
    ['missing', null],
    ['containing #', 'acme#other'],
    ['containing *', 'acme*'],
    ['with a control character', 'ac\u0000me'],
  ])('answers 400 problem+json when the org is %s', async (_name, org) => {
    const { runs, invoke } = build();
    const response = await invoke('http', { key: newKey(), body: newPayload(), org });
    expect(response.statusCode).toBe(400);
    expect(problemOf(response).type).toBe('https://idemkit.dev/problems/invalid-org');
    expect(runs.count).toBe(0);
  });
});

describe('fingerprints', () => {
  it('match whether or not a JSON body parser ran before the middleware', async () => {
    const runs = { count: 0 };
    const parsed = middy(async () => {
      runs.count++;
      return { statusCode: 201, body: '{}' };
    })
      .use(httpJsonBodyParser())
      .use(httpIdempotency({ store, org: 'acme', environment: 'test' }));
    const raw = middy(async () => {
      runs.count++;
      return { statusCode: 201, body: '{}' };
    }).use(httpIdempotency({ store, org: 'acme', environment: 'test' }));
    const key = newKey();
    await raw(httpEvent('http', { key, body: '{"b":1,"a":[1,2]}' }), lambdaContext());
    const replay = (await parsed(
      httpEvent('http', { key, body: '{ "a": [1, 2], "b": 1 }' }) as never,
      lambdaContext(),
    )) as HttpResult;
    expect(runs.count).toBe(1);
    expect(header(replay, 'idempotent-replayed')).toBe('true');
  });

  it('differ when the path or the query differs', async () => {
    const { runs, invoke } = build({ scope: 'create-order' });
    const key = newKey();
    const body = newPayload();
    await invoke('function-url', { key, body, path: '/orders' });
    const other = await invoke('function-url', { key, body, path: '/orders/other' });
    expect(other.statusCode).toBe(422);
    expect(runs.count).toBe(1);
  });
});

describe('rollout modes', () => {
  it('makes no store call in off mode', async () => {
    const { runs, invoke } = build({ mode: 'off' });
    counter.reset();
    const input = { key: newKey(), body: newPayload() };
    await invoke('http', input);
    await invoke('http', input);
    await invoke('http', { key: null, body: newPayload() });
    expect(counter.count()).toBe(0);
    expect(runs.count).toBe(3);
  });

  it('never blocks in observe mode and logs would_replay and would_reject', async () => {
    const { runs, invoke } = build({ mode: 'observe' });
    const key = newKey();
    const from = logs.lines.length;
    await invoke('http', { key, body: newPayload({ n: 1 }) });
    const replayed = await invoke('http', { key, body: newPayload({ n: 1 }) });
    await invoke('http', { key: null, body: newPayload() });
    expect(runs.count).toBe(3);
    expect(header(replayed, 'idempotent-replayed')).toBeUndefined();
    const seen = logs.lines.slice(from).join('\n');
    expect(seen).toContain('"idempotency":"would_reject"');
    expect(seen).toContain('"idempotency":"missing_key"');
    expect(seen).toMatch(/"_aws".*"would_reject"/);
  });

  it('counts would_replay for an identical retry in observe mode', async () => {
    const { runs, invoke } = build({ mode: 'observe' });
    const input = { key: newKey(), body: newPayload() };
    const from = logs.lines.length;
    await invoke('http', input);
    await invoke('http', input);
    expect(runs.count).toBe(2);
    expect(logs.lines.slice(from).join('\n')).toMatch(/"_aws".*"would_replay":1/);
  });
});

describe('when the store fails', () => {
  const broken = new DynamoDBStore({ tableName: 'no-such-table', client });

  it('runs the handler (fail open) and logs a store_error', async () => {
    const { runs, invoke } = build({ store: broken });
    const from = logs.lines.length;
    const response = await invoke('http', { key: newKey(), body: newPayload() });
    expect(response.statusCode).toBe(201);
    expect(runs.count).toBe(1);
    expect(logs.lines.slice(from).join('\n')).toContain('"idempotency":"store_error"');
  });

  it('answers 503 problem+json with Retry-After when strictly failing closed', async () => {
    const { runs, invoke } = build({ store: broken, strictFailClosed: true });
    const response = await invoke('http', { key: newKey(), body: newPayload() });
    expect(response.statusCode).toBe(503);
    expect(header(response, 'retry-after')).toBe('1');
    expect(problemOf(response).type).toBe('https://idemkit.dev/problems/idempotency-store-unavailable');
    expect(runs.count).toBe(0);
  });
});

describe('metrics', () => {
  it('count each decision as one EMF metric with mode and scope as dimensions', async () => {
    const { invoke } = build({ scope: 'create-order' });
    const input = { key: newKey(), body: newPayload() };
    const from = logs.lines.length;
    await invoke('http', input);
    await invoke('http', input);
    const metrics = logs.lines
      .slice(from)
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line));
    expect(metrics.map((metric) => metric._aws.CloudWatchMetrics[0].Metrics[0].Name)).toEqual([
      'first_execution',
      'replay',
    ]);
    for (const metric of metrics) {
      expect(metric._aws.CloudWatchMetrics[0].Dimensions[0]).toEqual(
        expect.arrayContaining(['mode', 'scope']),
      );
      expect(metric).toMatchObject({ mode: 'enforce', scope: 'create-order' });
    }
  });

  it('write one EMF document per invocation, and log the routine decisions only at DEBUG', async () => {
    const quiet = atLogLevel('INFO', () => build({ scope: 'create-order' }));
    const loud = atLogLevel('DEBUG', () => build({ scope: 'create-order' }));
    const decisionLines = (from: number) =>
      logs.lines.slice(from).filter((line) => line.includes('"idempotency":"'));
    const emfLines = (from: number) => logs.lines.slice(from).filter((line) => line.includes('"_aws"'));
    const input = { key: newKey(), body: newPayload() };
    let from = logs.lines.length;
    await quiet.invoke('http', input);
    await quiet.invoke('http', input);
    expect(decisionLines(from)).toEqual([]);
    expect(emfLines(from)).toHaveLength(2);
    // A reused key with another body is what an operator needs to see.
    from = logs.lines.length;
    await quiet.invoke('http', { key: input.key, body: newPayload() });
    expect(decisionLines(from).map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: 'WARN', idempotency: 'mismatch', scope: 'create-order' }),
    ]);
    from = logs.lines.length;
    await loud.invoke('http', { key: newKey(), body: newPayload() });
    expect(decisionLines(from).map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({
        level: 'DEBUG',
        message: 'idempotency first_execution',
        service: expect.any(String),
        timestamp: expect.any(String),
        idempotency: 'first_execution',
        mode: 'enforce',
        scope: 'create-order',
      }),
    ]);
    expect(emfLines(from)).toHaveLength(1);
  });
});

describe('correlation ids', () => {
  it('echoes x-correlation-id, else x-request-id, else a generated one, and logs it', async () => {
    // First executions are logged at DEBUG; the level is read when the middleware is built.
    const { invoke } = atLogLevel('DEBUG', () => build({ store: new MemoryStore() }));
    const from = logs.lines.length;
    const a = await invoke('http', {
      key: newKey(),
      body: newPayload(),
      headers: { 'x-correlation-id': 'corr-123' },
    });
    const b = await invoke('http', {
      key: newKey(),
      body: newPayload(),
      headers: { 'x-request-id': 'req-456' },
    });
    const c = await invoke('http', { key: newKey(), body: newPayload() });
    expect(header(a, 'x-correlation-id')).toBe('corr-123');
    expect(header(b, 'x-correlation-id')).toBe('req-456');
    expect(header(c, 'x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    const lines = logs.lines.slice(from).filter((line) => line.includes('"idempotency"'));
    expect(lines.some((line) => line.includes('"correlation_id":"corr-123"'))).toBe(true);
    expect(lines.some((line) => line.includes('"correlation_id":"req-456"'))).toBe(true);
  });
});

describe('configuration', () => {
  it('rejects an unknown option with a did-you-mean', () => {
    expect(() => httpIdempotency({ store, org: 'acme', lockTtlSecond: 30 } as never)).toThrow(
      /Unknown option `lockTtlSecond`.*did you mean `lockTtlSeconds`/,
    );
  });

  it('rejects a bad IDEMPOTENCY_ENFORCE_METHODS at cold start, naming the variable', () => {
    process.env.IDEMPOTENCY_ENFORCE_METHODS = 'POST,P0ST';
    try {
      expect(() => httpIdempotency({ store, org: 'acme' })).toThrow(/`IDEMPOTENCY_ENFORCE_METHODS`.*'P0ST'/);
    } finally {
      delete process.env.IDEMPOTENCY_ENFORCE_METHODS;
    }
  });

  it('skips excluded paths and honours enforced methods from the environment', async () => {
    process.env.IDEMPOTENCY_ENFORCE_METHODS = 'PUT';
    process.env.IDEMPOTENCY_EXCLUDE_PATHS = '/internal/*';
    try {
      const { invoke } = build();
      expect((await invoke('http', { key: null, method: 'POST', body: newPayload() })).statusCode).toBe(201);
      expect((await invoke('http', { key: null, method: 'PUT', body: newPayload() })).statusCode).toBe(400);
      expect(
        (await invoke('http', { key: null, method: 'PUT', path: '/internal/jobs', body: newPayload() }))
          .statusCode,
      ).toBe(201);
    } finally {
      delete process.env.IDEMPOTENCY_ENFORCE_METHODS;
      delete process.env.IDEMPOTENCY_EXCLUDE_PATHS;
    }
  });
});

describe('logs', () => {
  it('never contain a raw key, payload or stored result from any request in this file', () => {
    const idempotencyLines = logs.lines.filter((line) => line.includes('idempotency'));
    expect(idempotencyLines.length).toBeGreaterThan(50);
    expect(secrets.size).toBeGreaterThan(50);
    const leaks = logs.lines.filter((line) => [...secrets].some((secret) => line.includes(secret)));
    expect(leaks).toEqual([]);
    expect(idempotencyLines.some((line) => line.includes('"key_digest":'))).toBe(true);
  });
});

function pkOf(key: string): string {
  return `acme#POST /orders#${keyDigest(key)}`;
}

/** Polls `check` until it holds, bounded generously (a loaded machine is slow, never wrong). */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not reached');
}
