import { afterEach, describe, expect, it } from 'vitest';
import {
  IdempotencyConfigError,
  IdempotencyProblemError,
  IdempotencyRequestError,
  IdempotentClient,
  type IdempotentClientOptions,
  parseRetryAfter,
  type RetryInfo,
} from '../../src/client/index.js';
import { answer, cut, delay, type Fault, type FaultProxy, startFaultProxy } from './fault-proxy.js';

let proxy: FaultProxy | undefined;
afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
});

/** A proxy that answers by itself (no server behind it), one fault per attempt, the last one repeated. */
async function answering(...faults: Fault[]): Promise<FaultProxy> {
  proxy = await startFaultProxy(
    undefined,
    ({ attempt }) => faults[Math.min(attempt, faults.length) - 1] ?? delay,
  );
  return proxy;
}

const ok: Fault = {
  kind: 'answer',
  status: 201,
  headers: { 'content-type': 'application/json' },
  body: '{"id":"o-1"}',
};

/**
 * A client on a virtual clock: `sleep` moves the clock by exactly what the client asked for and records it, so
 * the backoff arithmetic and the budget are asserted without a wall-clock limit.
 */
function virtualClient(options: IdempotentClientOptions = {}) {
  let clock = 0;
  const sleeps: number[] = [];
  const retries: RetryInfo[] = [];
  const client = new IdempotentClient({
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    random: () => 0.999,
    onRetry: (retry) => retries.push(retry),
    ...options,
  });
  return { client, sleeps, retries, elapsed: () => clock };
}

const post = (client: IdempotentClient, url: string, init: RequestInit & { idempotencyKey?: string } = {}) =>
  client.fetch(`${url}/orders`, { method: 'POST', body: '{"items":[]}', ...init });

describe('IdempotentClient backoff', () => {
  it('waits full-jitter delays under a doubling ceiling capped at maxDelayMs, and stops at the budget', async () => {
    const { url } = await answering(answer(503));
    const { client, sleeps, elapsed } = virtualClient({
      baseDelayMs: 100,
      maxDelayMs: 2_000,
      budgetMs: 10_000,
      maxAttempts: 100,
    });
    const error = await post(client, url).catch((caught: unknown) => caught);
    // random() = 0.999 takes almost the whole ceiling: 100, 200, 400, 800, 1600, then the 2000 cap.
    expect(sleeps).toEqual([99, 199, 399, 799, 1598, 1998, 1998, 1998]);
    // The next wait (1998) would end past 10 000 ms: the client stops instead of sleeping into the deadline.
    expect(elapsed()).toBe(9_088);
    expect(error).toBeInstanceOf(IdempotencyProblemError);
    expect(error).toMatchObject({ status: 503, retryable: true, attempts: 9 });
    expect(proxy?.requests).toHaveLength(9);
  });

  it('takes a random share of the ceiling (full jitter), never a fixed delay', async () => {
    const { url } = await answering(answer(429), answer(429), ok);
    const { client, sleeps } = virtualClient({ baseDelayMs: 1_000, random: () => 0.25 });
    expect((await post(client, url)).status).toBe(201);
    expect(sleeps).toEqual([250, 500]);
  });

  it('honours Retry-After in seconds: never retries sooner than the server asked', async () => {
    const { url } = await answering(answer(429, { 'retry-after': '3' }), ok);
    const { client, sleeps, retries } = virtualClient({ baseDelayMs: 100 });
    expect((await post(client, url)).status).toBe(201);
    expect(sleeps).toEqual([3_000]);
    expect(retries).toEqual([
      expect.objectContaining({ attempt: 1, reason: 'status', status: 429, delayMs: 3_000 }),
    ]);
  });

  it('gives up at once when Retry-After reaches past the budget, with the retry-after seconds attached', async () => {
    const { url } = await answering(answer(503, { 'retry-after': '120' }));
    const { client, sleeps } = virtualClient({ budgetMs: 30_000 });
    const error = await post(client, url).catch((caught: unknown) => caught);
    expect(sleeps).toEqual([]);
    expect(error).toMatchObject({ status: 503, retryable: true, attempts: 1, retryAfterSeconds: 120 });
    expect(proxy?.requests).toHaveLength(1);
  });

  it('stops after maxAttempts', async () => {
    const { url } = await answering(answer(409));
    const { client } = virtualClient({ maxAttempts: 3 });
    await expect(post(client, url)).rejects.toMatchObject({ status: 409, attempts: 3 });
    expect(proxy?.requests).toHaveLength(3);
  });

  it('reads an HTTP-date Retry-After against the wall clock', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    expect(parseRetryAfter('Tue, 01 Dec 2026 10:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('IdempotentClient retries', () => {
  it.each([409, 429, 503])(
    'retries %i under the same key and correlation id until it gets an answer',
    async (status) => {
      const { url } = await answering(answer(status), answer(status), ok);
      const { client } = virtualClient();
      const response = await post(client, url);
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({ id: 'o-1' });
      const seen = proxy?.requests ?? [];
      expect(seen).toHaveLength(3);
      expect(new Set(seen.map((request) => request.key)).size).toBe(1);
      expect(new Set(seen.map((request) => request.correlationId)).size).toBe(1);
      expect(seen[0]?.key).toMatch(/^[0-9a-f-]{36}$/);
    },
  );

  it.each([400, 401, 403, 404, 412, 422])(
    'never retries %i: one request, the problem thrown as is',
    async (status) => {
      const { url } = await answering(answer(status), ok);
      const { client, sleeps } = virtualClient();
      const error = await post(client, url).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdempotencyProblemError);
      expect(error).toMatchObject({
        status,
        retryable: false,
        attempts: 1,
        problem: { type: `https://proxy.test/${status}`, title: `injected ${status}`, status },
      });
      expect(proxy?.requests).toHaveLength(1);
      expect(sleeps).toEqual([]);
    },
  );

  it('does not retry a 500 unless told to, and retries it when listed in retryStatuses', async () => {
    const { url } = await answering(answer(500), ok);
    await expect(post(virtualClient().client, url)).rejects.toMatchObject({ status: 500, attempts: 1 });
    expect((await post(virtualClient({ retryStatuses: [500] }).client, url)).status).toBe(201);
  });

  it('reads a body that is not problem+json as an about:blank problem', async () => {
    const { url } = await answering({ kind: 'answer', status: 404, body: '<h1>Not Found</h1>' });
    await expect(post(virtualClient().client, url)).rejects.toMatchObject({
      status: 404,
      problem: { type: 'about:blank', status: 404 },
    });
  });

  it('uses one new key per logical operation, and the given key when there is one', async () => {
    const { url } = await answering(ok);
    const { client } = virtualClient();
    await post(client, url);
    await post(client, url);
    await post(client, url, { idempotencyKey: 'order-7' });
    await client.fetch(`${url}/orders/7`);
    const keys = (proxy?.requests ?? []).map((request) => request.key);
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe('order-7');
    // A GET is idempotent by definition: no key.
    expect(keys[3]).toBeUndefined();
  });

  it('sends the given X-Correlation-Id on every attempt and puts it on the error', async () => {
    const { url } = await answering(answer(503), answer(422));
    const { client } = virtualClient();
    const error = await post(client, url, { headers: { 'x-correlation-id': 'corr-42' } }).catch(
      (caught: unknown) => caught,
    );
    expect((proxy?.requests ?? []).map((request) => request.correlationId)).toEqual(['corr-42', 'corr-42']);
    expect(error).toMatchObject({ correlationId: 'corr-42', attempts: 2 });
  });
});

describe('IdempotentClient without an answer', () => {
  it('abandons an attempt after attemptTimeoutMs, retries it, and says so when the budget runs out', async () => {
    const { url } = await answering(delay);
    const { client, retries } = virtualClient({ attemptTimeoutMs: 200, maxAttempts: 2 });
    const error = await post(client, url).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyRequestError);
    expect(error).toMatchObject({ reason: 'timeout', attempts: 2 });
    expect(retries.map((retry) => retry.reason)).toEqual(['timeout']);
    expect(proxy?.requests).toHaveLength(2);
  });

  it('retries a connection cut without an answer as a network error', async () => {
    proxy = await startFaultProxy(undefined, () => cut);
    const { client, retries } = virtualClient({ maxAttempts: 3 });
    const error = await post(client, proxy.url).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'IdempotencyRequestError', reason: 'network', attempts: 3 });
    expect(retries.map((retry) => retry.reason)).toEqual(['network', 'network']);
  });
});

describe('IdempotentClient and an AbortSignal', () => {
  it('stops an attempt in flight at once with the signal’s reason, and sends no other', async () => {
    const { url } = await answering(delay);
    const controller = new AbortController();
    const pending = post(new IdempotentClient(), url, { signal: controller.signal });
    await proxy?.waitForRequests(1);
    controller.abort(new Error('user left the page'));
    await expect(pending).rejects.toThrow('user left the page');
    expect(proxy?.requests).toHaveLength(1);
  });

  it('stops a wait between attempts', async () => {
    const { url } = await answering(answer(503, { 'retry-after': '600' }));
    const controller = new AbortController();
    const client = new IdempotentClient({ budgetMs: 3_600_000, onRetry: () => controller.abort('stop') });
    await expect(post(client, url, { signal: controller.signal })).rejects.toBe('stop');
    expect(proxy?.requests).toHaveLength(1);
  });
});

describe('IdempotentClient configuration', () => {
  it('refuses to retry 400, 412 or 422, naming the option', () => {
    expect(() => new IdempotentClient({ retryStatuses: [503, 422] })).toThrow(
      /Expected `retryStatuses` of `IdempotentClient` to be a list of 408, 409, 425, 429 or 5xx statuses, got 422/,
    );
  });

  it('rejects an unknown option and a bad number', () => {
    expect(() => new IdempotentClient({ budgetMS: 5 } as never)).toThrow(/Unknown option `budgetMS`/);
    expect(() => new IdempotentClient({ maxAttempts: 0 })).toThrow(IdempotencyConfigError);
  });

  it('refuses a stream body, which a retry could not send again', async () => {
    const body = new ReadableStream({ start: (controller) => controller.close() });
    await expect(
      new IdempotentClient().fetch('http://127.0.0.1:9/orders', {
        method: 'POST',
        body,
        duplex: 'half',
      } as never),
    ).rejects.toThrow(/a stream cannot be sent again on a retry/);
  });
});
