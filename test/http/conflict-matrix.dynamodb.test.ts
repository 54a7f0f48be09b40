/**
 * The conflict matrix of docs/consistency.md, row by row, through the public API on DynamoDB Local: a
 * versioned orders resource behind `httpPreconditions` and `httpIdempotency`, as a team would deploy it.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { RecordStatus } from '../../src/core/types.js';
import { httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { etagOf, httpPreconditions, ifMatchVersion, versionedWrite } from '../../src/versioning/index.js';
import { gate } from '../sqs/support.js';
import { Fault, faultyClient } from '../stores/faults.js';
import { createIdempotencyTable, createTable, localClient } from '../support/dynamodb.js';
import { header, httpEvent, lambdaContext, newKey, problemOf } from './harness.js';

const { client } = localClient();
const faulty = faultyClient();
let ordersTable: string;
let idempotencyTable: string;

beforeAll(async () => {
  idempotencyTable = await createIdempotencyTable(client, 'matrix');
  ordersTable = await createTable(client, 'orders');
});
afterAll(() => {
  client.destroy();
  faulty.client.destroy();
});
beforeEach(() => faulty.control.reset());

let orders = 0;
const freshOrder = () => `order-${process.pid}-${Date.now()}-${++orders}`;

/** PUT /orders/{id}: a versioned write of the order's status, idempotent by key, fenced by If-Match. */
function ordersApi(options: { strictFailClosed?: boolean; hold?: Promise<void> } = {}) {
  const runs = { count: 0 };
  const handler = middy(async (event: { body: string; rawPath: string }, context: Context) => {
    runs.count += 1;
    await options.hold;
    const { status } = JSON.parse(event.body) as { status: string };
    const { version } = await versionedWrite({
      client,
      tableName: ordersTable,
      key: { pk: { S: event.rawPath } },
      set: { status: { S: status } },
      expectedVersion: ifMatchVersion(context),
    });
    return { statusCode: 200, headers: { ETag: etagOf(version) }, body: JSON.stringify({ status, version }) };
  })
    .use(httpPreconditions({ requireIfMatch: ['PUT'] }))
    .use(
      httpIdempotency({
        store: new DynamoDBStore({ tableName: idempotencyTable, client: faulty.client }),
        org: 'acme',
        scope: 'update-order',
        environment: 'test',
        mode: 'enforce',
        enforceMethods: ['PUT', 'POST'],
        waitBudgetMs: 0,
        strictFailClosed: options.strictFailClosed,
      }),
    );
  const put = (order: string, input: { key?: string | null; ifMatch?: string; status?: string }) =>
    handler(
      httpEvent('http', {
        method: 'PUT',
        path: `/orders/${order}`,
        key: input.key === undefined ? newKey() : input.key,
        body: { status: input.status ?? 'PAID' },
        headers: input.ifMatch === undefined ? {} : { 'if-match': input.ifMatch },
      }) as never,
      lambdaContext(),
    ) as Promise<{ statusCode: number; headers?: Record<string, string>; body?: string }>;
  return { put, runs };
}

/** Creates the order at version 1 (If-Match: "0" would not exist, so create with `*`-less expected 0). */
async function created(order: string): Promise<void> {
  await versionedWrite({
    client,
    tableName: ordersTable,
    key: { pk: { S: `/orders/${order}` } },
    set: { status: { S: 'PLACED' } },
    expectedVersion: 0,
  });
}

const versionOf = async (order: string) =>
  Number(
    (
      await client.send(
        new GetItemCommand({
          TableName: ordersTable,
          Key: { pk: { S: `/orders/${order}` } },
          ConsistentRead: true,
        }),
      )
    ).Item?.version?.N,
  );

describe('the conflict matrix (docs/consistency.md)', () => {
  it('missing Idempotency-Key: 400 missing-idempotency-key, nothing runs', async () => {
    const { put, runs } = ordersApi();
    const response = await put(freshOrder(), { key: null, ifMatch: '"1"' });
    expect(response.statusCode).toBe(400);
    expect(problemOf(response as never).type).toMatch(/missing-idempotency-key$/);
    expect(runs.count).toBe(0);
  });

  it('malformed Idempotency-Key: 400 invalid-idempotency-key, nothing runs', async () => {
    const { put, runs } = ordersApi();
    const response = await put(freshOrder(), { key: 'x'.repeat(256), ifMatch: '"1"' });
    expect(response.statusCode).toBe(400);
    expect(problemOf(response as never).type).toMatch(/invalid-idempotency-key$/);
    expect(runs.count).toBe(0);
  });

  it('key reused with another request: 422 idempotency-key-reused, the first answer stands', async () => {
    const { put, runs } = ordersApi();
    const order = freshOrder();
    await created(order);
    const key = newKey();
    expect((await put(order, { key, ifMatch: '"1"', status: 'PAID' })).statusCode).toBe(200);
    const reused = await put(order, { key, ifMatch: '"1"', status: 'CANCELLED' });
    expect(reused.statusCode).toBe(422);
    expect(problemOf(reused as never).type).toMatch(/idempotency-key-reused$/);
    expect(runs.count).toBe(1);
  });

  it('first request still running: 409 request-in-progress with Retry-After, then the replay', async () => {
    const hold = gate();
    const { put, runs } = ordersApi({ hold: hold.wait });
    const order = freshOrder();
    await created(order);
    const key = newKey();
    const first = put(order, { key, ifMatch: '"1"' });
    // Send the duplicate only once the first holds its lease (read from the table), however slow the machine.
    const idempotency = new DynamoDBStore({ tableName: idempotencyTable, client });
    const pk = recordKey('acme', 'update-order', key);
    while ((await idempotency.get(pk))?.status !== RecordStatus.InProgress) await sleep(10);
    const duplicate = await put(order, { key, ifMatch: '"1"' });
    expect(duplicate.statusCode).toBe(409);
    expect(Number(header(duplicate as never, 'retry-after'))).toBeGreaterThanOrEqual(1);
    expect(problemOf(duplicate as never).type).toMatch(/request-in-progress$/);
    hold.open();
    expect((await first).statusCode).toBe(200);
    expect(header((await put(order, { key, ifMatch: '"1"' })) as never, 'Idempotent-Replayed')).toBe('true');
    expect(runs.count).toBe(1);
  });

  it('If-Match missing where required: 428 precondition-required, before any claim', async () => {
    const { put, runs } = ordersApi();
    const response = await put(freshOrder(), {});
    expect(response.statusCode).toBe(428);
    expect(problemOf(response as never).type).toMatch(/precondition-required$/);
    expect(runs.count).toBe(0);
  });

  it('If-Match names an old version: 412 precondition-failed with the current ETag, the key released', async () => {
    const { put, runs } = ordersApi();
    const order = freshOrder();
    await created(order);
    expect((await put(order, { ifMatch: '"1"' })).statusCode).toBe(200);
    const key = newKey();
    const stale = await put(order, { key, ifMatch: '"1"', status: 'CANCELLED' });
    expect(stale.statusCode).toBe(412);
    expect(problemOf(stale as never).type).toMatch(/precondition-failed$/);
    expect(header(stale as never, 'etag')).toBe('"2"');
    // The 412 was not stored: the same key with the current ETag is a new attempt, and it succeeds.
    expect((await put(order, { key, ifMatch: '"2"', status: 'CANCELLED' })).statusCode).toBe(200);
    expect(runs.count).toBe(3);
    expect(await versionOf(order)).toBe(3);
  });

  it('a weak or malformed If-Match never matches: 412 before the handler runs', async () => {
    const { put, runs } = ordersApi();
    const response = await put(freshOrder(), { ifMatch: 'W/"1"' });
    expect(response.statusCode).toBe(412);
    expect(runs.count).toBe(0);
  });

  it('the lost response of a successful versioned write, retried: a replay, never a false 412', async () => {
    const { put, runs } = ordersApi();
    const order = freshOrder();
    await created(order);
    const key = newKey();
    const first = await put(order, { key, ifMatch: '"1"' });
    // The client never saw `first`; it retries the same request with the same key and the same If-Match.
    const retry = await put(order, { key, ifMatch: '"1"' });

    expect(retry.statusCode).toBe(200);
    expect(header(retry as never, 'Idempotent-Replayed')).toBe('true');
    expect(header(retry as never, 'etag')).toBe(header(first as never, 'etag'));
    expect(retry.body).toBe(first.body);
    expect(runs.count).toBe(1);
    expect(await versionOf(order)).toBe(2);
  });

  it('store down: fail open by default (the write runs), 503 with Retry-After when strictly failing closed', async () => {
    const order = freshOrder();
    await created(order);
    faulty.control.fail(Fault.ServerError, { commands: ['PutItemCommand'], times: 1 });
    const open = ordersApi();
    expect((await open.put(order, { ifMatch: '"1"' })).statusCode).toBe(200);
    expect(open.runs.count).toBe(1);

    faulty.control.fail(Fault.ServerError, { commands: ['PutItemCommand'], times: 1 });
    const closed = ordersApi({ strictFailClosed: true });
    const refused = await closed.put(order, { ifMatch: '"2"' });
    expect(refused.statusCode).toBe(503);
    expect(header(refused as never, 'retry-after')).toBe('1');
    expect(problemOf(refused as never).type).toMatch(/idempotency-store-unavailable$/);
    expect(closed.runs.count).toBe(0);
  });
});
