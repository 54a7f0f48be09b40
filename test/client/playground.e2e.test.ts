import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IdempotencyProblemError,
  IdempotencyRequestError,
  IdempotentClient,
  type IdempotentClientOptions,
  ProblemType,
  type RetryInfo,
} from '../../src/client/index.js';
import { keyDigest } from '../../src/core/keys.js';
import { type NodeProcess, startNode, stopAll } from '../playground/processes.js';
import { answer, delay, type Fault, type FaultProxy, lose, pass, startFaultProxy } from './fault-proxy.js';

// The reference orders API of `npm start`, run as a real process, behind a proxy that damages answers as the
// network does. The server's own decision lines (digests only) count how often each operation ran.
let playground: NodeProcess;
let playgroundUrl: string;
let proxy: FaultProxy;
/** Faults per idempotency key, one per attempt; attempts past the list pass. */
const plans = new Map<string, Fault[]>();

beforeAll(async () => {
  playground = startNode('playground/main.ts', {
    PORT: '0',
    // A short lease (renewed while the handler runs) and wait budget, so a real 409 comes quickly.
    IDEMPOTENCY_LOCK_TTL_S: '5',
    IDEMPOTENCY_WAIT_BUDGET_MS: '500',
    IDEMPOTENCY_MODE: 'enforce',
  });
  await playground.waitFor(/Ctrl-C stops every server/, 120_000);
  playgroundUrl = (playground.output().match(/ready in \d+ ms: (http:\/\/127\.0\.0\.1:\d+)/) ??
    [])[1] as string;
  proxy = await startFaultProxy(
    playgroundUrl,
    ({ key, attempt }) => plans.get(key ?? '')?.[attempt - 1] ?? pass,
  );
}, 150_000);

afterAll(async () => {
  await proxy?.stop();
  await stopAll();
});

const order = (quantity = 1) => JSON.stringify({ items: [{ sku: 'tea', quantity }] });

function client(options: IdempotentClientOptions = {}) {
  const retries: RetryInfo[] = [];
  const api = new IdempotentClient({
    baseUrl: proxy.url,
    headers: { authorization: 'Bearer dev:acme', 'content-type': 'application/json' },
    attemptTimeoutMs: 2_500,
    baseDelayMs: 50,
    maxDelayMs: 500,
    budgetMs: 90_000,
    onRetry: (retry) => retries.push(retry),
    ...options,
  });
  return { api, retries };
}

/** A decision line of the playground for one key: `create-order  first_execution  org=acme key#<10 chars>…`. */
function decisionLine(signal: string, key: string): RegExp {
  const digest = keyDigest(key).slice(0, 10).replace(/[-]/g, '\\-');
  return new RegExp(`create-order\\s+${signal}\\s+org=acme key#${digest}…`, 'g');
}

/** How many times the server logged `signal` for `key`, once the line `until` has been read. */
async function serverCount(signal: string, key: string, until: RegExp): Promise<number> {
  await playground.waitFor(new RegExp(until.source), 30_000);
  return playground.output().match(decisionLine(signal, key))?.length ?? 0;
}

/** Waits until the server has decided `count` requests with `key` (run, replayed or in progress). */
async function serverDecisions(key: string, count: number): Promise<void> {
  const one = decisionLine('(?:first_execution|replay|in_progress)', key).source;
  await playground.waitFor(new RegExp(`(?:[\\s\\S]*?${one}){${count}}`), 30_000);
}

/** Waits until the server has logged `count` access lines for `POST /orders → status` in all. */
async function accessLines(status: number, count: number): Promise<void> {
  if (count === 0) return;
  await playground.waitFor(new RegExp(`(?:[\\s\\S]*?http: POST /orders → ${status} ){${count}}`), 30_000);
}
const accessCount = (status: number) =>
  playground.output().match(new RegExp(`http: POST /orders → ${status} `, 'g'))?.length ?? 0;

describe('idemkit/client against the playground through a fault proxy', () => {
  it('runs every logical operation once on the server and resolves each at the caller', async () => {
    const scripts: Record<string, Fault[]> = {
      'answer lost after the side effect': [lose],
      'answer held past the client timeout': [delay],
      '409, 429 with Retry-After, 503 from the proxy': [
        answer(409),
        answer(429, { 'retry-after': '1' }),
        answer(503),
      ],
      'lost, then held, then 503': [lose, delay, answer(503)],
      'no fault': [],
    };
    const operations = Object.entries(scripts).map(([name, faults]) => {
      const key = `order-${randomUUID()}`;
      plans.set(key, faults);
      return { name, key, faults };
    });
    const { api } = client();
    const responses = await Promise.all(
      operations.map(({ key }) =>
        api.fetch('/orders', { method: 'POST', body: order(), idempotencyKey: key }),
      ),
    );

    for (const [index, { name, key, faults }] of operations.entries()) {
      const response = responses[index] as Response;
      expect(response.status, name).toBe(201);
      const body = (await response.json()) as { orderId: string };
      expect(body.orderId, name).toMatch(/^[\w-]{22}$/);
      const forwarded = faults.filter((fault) => fault.kind !== 'answer').length;
      // Every forwarded attempt reached the server; the first ran the handler, every later one was a replay.
      const replayed = response.headers.get('idempotent-replayed') === 'true';
      expect(replayed, name).toBe(forwarded > 0);
      const last = replayed ? decisionLine('replay', key) : decisionLine('first_execution', key);
      expect(await serverCount('first_execution', key, last), name).toBe(1);
      const requests = proxy.requestsFor(key);
      expect(requests.length, name).toBeGreaterThanOrEqual(faults.length + 1);
      expect(new Set(requests.map((request) => request.correlationId)).size, name).toBe(1);
    }
  }, 120_000);

  it('waits out a real 409 from the server for as long as its Retry-After says, then gets the replay', async () => {
    const key = `order-${randomUUID()}`;
    // The first request's handler takes 6 s; the client gives each attempt 2.5 s and the server waits 0.5 s.
    await setLatency(6_000);
    try {
      const { api, retries } = client();
      const response = await api.fetch('/orders', { method: 'POST', body: order(), idempotencyKey: key });
      expect(response.status).toBe(201);
      expect(response.headers.get('idempotent-replayed')).toBe('true');
      const conflicts = retries.filter((retry) => retry.status === 409);
      expect(conflicts.length).toBeGreaterThanOrEqual(1);
      for (const conflict of conflicts) {
        expect(conflict.retryAfterMs).toBeGreaterThanOrEqual(1_000);
        expect(conflict.delayMs).toBeGreaterThanOrEqual(conflict.retryAfterMs ?? Number.POSITIVE_INFINITY);
      }
      const last = decisionLine('replay', key);
      expect(await serverCount('first_execution', key, last)).toBe(1);
      expect(await serverCount('in_progress', key, last)).toBeGreaterThanOrEqual(1);
    } finally {
      await setLatency(0);
    }
  }, 120_000);

  it('never retries a 4xx answer: each reaches the server once', async () => {
    const before = { 400: accessCount(400), 401: accessCount(401), 422: accessCount(422) };
    const { api, retries } = client();
    const fail = (init: Parameters<IdempotentClient['fetch']>[1], using = api) =>
      using.fetch('/orders', { method: 'POST', ...init }).then(
        () => undefined,
        (error: unknown) => error as IdempotencyProblemError,
      );

    // 422: the key was used before with another body.
    const reused = `order-${randomUUID()}`;
    expect(
      (await api.fetch('/orders', { method: 'POST', body: order(1), idempotencyKey: reused })).status,
    ).toBe(201);
    const mismatch = await fail({ body: order(9), idempotencyKey: reused });
    expect(mismatch).toBeInstanceOf(IdempotencyProblemError);
    expect(mismatch).toMatchObject({ status: 422, attempts: 1, retryable: false });
    expect(mismatch?.problem.type).toBe(ProblemType.KeyMismatch);

    // 400 from the handler (an order without items), stored and so never run again.
    const invalid = `order-${randomUUID()}`;
    expect(await fail({ body: '{"items":[]}', idempotencyKey: invalid })).toMatchObject({
      status: 400,
      attempts: 1,
    });
    // 400 from the middleware: a key longer than 255 characters.
    const malformed = await fail({ body: order(), idempotencyKey: 'k'.repeat(300) });
    expect(malformed).toMatchObject({ status: 400, attempts: 1 });
    expect(malformed?.problem.type).toBe(ProblemType.InvalidKey);
    // 401 from the gateway: no token.
    const anonymous = new IdempotentClient({ baseUrl: proxy.url, onRetry: (retry) => retries.push(retry) });
    expect(await fail({ body: order() }, anonymous)).toMatchObject({ status: 401, attempts: 1 });
    // 412 from the proxy, which the playground never answers.
    const precondition = `order-${randomUUID()}`;
    plans.set(precondition, [answer(412)]);
    expect(await fail({ body: order(), idempotencyKey: precondition })).toMatchObject({
      status: 412,
      attempts: 1,
    });

    expect(retries).toEqual([]);
    expect(proxy.requestsFor(reused)).toHaveLength(2);
    expect(proxy.requestsFor(invalid)).toHaveLength(1);
    expect(proxy.requestsFor(precondition)).toHaveLength(1);
    // Counted at the server: one access line per 4xx, one mismatch decision, one run of the invalid order.
    await accessLines(422, before[422] + 1);
    await accessLines(400, before[400] + 2);
    await accessLines(401, before[401] + 1);
    expect(accessCount(422) - before[422]).toBe(1);
    expect(accessCount(400) - before[400]).toBe(2);
    expect(accessCount(401) - before[401]).toBe(1);
    expect(await serverCount('mismatch', reused, decisionLine('mismatch', reused))).toBe(1);
    expect(await serverCount('first_execution', invalid, decisionLine('first_execution', invalid))).toBe(1);
  }, 120_000);

  it('stops at its budget when every answer is held, having run the operation once on the server', async () => {
    const key = `order-${randomUUID()}`;
    plans.set(key, Array(50).fill(delay));
    const { api, retries } = client({
      budgetMs: 3_000,
      attemptTimeoutMs: 1_000,
      baseDelayMs: 10,
      maxDelayMs: 10,
    });
    const error = await api
      .fetch('/orders', { method: 'POST', body: order(), idempotencyKey: key })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyRequestError);
    expect(error).toMatchObject({ reason: 'timeout' });
    // Each attempt is held until its own timeout: a 3 s budget holds three of 1 s and the start of a fourth.
    const attempts = proxy.requestsFor(key).length;
    expect(attempts).toBe((error as IdempotencyRequestError).attempts);
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(4);
    expect(retries.every((retry) => retry.reason === 'timeout')).toBe(true);
    // Every held attempt still reached the server: one ran the handler, the others replayed or waited on it.
    await serverDecisions(key, attempts);
    expect(playground.output().match(decisionLine('first_execution', key))?.length).toBe(1);
  }, 60_000);

  it('sends one X-Correlation-Id on every attempt, which the server echoes', async () => {
    const key = `order-${randomUUID()}`;
    plans.set(key, [answer(503), lose]);
    const { api } = client();
    const response = await api.fetch('/orders', {
      method: 'POST',
      body: order(),
      idempotencyKey: key,
      correlationId: 'checkout-7f3a',
    });
    expect(response.headers.get('x-correlation-id')).toBe('checkout-7f3a');
    expect(proxy.requestsFor(key).map((request) => request.correlationId)).toEqual([
      'checkout-7f3a',
      'checkout-7f3a',
      'checkout-7f3a',
    ]);
  }, 60_000);
});

async function setLatency(ms: number): Promise<void> {
  const response = await fetch(`${playgroundUrl}/_playground/latency`, {
    method: 'POST',
    body: JSON.stringify({ ms }),
  });
  expect(response.status).toBe(200);
}
