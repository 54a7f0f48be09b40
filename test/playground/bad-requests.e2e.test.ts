import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listening, type NodeProcess, startNode, stopAll } from './processes.js';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

describe('npm start, when Java is missing and requests are bad', () => {
  let playground: NodeProcess;
  let url: string;
  let dynamodb: string;
  let sqs: string;
  const secretKey = `secret-${randomUUID()}`;

  beforeAll(async () => {
    playground = startNode('playground/main.ts', {
      PORT: '0',
      PLAYGROUND_DYNAMODB_PORT: '0',
      PLAYGROUND_SQS_PORT: '0',
      // Only node's own folder: `java` is not found, so the playground must fall back to dynalite.
      PATH: dirname(process.execPath),
      PLAYGROUND_MAX_BODY_BYTES: '1024',
      IDEMPOTENCY_MODE: undefined,
    });
    // The banner's last line: everything above it has been printed.
    await playground.waitFor(/Ctrl-C stops every server/, 90_000);
    url = (playground.output().match(/ready in \d+ ms: (http:\/\/127\.0\.0\.1:\d+)/) ?? [])[1] as string;
    dynamodb = (playground.output().match(/DynamoDB \(dynalite\) (http:\/\/\S+)/) ?? [])[1] as string;
    sqs = (playground.output().match(/SQS \(fauxqs\) (http:\/\/\S+)/) ?? [])[1] as string;
  }, 120_000);
  afterAll(stopAll);

  const post = (path: string, init: { headers?: Record<string, string>; body?: string } = {}) =>
    send(`${url}${path}`, { method: 'POST', ...init });
  const order = (headers: Record<string, string>, body = '{"items":[{"sku":"tea","quantity":1}]}') =>
    post('/orders', { headers: { 'content-type': 'application/json', ...headers }, body });

  it('says it runs dynalite instead of DynamoDB Local, and why', () => {
    expect(playground.output()).toMatch(
      /warning: Java was not found .* runs dynalite instead of DynamoDB Local/,
    );
    expect(dynamodb).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('prints the curl commands and the idemkit commands for its own endpoints', () => {
    const output = playground.output();
    expect(output).toContain(`curl -i -X POST ${url}/orders -H 'Authorization: Bearer dev:acme'`);
    expect(output).toContain(`curl -s -X POST ${url}/_playground/latency`);
    expect(output).toContain(
      `idemkit dlq replay --from idemkit-dev-invoice-jobs-dlq --to idemkit-dev-invoice-jobs --endpoint ${sqs} --yes`,
    );
    expect(output).toContain(`idemkit dlq peek idemkit-dev-invoice-jobs-dlq --show-bodies --endpoint ${sqs}`);
  });

  it('enforces by default', () => {
    expect(playground.output()).toMatch(/mode enforce \(IDEMPOTENCY_MODE\)/);
  });

  it('answers an unknown route with a 404 problem', async () => {
    const answer = await send(`${url}/nope?x=1`, { method: 'GET' });
    expectProblem(answer, 404, 'playground/not-found');
    expect(JSON.parse(answer.body).detail).toContain('POST /orders');
  });

  it("gives its own answers a correlation id: the caller's, or a new one per request", async () => {
    const sent = await send(`${url}/nope`, { method: 'GET', headers: { 'x-correlation-id': 'c-404-test' } });
    expect(sent.headers.get('x-correlation-id')).toBe('c-404-test');
    const first = await order({ 'idempotency-key': randomUUID() });
    const second = await order({ 'idempotency-key': randomUUID() });
    expect(first.status).toBe(401);
    expect(first.headers.get('x-correlation-id')).toMatch(/^[\w-]{8,}$/);
    expect(second.headers.get('x-correlation-id')).not.toBe(first.headers.get('x-correlation-id'));
  });

  it('answers a body over the limit with a 413 problem', async () => {
    const answer = await order(
      { authorization: 'Bearer dev:acme', 'idempotency-key': randomUUID() },
      JSON.stringify({ items: [{ sku: 'x'.repeat(2000), quantity: 1 }] }),
    );
    expectProblem(answer, 413, 'playground/payload-too-large');
  });

  it('answers a request without a development token with a 401 problem', async () => {
    expectProblem(await order({ 'idempotency-key': randomUUID() }), 401, 'playground/unauthorized');
  });

  it("answers a POST without Idempotency-Key with the library's 400 problem", async () => {
    expectProblem(await order({ authorization: 'Bearer dev:acme' }), 400, 'missing-idempotency-key');
  });

  it("answers a malformed key with the library's 400 problem", async () => {
    const answer = await order({ authorization: 'Bearer dev:acme', 'idempotency-key': 'k'.repeat(300) });
    expectProblem(answer, 400, 'invalid-idempotency-key');
  });

  it("answers an org the library cannot use with the library's 400 problem", async () => {
    const answer = await order({ authorization: 'Bearer dev:a#b', 'idempotency-key': randomUUID() });
    expectProblem(answer, 400, 'invalid-org');
  });

  it("answers a body the handler rejects with the handler's problem, replayed on retry", async () => {
    const headers = { authorization: 'Bearer dev:acme', 'idempotency-key': randomUUID() };
    const first = await order(headers, '{"items": not json');
    expectProblem(first, 400, 'invalid-order');
    const retry = await order(headers, '{"items": not json');
    expect(retry.status).toBe(400);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
  });

  it('still serves a good request after all of them, and logs only digests', async () => {
    const headers = { authorization: 'Bearer dev:acme', 'idempotency-key': secretKey };
    const first = await order(headers);
    expect(first.status).toBe(201);
    const replay = await order(headers);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    await playground.waitFor(/create-order\s+replay\s+org=acme key#/, 10_000);
    expect(playground.output()).not.toContain(secretKey);
  });

  it('stops every server on SIGTERM', async () => {
    const code = await playground.stop('SIGTERM');
    expect(code, playground.output()).toBe(0);
    expect(playground.output()).toContain('stopped: no server left running.');
    expect(await listening(url)).toBe(false);
    expect(await listening(dynamodb)).toBe(false);
    expect(await listening(sqs)).toBe(false);
  }, 30_000);
});

async function send(url: string, init: RequestInit): Promise<Answer> {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

function expectProblem(answer: Answer, status: number, slug: string): void {
  expect(answer.status, answer.body).toBe(status);
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
  const problem = JSON.parse(answer.body) as { type: string; title: string; status: number; detail: string };
  expect(problem.type).toMatch(new RegExp(`/${slug}$`));
  expect(problem.status).toBe(status);
  expect(problem.title.length).toBeGreaterThan(0);
  expect(problem.detail.length).toBeGreaterThan(0);
}
