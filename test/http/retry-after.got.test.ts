/**
 * An honest Retry-After, measured with a real HTTP client: `got` with a 10 s request timeout that retries 409.
 * The lease's remainder (28 s on a 30 s lock) would make it give up; the estimate from how long this scope's
 * first executions take lets it retry and end with the replayed answer.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import middy from '@middy/core';
import got from 'got';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { RecordStatus } from '../../src/core/types.js';
import { httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { httpEvent, lambdaContext, newKey } from './harness.js';

// The operation's own work: what a slow first execution does, not a wait for something to happen.
const WORK_MS = 3_000;
const { client } = localClient();
let store: DynamoDBStore;
let server: Server;
let url: string;
const sent: { status: number; retryAfter?: string }[] = [];
const runs: string[] = [];

beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'retry-after'), client });
  const handler = middy(async (event: { body: string }) => {
    runs.push(event.body);
    await sleep(WORK_MS);
    return { statusCode: 201, body: JSON.stringify({ created: true }) };
  }).use(
    httpIdempotency({
      store,
      org: 'acme',
      scope: 'create-report',
      environment: 'test',
      mode: 'enforce',
      lockTtlSeconds: 30,
      waitBudgetMs: 0,
    }),
  );
  // A minimal gateway: each HTTP request becomes an HTTP API event for the Lambda handler.
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', async () => {
      const event = httpEvent('http', {
        key: request.headers['idempotency-key'] as string,
        body: JSON.parse(body) as Record<string, unknown>,
        path: '/reports',
      });
      const answer = (await handler(event as never, lambdaContext(60_000))) as {
        statusCode: number;
        headers?: Record<string, string>;
        body?: string;
      };
      const retryAfter = Object.entries(answer.headers ?? {}).find(
        ([name]) => name.toLowerCase() === 'retry-after',
      );
      sent.push({ status: answer.statusCode, retryAfter: retryAfter?.[1] });
      response.writeHead(answer.statusCode, answer.headers);
      response.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/reports`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  client.destroy();
});

const post = (key: string, options: { retry409?: boolean } = {}) =>
  got.post(url, {
    json: { report: 'q4' },
    headers: { 'idempotency-key': key },
    timeout: { request: 10_000 },
    retry: options.retry409
      ? { limit: 3, methods: ['POST'], statusCodes: [409], errorCodes: [] }
      : { limit: 0 },
    throwHttpErrors: false,
  });

describe('Retry-After on a 409', () => {
  it('tells a duplicate of a 3 s operation to come back in a few seconds, and got ends with the replay', async () => {
    // One first execution of this scope teaches the engine how long they take.
    expect((await post(newKey())).statusCode).toBe(201);

    const key = newKey();
    const first = post(key);
    while ((await store.get(recordKey('acme', 'create-report', key)))?.status !== RecordStatus.InProgress)
      await sleep(10);
    sent.length = 0;
    const duplicate = await post(key, { retry409: true });

    expect(duplicate.statusCode).toBe(201);
    expect(duplicate.headers['idempotent-replayed']).toBe('true');
    expect((await first).statusCode).toBe(201);
    const conflicts = sent.filter((answer) => answer.status === 409);
    expect(conflicts.length).toBeGreaterThanOrEqual(1);
    for (const conflict of conflicts) {
      // A few seconds, not the ~29 s left on the 30 s lease.
      expect(Number(conflict.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(conflict.retryAfter)).toBeLessThanOrEqual(5);
    }
    expect(runs).toHaveLength(2);
  }, 60_000);
});
