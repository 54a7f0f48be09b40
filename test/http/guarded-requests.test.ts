import { randomBytes } from 'node:crypto';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { decodeResult } from '../../src/core/codec.js';
import { IdempotencyEngine } from '../../src/core/engine.js';
import { valueFingerprint } from '../../src/core/fingerprint.js';
import { resolveSettings } from '../../src/core/settings.js';
import { Signal, type Telemetry } from '../../src/core/telemetry.js';
import { RecordStatus } from '../../src/core/types.js';
import {
  type HttpIdempotencyOptions,
  httpIdempotency,
  httpLeaseSignal,
  PROBLEM_BASE,
  Problem,
} from '../../src/http/index.js';
import { problemResponse } from '../../src/http/problem.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { flushing, recordingTelemetry } from '../core/recording-telemetry.js';
import {
  type EventInput,
  type HttpResult,
  header,
  httpEvent,
  lambdaContext,
  newKey,
  newPayload,
  orgOf,
  problemOf,
} from './harness.js';

type Options = Partial<HttpIdempotencyOptions<Record<string, unknown>>>;
type Handler = (event: Record<string, unknown>, context: Context) => Promise<unknown>;

const created: Handler = async () => ({ statusCode: 201, body: JSON.stringify({ orderId: 'o-1' }) });

/** A handler that runs until `finish` is called, so a duplicate meets its live lease. */
function held() {
  let finish = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const handler: Handler = async () => {
    await done;
    return { statusCode: 201, body: '' };
  };
  return { handler, finish: () => finish() };
}

/** Resolves once the store holds a record: the first request has claimed. */
async function claimed(store: MemoryStore): Promise<void> {
  while (store.records().length === 0) await new Promise((resolve) => setImmediate(resolve));
}

/** An HTTP API handler behind the middleware, on a memory store, counting its runs. */
function build(options: Options = {}, inner: Handler = created) {
  const store = options.store instanceof MemoryStore ? options.store : new MemoryStore();
  const telemetry = recordingTelemetry();
  const runs = { count: 0 };
  const handler = middy(async (event: Record<string, unknown>, context: Context) => {
    runs.count++;
    return inner(event, context);
  }).use(
    httpIdempotency<Record<string, unknown>>({
      store,
      org: (event) => orgOf(event),
      environment: 'test',
      mode: 'enforce',
      waitBudgetMs: 0,
      telemetry: telemetry.telemetry,
      ...options,
    }),
  );
  const invoke = (input: EventInput, context: Context = lambdaContext()) =>
    handler(httpEvent('http', { body: newPayload(), ...input }), context) as Promise<HttpResult>;
  return { invoke, runs, store, telemetry };
}

describe('a response with status 500', () => {
  it('releases the key even when `storeResponse.statusCodes` would store every status', async () => {
    const { invoke, runs, store } = build({ storeResponse: { statusCodes: () => true } }, async () => ({
      statusCode: 500,
      body: 'boom',
    }));
    const key = newKey();
    await invoke({ key });
    expect(store.records()).toEqual([]);
    await invoke({ key });
    expect(runs.count).toBe(2);
  });

  it('is the first status released by default; 499 is stored and replayed', async () => {
    let status = 499;
    const { invoke, runs, store } = build({}, async () => ({ statusCode: status, body: 'x' }));
    const stored = newKey();
    await invoke({ key: stored });
    expect(store.records().map((record) => record.status)).toEqual([RecordStatus.Completed]);
    status = 500;
    const released = newKey();
    await invoke({ key: released });
    await invoke({ key: released });
    expect(runs.count).toBe(3);
  });
});

describe('the lease and the wait of an HTTP request', () => {
  it('end with the Lambda: the lease is no longer than the remaining time', async () => {
    let leaseLeft: number | undefined;
    const store = new MemoryStore();
    const { invoke } = build({ store, lockTtlSeconds: 300 }, async () => {
      const [record] = store.records();
      leaseLeft = (record?.leaseUntil ?? 0) - Date.now();
      return { statusCode: 201, body: '' };
    });
    await invoke({ key: newKey() }, lambdaContext(2000));
    expect(leaseLeft).toBeDefined();
    expect(leaseLeft).toBeLessThanOrEqual(2000);
  });

  it('keep 500 ms of the Lambda for the answer: with less left, a duplicate is answered without polling', async () => {
    const store = new MemoryStore();
    let gets = 0;
    const get = store.get.bind(store);
    store.get = (pk) => {
      gets++;
      return get(pk);
    };
    const running = held();
    const key = newKey();
    const body = newPayload();
    const owner = build({ store }, running.handler).invoke({ key, body }, lambdaContext(60_000));
    await claimed(store);

    const answer = await build({ store, waitBudgetMs: 60_000 }).invoke({ key, body }, lambdaContext(400));

    expect(answer.statusCode).toBe(409);
    expect(gets).toBe(0);
    running.finish();
    await owner;
  });
});

describe('an engine error that is not a store error (a bug)', () => {
  it('fails the request instead of running the handler unguarded', async () => {
    const telemetry: Telemetry = {
      emit(signal) {
        if (signal === Signal.FirstExecution) throw new TypeError('telemetry bug');
      },
      warn() {},
    };
    const { invoke, runs } = build({ telemetry });
    await expect(invoke({ key: newKey() })).rejects.toThrow(TypeError);
    expect(runs.count).toBe(0);
  });
});

describe('excluded paths', () => {
  it('take `.` literally and `*` as any run of characters, in any of several globs', async () => {
    const { invoke, runs } = build({ excludePaths: ['/health.json', '/internal/*'] });
    // Without a key: an excluded path runs, a guarded one is answered 400.
    expect((await invoke({ key: null, path: '/health.json' })).statusCode).toBe(201);
    expect((await invoke({ key: null, path: '/internal/jobs/7' })).statusCode).toBe(201);
    expect((await invoke({ key: null, path: '/healthXjson' })).statusCode).toBe(400);
    expect((await invoke({ key: null, path: '/orders/internal/x' })).statusCode).toBe(400);
    expect((await invoke({ key: null, path: '/health.json/more' })).statusCode).toBe(400);
    expect(runs.count).toBe(2);
  });
});

describe('a correlation id sent by the client', () => {
  it('is echoed when it is 1 to 128 printable characters', async () => {
    const { invoke } = build();
    const longest = 'c'.repeat(128);
    const answer = await invoke({ key: newKey(), headers: { 'x-correlation-id': longest } });
    expect(header(answer, 'x-correlation-id')).toBe(longest);
  });

  it('is replaced by a generated one when it is too long or holds a space', async () => {
    const { invoke } = build();
    for (const sent of ['c'.repeat(129), 'two words']) {
      const answer = await invoke({ key: newKey(), headers: { 'x-correlation-id': sent } });
      expect(header(answer, 'x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('is echoed on an early answer too (a request without a key)', async () => {
    const { invoke } = build();
    const answer = await invoke({ key: null, headers: { 'x-correlation-id': 'corr-early' } });
    expect(answer.statusCode).toBe(400);
    expect(header(answer, 'x-correlation-id')).toBe('corr-early');
  });
});

describe('the problem details a client reads', () => {
  it('say how long to wait before retrying a request that still runs, as Retry-After does', async () => {
    const store = new MemoryStore();
    const key = newKey();
    const body = newPayload();
    const running = held();
    const owner = build({ store }, running.handler).invoke({ key, body });
    await claimed(store);
    const answer = await build({ store }).invoke({ key, body });
    running.finish();
    await owner;
    const retryAfter = header(answer, 'retry-after');
    expect(answer.statusCode).toBe(409);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(problemOf(answer).detail).toBe(
      `The first request with this Idempotency-Key is still running; retry in ${retryAfter} s with the same key.`,
    );
  });

  it('name the method of a request without a key', async () => {
    const { invoke } = build();
    const answer = await invoke({ key: null, method: 'PATCH' });
    expect(problemOf(answer).detail).toBe(
      'PATCH requests to this endpoint need an Idempotency-Key header: send a unique value (a UUID) and reuse it on retries.',
    );
  });

  it('say what was wrong with an invalid key and what to send', async () => {
    const { invoke } = build();
    const answer = await invoke({ key: 'k'.repeat(256) });
    expect(answer.statusCode).toBe(400);
    expect(problemOf(answer).detail).toMatch(
      / Send 1 to 255 printable characters, as a bare token or a quoted string\.$/,
    );
  });

  it('say the organization is unusable when the org cannot lead a record key', async () => {
    const { invoke, runs } = build({ org: () => 'acme#eu' });
    const answer = await invoke({ key: newKey() });
    expect(answer.statusCode).toBe(400);
    expect(problemOf(answer).detail).toMatch(/no usable organization/);
    expect(runs.count).toBe(0);
  });

  it('say the organization is unusable when the org function throws', async () => {
    const { invoke, runs } = build({
      org: () => {
        throw new Error('no claim');
      },
    });
    const answer = await invoke({ key: newKey() });
    expect(answer.statusCode).toBe(400);
    expect(problemOf(answer).detail).toBe(
      'The authenticated context names no usable organization; sign in with an account that belongs to one.',
    );
    expect(runs.count).toBe(0);
  });
});

describe('in observe mode', () => {
  it('runs a request without a key or with an unusable org, and counts it', async () => {
    const { invoke, runs, telemetry } = build({ mode: 'observe', org: () => undefined });
    expect((await invoke({ key: null })).statusCode).toBe(201);
    expect((await invoke({ key: newKey() })).statusCode).toBe(201);
    expect(runs.count).toBe(2);
    expect(telemetry.names()).toEqual([Signal.MissingKey, Signal.InvalidOrg]);
  });

  it('counts an invalid key as invalid_key, not missing_key', async () => {
    const { invoke, telemetry } = build({ mode: 'observe' });
    await invoke({ key: '\u0001' });
    expect(telemetry.names()).toEqual([Signal.InvalidKey]);
  });
});

describe('the lease signal of a handler', () => {
  it('is the running lease’s signal inside a first execution and is gone once it settled', async () => {
    const context = lambdaContext();
    let inside: AbortSignal | undefined;
    const { invoke } = build({}, async (_event, handlerContext) => {
      inside = httpLeaseSignal(handlerContext);
      return { statusCode: 201, body: '' };
    });
    await invoke({ key: newKey() }, context);
    expect(inside).toBeInstanceOf(AbortSignal);
    expect(inside?.aborted).toBe(false);
    expect(httpLeaseSignal(context)).toBeUndefined();
  });

  it('is undefined for a request that is not guarded', async () => {
    let inside: AbortSignal | undefined = new AbortController().signal;
    const { invoke } = build({ mode: 'off' }, async (_event, handlerContext) => {
      inside = httpLeaseSignal(handlerContext);
      return { statusCode: 201, body: '' };
    });
    await invoke({ key: newKey() });
    expect(inside).toBeUndefined();
  });
});

describe('the headers stored for replay', () => {
  it('never include Date, X-Request-Id, an earlier Idempotent-Replayed or an omitHeaders name, in any case', async () => {
    const { invoke } = build({ storeResponse: { omitHeaders: ['X-RATE-LIMIT'] } }, async () => ({
      statusCode: 201,
      headers: {
        'Content-Type': 'application/json',
        Date: 'Tue, 01 Dec 2026 10:00:00 GMT',
        'X-Request-Id': 'req-1',
        'Idempotent-Replayed': 'false',
        'Set-Cookie': 'session=s1',
        'x-rate-limit': '99',
      },
      body: '{}',
    }));
    const key = newKey();
    const body = newPayload();
    await invoke({ key, body });
    const replay = await invoke({ key, body });
    const names = Object.keys(replay.headers ?? {}).map((name) => name.toLowerCase());
    expect(names.sort()).toEqual(['content-type', 'idempotent-replayed', 'x-correlation-id']);
    expect(header(replay, 'idempotent-replayed')).toBe('true');
  });
});

describe('enforced methods', () => {
  it('are POST and PATCH by default: a PUT or a GET without a key runs', async () => {
    const { invoke, runs } = build();
    expect((await invoke({ key: null, method: 'PUT' })).statusCode).toBe(201);
    expect((await invoke({ key: null, method: 'GET' })).statusCode).toBe(201);
    expect((await invoke({ key: null, method: 'POST' })).statusCode).toBe(400);
    expect(runs.count).toBe(2);
  });
});

describe('the metrics of an invocation', () => {
  it('are flushed once when it is answered early, after the handler, or after a throw', async () => {
    const early = flushing();
    await build({ telemetry: early.telemetry }).invoke({ key: null });
    expect(early.flushes.count).toBe(1);

    const after = flushing();
    await build({ telemetry: after.telemetry }).invoke({ key: newKey() });
    expect(after.flushes.count).toBe(1);

    const thrown = flushing();
    await expect(
      build({ telemetry: thrown.telemetry }, async () => {
        throw new Error('handler bug');
      }).invoke({ key: newKey() }),
    ).rejects.toThrow('handler bug');
    expect(thrown.flushes.count).toBe(1);
  });
});

describe('a handler invoked without a Lambda context (a local call)', () => {
  it('is guarded all the same: the first call runs and a retry replays', async () => {
    const { runs } = build();
    const store = new MemoryStore();
    const handler = middy(async () => {
      runs.count++;
      return { statusCode: 201, body: 'made' };
    }).use(httpIdempotency({ store, org: 'acme', environment: 'test', mode: 'enforce', waitBudgetMs: 0 }));
    const event = httpEvent('http', { key: newKey(), body: newPayload() });
    const invokeBare = handler as unknown as (event: unknown) => Promise<HttpResult>;
    expect((await invokeBare(event)).statusCode).toBe(201);
    expect(header(await invokeBare(event), 'idempotent-replayed')).toBe('true');
    expect(runs.count).toBe(1);
  });
});

describe('a guarded handler that answers nothing', () => {
  it('answers undefined or null as it returned them, with nothing added', async () => {
    for (const nothing of [undefined, null]) {
      const { invoke } = build({}, async () => nothing);
      expect(await invoke({ key: newKey() })).toBe(nothing);
    }
  });
});

describe('a handler that throws on a path that is not guarded', () => {
  it('fails with its own error', async () => {
    const { invoke } = build({ excludePaths: ['/health'] }, async () => {
      throw new RangeError('handler bug');
    });
    await expect(invoke({ key: null, path: '/health' })).rejects.toThrow(RangeError);
  });
});

describe('a store that cannot be reached', () => {
  /** A memory store whose claims fail, as a store that is down does. */
  function downStore(): MemoryStore {
    const store = new MemoryStore();
    store.claim = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });
    };
    return store;
  }

  it('lets the request run unguarded (fail open)', async () => {
    const { invoke, runs } = build({ store: downStore() });
    expect((await invoke({ key: newKey() })).statusCode).toBe(201);
    expect(runs.count).toBe(1);
  });

  it('answers 503 with Retry-After: 1 and says to retry with the same key when strictly failing closed', async () => {
    const { invoke, runs } = build({ store: downStore(), strictFailClosed: true });
    const answer = await invoke({ key: newKey() });
    expect(answer.statusCode).toBe(503);
    expect(header(answer, 'retry-after')).toBe('1');
    expect(problemOf(answer).detail).toBe(
      'The idempotency store could not be reached, so the request was not run; retry with the same Idempotency-Key.',
    );
    expect(runs.count).toBe(0);
  });
});

describe('what is stored for a replay', () => {
  it('holds none of the omitted headers in the record itself', async () => {
    const { invoke, store } = build({}, async () => ({
      statusCode: 201,
      headers: { 'Idempotent-Replayed': 'true', 'set-cookie': 's=1', 'x-kept': 'yes' },
      body: '{}',
    }));
    await invoke({ key: newKey() });
    const stored = decodeResult(store.records()[0]?.result) as { headers: Record<string, string> };
    expect(Object.keys(stored.headers)).toEqual(['x-kept']);
  });

  it('short-circuits a retry whose handler returned undefined, without running it again', async () => {
    const { invoke, runs } = build({}, async () => undefined);
    const key = newKey();
    const body = newPayload();
    await invoke({ key, body });
    expect(await invoke({ key, body })).toBeUndefined();
    expect(runs.count).toBe(1);
  });

  it('keeps the status and headers of a body too large to store, and replays them with an empty body', async () => {
    const { invoke, runs, store } = build({}, async () => ({
      statusCode: 201,
      headers: { location: '/orders/9' },
      // Random bytes do not compress: well past the record's 350 KB.
      body: randomBytes(450_000).toString('base64'),
    }));
    const key = newKey();
    const body = newPayload();
    await invoke({ key, body });
    const replay = await invoke({ key, body });
    expect(replay.statusCode).toBe(201);
    expect(replay.body).toBe('');
    expect(header(replay, 'location')).toBe('/orders/9');
    expect(header(replay, 'idempotent-result-omitted')).toBe('too_large');
    expect(runs.count).toBe(1);
    const [record] = store.records();
    expect(decodeResult(record?.result)).toMatchObject({ statusCode: 201, body: '' });
  });
});

describe('a reused key or a failed operation', () => {
  it('answers 422 and says to send a new key when the request differs', async () => {
    const { invoke } = build();
    const key = newKey();
    await invoke({ key, body: newPayload() });
    const answer = await invoke({ key, body: newPayload() });
    expect(answer.statusCode).toBe(422);
    expect(problemOf(answer).detail).toBe(
      'This Idempotency-Key was already used with a different request; send a new key for a new request.',
    );
  });

  it('answers 422 of its own kind for a key whose operation failed permanently, and does not run', async () => {
    const store = new MemoryStore();
    const key = newKey();
    const { settings } = resolveSettings({ environment: 'test', mode: 'enforce' }, {});
    const engine = new IdempotencyEngine({ store, settings, telemetry: recordingTelemetry().telemetry });
    const meaning = { order: 1 };
    const first = await engine.begin({
      org: 'acme',
      scope: 'orders',
      key,
      fingerprint: valueFingerprint(meaning),
    });
    if (first.kind !== 'execute') throw new Error('Expected to claim the key.');
    await engine.complete(first.lease, undefined, { status: 'FAILED' });
    const { invoke, runs } = build({ store, scope: 'orders', fingerprint: () => meaning });

    const answer = await invoke({ key });

    expect(answer.statusCode).toBe(422);
    expect(problemOf(answer).detail).toBe(
      'This Idempotency-Key belongs to an operation that failed permanently; send a new key to try again.',
    );
    expect(runs.count).toBe(0);
  });
});

describe('in off mode', () => {
  it('counts nothing and touches no record, even for a request without a key', async () => {
    const { invoke, telemetry, store } = build({ mode: 'off' });
    expect((await invoke({ key: null })).statusCode).toBe(201);
    expect(telemetry.signals).toEqual([]);
    expect(store.records()).toEqual([]);
  });
});

describe('the correlation id', () => {
  it('is the x-request-id when no x-correlation-id is sent', async () => {
    const { invoke } = build();
    const answer = await invoke({ key: newKey(), headers: { 'x-request-id': 'req-789' } });
    expect(header(answer, 'x-correlation-id')).toBe('req-789');
  });
});

describe('a misconfigured middleware', () => {
  it('names httpIdempotency in its error', () => {
    expect(() =>
      httpIdempotency({ store: new MemoryStore(), org: 'acme', lockTtlSecond: 30 } as never),
    ).toThrow(/httpIdempotency/);
    expect(() =>
      httpIdempotency({
        store: new MemoryStore(),
        org: 'acme',
        environment: 'test',
        lockTtlSeconds: 30,
        renewEvery: 30_000,
      }),
    ).toThrow(/`renewEvery` of `httpIdempotency`/);
  });
});

describe('a stored result that was kept without its body and without a fallback', () => {
  it('is replayed as a 200 with an empty body that says the body was left out, without running again', async () => {
    const store = new MemoryStore();
    const key = newKey();
    const meaning = { order: 2 };
    const { settings } = resolveSettings({ environment: 'test', mode: 'enforce' }, {});
    const engine = new IdempotencyEngine({ store, settings, telemetry: recordingTelemetry().telemetry });
    const first = await engine.begin({
      org: 'acme',
      scope: 'orders',
      key,
      fingerprint: valueFingerprint(meaning),
    });
    if (first.kind !== 'execute') throw new Error('Expected to claim the key.');
    // A door that knew the result would not fit and had nothing smaller to keep (an older record, another door).
    await engine.complete(first.lease, undefined, { dropped: 'too_large' });
    const { invoke, runs } = build({ store, scope: 'orders', fingerprint: () => meaning });

    const replay = await invoke({ key });

    expect(replay.statusCode).toBe(200);
    expect(replay.body).toBe('');
    expect(header(replay, 'content-type')).toBeUndefined();
    expect(header(replay, 'idempotent-result-omitted')).toBe('too_large');
    expect(header(replay, 'idempotent-replayed')).toBe('true');
    expect(runs.count).toBe(0);
  });
});

describe('a handler result that is not a structured response', () => {
  it('is answered and replayed as API Gateway answers it: a 200 JSON body, or the string itself', async () => {
    for (const [result, body] of [
      [{ id: 1 }, '{"id":1}'],
      ['plain text', 'plain text'],
    ] as const) {
      // Only a 200 is stored: the bare result must count as one.
      const { invoke, runs } = build(
        { storeResponse: { statusCodes: (status) => status === 200 } },
        async () => result,
      );
      const key = newKey();
      const request = newPayload();
      const first = await invoke({ key, body: request });
      const replay = await invoke({ key, body: request });
      for (const answer of [first, replay]) {
        expect(answer.statusCode).toBe(200);
        expect(answer.body).toBe(body);
        expect(header(answer, 'content-type')).toBe('application/json');
      }
      expect(header(replay, 'idempotent-replayed')).toBe('true');
      expect(runs.count).toBe(1);
    }
  });

  it('is a 200 marked replayed when the handler answered null, without running again', async () => {
    const { invoke, runs } = build({}, async () => null);
    const key = newKey();
    const body = newPayload();
    expect(await invoke({ key, body })).toBeNull();
    const replay = await invoke({ key, body });
    expect(replay.statusCode).toBe(200);
    expect(replay.body).toBeUndefined();
    expect(header(replay, 'content-type')).toBeUndefined();
    expect(header(replay, 'idempotent-replayed')).toBe('true');
    expect(runs.count).toBe(1);
  });

  it('is an empty 200 when JSON cannot represent it (a function)', async () => {
    const { invoke } = build({}, async () => () => 'not JSON');
    const answer = await invoke({ key: newKey() });
    expect(answer).toMatchObject({ statusCode: 200, body: '' });
  });
});

describe('the headers of an answer', () => {
  it('carry one correlation id, the request’s, whatever the handler set in any case or as a list', async () => {
    const { invoke } = build({}, async () => ({
      statusCode: 201,
      headers: { 'X-Correlation-Id': 'from-handler' },
      multiValueHeaders: { 'X-CORRELATION-ID': ['from-handler'], 'x-multi': ['1', '2'] },
      body: '{}',
    }));
    const key = newKey();
    const body = newPayload();
    const answer = await invoke({ key, body, headers: { 'x-correlation-id': 'corr-7' } });
    const named = (entries: object | undefined) =>
      Object.keys(entries ?? {}).filter((name) => name.toLowerCase() === 'x-correlation-id');
    expect(named(answer.headers)).toEqual(['x-correlation-id']);
    expect(header(answer, 'x-correlation-id')).toBe('corr-7');
    const multi = (answer as { multiValueHeaders?: Record<string, string[]> }).multiValueHeaders;
    expect(named(multi)).toEqual([]);
    expect(multi?.['x-multi']).toEqual(['1', '2']);
  });

  it('replay the multi-value headers of the first answer without the omitted ones', async () => {
    const { invoke } = build({}, async () => ({
      statusCode: 201,
      multiValueHeaders: {
        'Set-Cookie': ['a=1', 'b=2'],
        Date: ['Tue, 01 Dec 2026 10:00:00 GMT'],
        'x-multi': ['1', '2'],
      },
      body: '{}',
    }));
    const key = newKey();
    const body = newPayload();
    await invoke({ key, body });
    const replay = (await invoke({ key, body })) as { multiValueHeaders?: Record<string, string[]> };
    expect(replay.multiValueHeaders).toEqual({ 'x-multi': ['1', '2'] });
  });

  it('never replay the cookies of an HTTP API answer', async () => {
    const { invoke, store } = build({}, async () => ({
      statusCode: 201,
      cookies: ['session=s1'],
      body: '{}',
    }));
    const key = newKey();
    const body = newPayload();
    const first = (await invoke({ key, body })) as { cookies?: string[] };
    expect(first.cookies).toEqual(['session=s1']);
    const replay = (await invoke({ key, body })) as { cookies?: string[]; statusCode: number };
    expect(replay.statusCode).toBe(201);
    expect(replay.cookies).toBeUndefined();
    expect(decodeResult(store.records()[0]?.result)).not.toHaveProperty('cookies');
  });
});

describe('the problem types a client programs against', () => {
  it('keep their status, type URI and title', () => {
    const expected = {
      MissingKey: [400, 'missing-idempotency-key', 'Idempotency-Key header required'],
      InvalidKey: [400, 'invalid-idempotency-key', 'Idempotency-Key header malformed'],
      InvalidOrg: [400, 'invalid-org', 'Organization could not be determined'],
      KeyMismatch: [422, 'idempotency-key-reused', 'Idempotency-Key reused with a different request'],
      PreviouslyFailed: [
        422,
        'operation-failed',
        'The operation with this Idempotency-Key failed permanently',
      ],
      InProgress: [409, 'request-in-progress', 'A request with this Idempotency-Key is in progress'],
      PreconditionFailed: [412, 'precondition-failed', 'The resource changed since the version in If-Match'],
      PreconditionRequired: [428, 'precondition-required', 'This request needs an If-Match header'],
      StoreUnavailable: [503, 'idempotency-store-unavailable', 'Idempotency store unavailable'],
    } as const;
    expect(Object.keys(Problem).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, [status, slug, title]] of Object.entries(expected)) {
      const answer = problemResponse(Problem[name as keyof typeof Problem], 'What to do.', {
        'Retry-After': '3',
      });
      expect(answer).toEqual({
        statusCode: status,
        headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '3' },
        body: JSON.stringify({
          type: `https://idemkit.dev/problems/${slug}`,
          title,
          status,
          detail: 'What to do.',
        }),
      });
    }
    expect(PROBLEM_BASE).toBe('https://idemkit.dev/problems/');
  });
});

describe('a request inside a Lambda durable execution', () => {
  /** A Lambda context as the durable execution SDK hands it to the handler: with `step` and its execution ARN. */
  const durableContext = (execution: string): Context =>
    Object.assign(lambdaContext(), {
      step: async () => undefined,
      executionContext: {
        durableExecutionArn: `arn:aws:lambda:eu-west-1:123456789012:function:orders-api:$LATEST/durable-execution/${execution}`,
      },
    });

  it('is taken up by a later invocation of the same execution while its lease lives, and refused to another', async () => {
    const store = new MemoryStore();
    const key = newKey();
    const body = newPayload();
    const running = held();
    const owner = build({ store }, running.handler).invoke({ key, body }, durableContext('exec-1'));
    await claimed(store);

    const other = await build({ store }).invoke({ key, body }, durableContext('exec-2'));
    expect(other.statusCode).toBe(409);

    const resumed = build({ store });
    const answer = await resumed.invoke({ key, body }, durableContext('exec-1'));
    expect(answer.statusCode).toBe(201);
    expect(resumed.runs.count).toBe(1);
    expect(resumed.telemetry.names()).toContain(Signal.Resumed);
    running.finish();
    await owner;
  });
});

describe('the raw digest of a request', () => {
  const version = (event: Record<string, unknown>) => (event.headers as Record<string, string>)['x-version'];

  it('is kept in the record with the default fingerprint, and never with the service’s own', async () => {
    const byDefault = build();
    await byDefault.invoke({ key: newKey() });
    expect(byDefault.store.records()[0]?.rawDigest).toEqual(expect.any(String));
    const own = build({ fingerprint: version });
    await own.invoke({ key: newKey(), headers: { 'x-version': '1' } });
    expect(own.store.records()[0]?.rawDigest).toBeUndefined();
  });

  it('never makes a replay of bytes the service’s own fingerprint tells apart', async () => {
    const { invoke, runs } = build({ fingerprint: version });
    const key = newKey();
    const body = newPayload();
    await invoke({ key, body, headers: { 'x-version': '1' } });
    expect((await invoke({ key, body, headers: { 'x-version': '2' } })).statusCode).toBe(422);
    expect(runs.count).toBe(1);
  });
});

describe('what is counted for a request the door refuses', () => {
  it('names the mode, the scope and the correlation id, and nothing of the key', async () => {
    const { invoke, telemetry } = build({ scope: 'create-order' });
    await invoke({ key: null, headers: { 'x-correlation-id': 'corr-9' } });
    await invoke({ key: '\u0001' });
    const [missing, invalid] = telemetry.signals;
    expect(missing).toEqual({
      signal: Signal.MissingKey,
      facts: { mode: 'enforce', scope: 'create-order', correlationId: 'corr-9' },
    });
    expect(invalid?.signal).toBe(Signal.InvalidKey);
    expect(invalid?.facts).toEqual({
      mode: 'enforce',
      scope: 'create-order',
      correlationId: expect.any(String),
    });
  });
});

describe('the correlation id when the client sent none or both', () => {
  it('is generated without either header, and is the x-correlation-id when both are sent', async () => {
    const { invoke } = build();
    expect(header(await invoke({ key: newKey() }), 'x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    const both = await invoke({
      key: newKey(),
      headers: { 'x-correlation-id': 'corr-1', 'x-request-id': 'req-1' },
    });
    expect(header(both, 'x-correlation-id')).toBe('corr-1');
  });
});

describe('a middleware around the door that fails after the response was stored', () => {
  it('never releases the stored record: the retry is a replay', async () => {
    const store = new MemoryStore();
    let runs = 0;
    const failingAfter = { after: () => Promise.reject(new Error('logger down')) };
    const handler = middy(async () => {
      runs++;
      return { statusCode: 201, body: '{}' };
    })
      .use(failingAfter)
      .use(httpIdempotency({ store, org: 'acme', environment: 'test', mode: 'enforce', waitBudgetMs: 0 }));
    const event = httpEvent('http', { key: newKey(), body: newPayload() });
    await expect(handler(event, lambdaContext())).rejects.toThrow('logger down');
    expect(store.records().map((record) => record.status)).toEqual([RecordStatus.Completed]);
    // A replay is answered early, so no `after` runs.
    const replay = (await handler(event, lambdaContext())) as HttpResult;
    expect(header(replay, 'idempotent-replayed')).toBe('true');
    expect(runs).toBe(1);
  });
});
