import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEngine } from '../src/core/door.js';
import { silentTelemetry } from '../src/core/telemetry.js';
import { DynamoDBStore } from '../src/stores/dynamodb.js';
import { createIdempotencyTable, localClient } from './support/dynamodb.js';

const { client, counter } = localClient();
let store: DynamoDBStore;

beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client), client });
});
afterAll(() => client.destroy());

const engine = () =>
  buildEngine({ store, telemetry: silentTelemetry, environment: 'test', mode: 'enforce', cache: true }, {});

describe('round trips on DynamoDB Local', () => {
  it('takes 2 on a first execution, 1 on a replay and 0 on a warm cache hit', async () => {
    const warm = engine();
    const input = { org: 'acme', scope: 'charge', key: 'k-1', fingerprint: 'f' };
    counter.reset();
    const first = await warm.begin(input);
    if (first.kind !== 'execute') throw new Error(`expected execute, got ${first.kind}`);
    await warm.complete(first.lease, { ok: true, at: new Date(0) });
    expect(counter.calls).toEqual(['PutItemCommand', 'UpdateItemCommand']);

    counter.reset();
    const cold = await engine().begin(input);
    expect(cold).toMatchObject({
      kind: 'replay',
      result: { ok: true, at: '1970-01-01T00:00:00.000Z' },
      fromCache: false,
    });
    expect(counter.calls).toEqual(['PutItemCommand']);

    counter.reset();
    expect(await warm.begin(input)).toMatchObject({ kind: 'replay', fromCache: true });
    expect(counter.count()).toBe(0);
  });
});
