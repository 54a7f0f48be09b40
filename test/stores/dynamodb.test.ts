import { randomUUID } from 'node:crypto';
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { buildEngine } from '../../src/core/door.js';
import { IdempotencyCorruptRecordError, IdempotencyStoreError } from '../../src/core/errors.js';
import { recordKey } from '../../src/core/keys.js';
import { silentTelemetry } from '../../src/core/telemetry.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { recordingTelemetry } from '../core/recording-telemetry.js';
import { createIdempotencyTable, createTable } from '../support/dynamodb.js';
import { LOCAL_CLIENT_CONFIG } from '../support/dynamodb-local.js';
import { FAULT_ERROR_NAME, Fault, faultyClient } from './faults.js';
import { claimRecord, storeContract } from './store-contract.js';

const { client, control } = faultyClient();
let store: DynamoDBStore;

beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'store'), client });
});
afterAll(() => client.destroy());
beforeEach(() => control.reset());

storeContract('DynamoDBStore on DynamoDB Local', () => store);

/** A single-table design's table: `PK` and `SK` (String), TTL on `ttl`, entities of other kinds beside the records. */
const createSingleTable = () =>
  createTable(client, 'single', { partitionKey: 'PK', sortKey: 'SK', ttl: 'ttl' });

const SINGLE_TABLE_ATTRIBUTES = {
  pk: 'PK',
  expiresAt: 'ttl',
  status: 'state',
  result: 'data',
  leaseToken: 'lockToken',
  leaseUntil: 'lockedUntil',
} as const;
let singleTable: DynamoDBStore;
let derivedTable: DynamoDBStore;

beforeAll(async () => {
  const tableName = await createSingleTable();
  singleTable = new DynamoDBStore({
    tableName,
    client,
    attributes: SINGLE_TABLE_ATTRIBUTES,
    sortKey: { name: 'SK', value: 'IDEMPOTENCY' },
  });
  derivedTable = new DynamoDBStore({
    tableName,
    client,
    attributes: SINGLE_TABLE_ATTRIBUTES,
    sortKey: { name: 'SK', value: (pk) => `IDEMPOTENCY#${pk.split('#')[1]}` },
  });
});

storeContract(
  'DynamoDBStore on an existing single-table schema (PK, SK = IDEMPOTENCY, renamed attributes)',
  () => singleTable,
);
storeContract(
  'DynamoDBStore on an existing single-table schema (a sort key derived from the pk)',
  () => derivedTable,
);

describe('DynamoDBStore on an existing table', () => {
  it("writes the table's own attribute names and sort key, and leaves the entities beside the record alone", async () => {
    const record = claimRecord();
    const order = { PK: { S: record.pk }, SK: { S: 'ORDER#1' }, total: { N: '42' } };
    await client.send(new PutItemCommand({ TableName: singleTable.tableName, Item: order }));
    await singleTable.claim(record, { nowMs: NOW_MS });
    const key = { PK: { S: record.pk }, SK: { S: 'IDEMPOTENCY' } };
    const raw = (await client.send(new GetItemCommand({ TableName: singleTable.tableName, Key: key }))).Item;
    expect(raw).toMatchObject({
      PK: { S: record.pk },
      SK: { S: 'IDEMPOTENCY' },
      state: { S: 'IN_PROGRESS' },
      ttl: { N: String(record.expiresAt) },
      lockToken: { S: record.leaseToken },
      lockedUntil: { N: String(record.leaseUntil) },
    });
    for (const name of ['pk', 'status', 'expiresAt', 'leaseToken', 'leaseUntil'])
      expect(raw).not.toHaveProperty(name);
    await singleTable.complete(record.pk, record.leaseToken ?? '', {
      status: 'COMPLETED',
      result: '"ok"',
      completedAt: NOW_MS,
      expiresAt: record.expiresAt,
    });
    const completed = (await client.send(new GetItemCommand({ TableName: singleTable.tableName, Key: key })))
      .Item;
    expect(completed).toMatchObject({ state: { S: 'COMPLETED' }, data: { S: '"ok"' } });
    expect(completed).not.toHaveProperty('lockedUntil');
    const orderKey = { PK: order.PK, SK: order.SK };
    expect(
      (await client.send(new GetItemCommand({ TableName: singleTable.tableName, Key: orderKey }))).Item,
    ).toEqual(order);
    await client.send(new DeleteItemCommand({ TableName: singleTable.tableName, Key: orderKey }));
  });

  it('keeps the sort key value derived from the pk', async () => {
    const record = claimRecord();
    await derivedTable.claim(record, { nowMs: NOW_MS });
    const raw = await client.send(
      new GetItemCommand({
        TableName: derivedTable.tableName,
        Key: { PK: { S: record.pk }, SK: { S: 'IDEMPOTENCY#contract' } },
      }),
    );
    expect(raw.Item?.state).toEqual({ S: 'IN_PROGRESS' });
  });

  it("sends idemkit's own expressions unchanged on the default schema, and placeholders for renamed attributes", async () => {
    const record = claimRecord();
    await singleTable.claim(record, { nowMs: NOW_MS });
    await singleTable.claim({ ...record, leaseToken: 'other' }, { nowMs: NOW_MS + 1, failedToken: 'x' });
    const claim = control.inputs.at(-1) as {
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
    };
    expect(claim.ConditionExpression).toBe(
      'attribute_not_exists(#pk) OR #expiresAt < :nowS OR (#status = :inProgress AND #leaseUntil < :nowMs) OR (#status = :failed AND #leaseToken = :failedToken)',
    );
    expect(claim.ExpressionAttributeNames).toEqual({
      '#pk': 'PK',
      '#expiresAt': 'ttl',
      '#status': 'state',
      '#leaseUntil': 'lockedUntil',
      '#leaseToken': 'lockToken',
    });
  });

  it("names the table's own attribute when a renamed one is damaged", async () => {
    const record = claimRecord();
    await singleTable.claim(record, { nowMs: NOW_MS });
    await client.send(
      new PutItemCommand({
        TableName: singleTable.tableName,
        Item: { PK: { S: record.pk }, SK: { S: 'IDEMPOTENCY' }, state: { S: 'DONE' } },
      }),
    );
    const read = await singleTable.get(record.pk).catch((caught: unknown) => caught);
    expect(read).toBeInstanceOf(IdempotencyCorruptRecordError);
    expect((read as IdempotencyCorruptRecordError).attributes).toEqual(
      expect.arrayContaining(['state', 'ttl', 'fingerprint']),
    );
  });

  it('refuses attribute names it cannot use, saying which option is wrong', () => {
    expect(() => new DynamoDBStore({ tableName: 't', attributes: { pk: '' } })).toThrow(
      /Expected `attributes.pk` to be an attribute name \(1 to 255 characters\), got ""\./,
    );
    expect(() => new DynamoDBStore({ tableName: 't', attributes: { colour: 'x' } as never })).toThrow(
      /Expected the keys of `attributes` to be record fields \(.*\), got `colour`\./,
    );
    expect(() => new DynamoDBStore({ tableName: 't', attributes: { status: 'pk' } })).toThrow(
      /got `pk` twice/,
    );
    expect(() => new DynamoDBStore({ tableName: 't', sortKey: { name: 'pk', value: 'X' } })).toThrow(
      /got `pk` twice/,
    );
  });
});

const NOW_MS = 1_800_000_000_000;

describe('DynamoDBStore claims in one round trip', () => {
  it('sends one conditional PutItem asking for ALL_OLD on a failed condition', async () => {
    const record = claimRecord();
    await store.claim(record, { nowMs: NOW_MS });
    expect(control.calls).toEqual(['PutItemCommand']);
    expect(control.inputs[0]).toMatchObject({
      ConditionExpression:
        'attribute_not_exists(pk) OR expiresAt < :nowS OR (#status = :inProgress AND leaseUntil < :nowMs)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      ExpressionAttributeValues: {
        ':nowS': { N: String(NOW_MS / 1000) },
        ':nowMs': { N: String(NOW_MS) },
        ':inProgress': { S: 'IN_PROGRESS' },
      },
    });
  });

  it('decides a blocked claim from the item the failed PutItem returned, with no GetItem', async () => {
    const record = claimRecord();
    await store.claim(record, { nowMs: NOW_MS });
    control.reset();
    const outcome = await store.claim({ ...record, leaseToken: 'other' }, { nowMs: NOW_MS + 1 });
    expect(outcome).toStrictEqual({ claimed: false, existing: record });
    expect(control.calls).toEqual(['PutItemCommand']);
  });

  it('costs exactly one consistent GetItem, with the same outcome, when the server returns no item', async () => {
    const record = claimRecord();
    await store.claim(record, { nowMs: NOW_MS });
    control.reset();
    control.stripConditionalCheckItem(true);
    const outcome = await store.claim({ ...record, leaseToken: 'other' }, { nowMs: NOW_MS + 1 });
    expect(outcome).toStrictEqual({ claimed: false, existing: record });
    expect(control.calls).toEqual(['PutItemCommand', 'GetItemCommand']);
    expect(control.inputs[1]).toMatchObject({ ConsistentRead: true, Key: { pk: { S: record.pk } } });
  });

  it('recognises a failed condition thrown by another copy of the SDK (the SDK matches by name and fault)', async () => {
    const record = claimRecord();
    await store.claim(record, { nowMs: NOW_MS });
    control.foreignErrors(true);
    const outcome = await store.claim({ ...record, leaseToken: 'other' }, { nowMs: NOW_MS + 1 });
    expect(outcome).toStrictEqual({ claimed: false, existing: record });
    expect(await store.release(record.pk, 'other')).toBe(false);
    expect(await store.get(record.pk)).toStrictEqual(record);
  });

  it('stores a compressed result as B and a text result as S', async () => {
    const text = claimRecord();
    const binary = claimRecord();
    for (const [record, result] of [
      [text, '"text"'],
      [binary, new Uint8Array([1, 2, 3])],
    ] as const) {
      await store.claim(record, { nowMs: NOW_MS });
      await store.complete(record.pk, record.leaseToken ?? '', {
        status: 'COMPLETED',
        result,
        completedAt: NOW_MS,
        expiresAt: record.expiresAt,
      });
    }
    const raw = async (pk: string) =>
      (await client.send(new GetItemCommand({ TableName: store.tableName, Key: { pk: { S: pk } } }))).Item;
    expect((await raw(text.pk))?.result).toEqual({ S: '"text"' });
    expect((await raw(binary.pk))?.result?.B).toBeInstanceOf(Uint8Array);
  });

  it('reads a record written without the optional attributes it does not need', async () => {
    const pk = claimRecord().pk;
    await client.send(
      new PutItemCommand({
        TableName: store.tableName,
        Item: {
          pk: { S: pk },
          org: { S: 'acme' },
          scope: { S: 'contract' },
          status: { S: 'COMPLETED' },
          expiresAt: { N: '1900000000' },
          fingerprint: { S: 'fp' },
          createdAt: { N: '1' },
          attempt: { N: '1' },
          v: { N: '1' },
        },
      }),
    );
    const record = await store.get(pk);
    expect(record).toStrictEqual({
      pk,
      org: 'acme',
      scope: 'contract',
      status: 'COMPLETED',
      expiresAt: 1_900_000_000,
      fingerprint: 'fp',
      createdAt: 1,
      attempt: 1,
      v: 1,
    });
  });

  it('refuses to be built without a table name, saying what it expected', () => {
    expect(() => new DynamoDBStore({ tableName: ' ' })).toThrow(
      /Expected `tableName` of `DynamoDBStore` to be the table's name, got " "\./,
    );
    expect(() => new DynamoDBStore({ tableName: 5 as never })).toThrow(/the table's name, got 5\./);
    expect(() => new DynamoDBStore(undefined as never)).toThrow(/the table's name, got undefined\./);
  });

  it('builds its own client from clientConfig when given none, and claims through it', async () => {
    const own = new DynamoDBStore({
      tableName: store.tableName,
      clientConfig: { ...LOCAL_CLIENT_CONFIG, endpoint: inject('dynamoEndpoint') },
    });
    const record = claimRecord();
    expect(await own.claim(record, { nowMs: NOW_MS })).toEqual({ claimed: true });
    expect(await store.get(record.pk)).toStrictEqual(record);
    own.client.destroy();
  });
});

describe('DynamoDBStore reads a batch of records', () => {
  const keysAsked = () =>
    control.inputs.map(
      (input) =>
        (input as { RequestItems: Record<string, { Keys: unknown[] }> }).RequestItems[store.tableName]?.Keys,
    );

  it('in calls of at most 100 keys, the BatchGetItem limit, and finds records in every call', async () => {
    const first = claimRecord();
    const last = claimRecord();
    for (const record of [first, last]) await store.claim(record, { nowMs: NOW_MS });
    const missing = Array.from({ length: 149 }, () => claimRecord().pk);
    control.reset();
    const found = await store.getMany([first.pk, ...missing, last.pk]);
    expect([...found.values()]).toEqual(expect.arrayContaining([first, last]));
    expect(found.size).toBe(2);
    expect(control.calls).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand']);
    expect(keysAsked().map((keys) => keys?.length)).toEqual([100, 51]);
    expect(control.inputs[0]).toMatchObject({
      RequestItems: { [store.tableName]: { ConsistentRead: true } },
    });
  });

  it('asks again for the keys DynamoDB left unprocessed, and only those, until every record is read', async () => {
    const records = Array.from({ length: 5 }, () => claimRecord());
    for (const record of records) await store.claim(record, { nowMs: NOW_MS });
    control.reset();
    control.leaveUnprocessed({ keep: 2, times: 2 });
    const found = await store.getMany(records.map((record) => record.pk));
    expect([...found.keys()].sort()).toEqual(records.map((record) => record.pk).sort());
    expect(found.get(records[4]?.pk ?? '')).toStrictEqual(records[4]);
    expect(keysAsked()).toEqual([
      records.map((record) => ({ pk: { S: record.pk } })),
      records.slice(2).map((record) => ({ pk: { S: record.pk } })),
      records.slice(4).map((record) => ({ pk: { S: record.pk } })),
    ]);
  });

  it('waits 20 ms doubling to 640 ms before asking again, seven waits in the whole read, then leaves keys out', async () => {
    const waits: number[] = [];
    const recording = new DynamoDBStore({
      tableName: store.tableName,
      client,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    const records = Array.from({ length: 102 }, () => claimRecord());
    for (const record of records) await store.claim(record, { nowMs: NOW_MS });
    control.reset();
    expect((await recording.getMany(records.slice(0, 2).map((record) => record.pk))).size).toBe(2);
    expect(waits).toEqual([]);
    control.reset();
    control.leaveUnprocessed({ keep: 1, times: 100 });
    const found = await recording.getMany(records.map((record) => record.pk));
    // Eight calls for the first 100 keys, one for the last two once the waits are spent. The keys left out are
    // claimed as usual: the read only spares the writes of completed jobs.
    expect(waits).toEqual([20, 40, 80, 160, 320, 640, 640]);
    expect(control.calls).toEqual(Array(9).fill('BatchGetItemCommand'));
    expect([...found.keys()]).toEqual([...records.slice(0, 8), records[100]].map((record) => record?.pk));
  });

  it('makes no call for an empty batch', async () => {
    expect((await store.getMany([])).size).toBe(0);
    expect(control.calls).toEqual([]);
  });
});

describe('store failures surface as IdempotencyStoreError with the cause kept', () => {
  const engine = (telemetry = recordingTelemetry()) => ({
    telemetry,
    engine: buildEngine({ store, telemetry: telemetry.telemetry, environment: 'test', mode: 'enforce' }, {}),
  });

  for (const fault of Object.values(Fault)) {
    it(`claims that meet a ${fault} reject with IdempotencyStoreError and emit store_error`, async () => {
      const { engine: subject, telemetry } = engine();
      control.fail(fault, { times: 1 });
      const error = await subject
        .begin({ org: 'acme', scope: 'faults', key: `claim-${fault}`, fingerprint: 'f' })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdempotencyStoreError);
      expect((error as IdempotencyStoreError).operation).toBe('claim');
      expect(((error as IdempotencyStoreError).cause as Error).name).toBe(FAULT_ERROR_NAME[fault]);
      expect(telemetry.signals).toEqual([
        expect.objectContaining({
          signal: 'store_error',
          facts: expect.objectContaining({
            detail: { operation: 'claim', error: FAULT_ERROR_NAME[fault] },
          }),
        }),
      ]);
      // The failed claim is withdrawn with a fenced DeleteItem, in case it was applied behind the fault.
      expect(control.calls).toEqual(['PutItemCommand', 'DeleteItemCommand']);
    });
  }

  it('a complete that meets a server error rejects with IdempotencyStoreError and leaves the lease in place', async () => {
    const { engine: subject, telemetry } = engine();
    const decision = await subject.begin({
      org: 'acme',
      scope: 'faults',
      key: 'complete-500',
      fingerprint: 'f',
    });
    if (decision.kind !== 'execute') throw new Error(`expected execute, got ${decision.kind}`);
    control.fail(Fault.ServerError, { commands: ['UpdateItemCommand'] });
    const error = await subject.complete(decision.lease, { ok: true }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect((error as IdempotencyStoreError).operation).toBe('complete');
    expect(telemetry.names()).toContain('store_error');
    expect((await store.get(decision.lease.pk))?.status).toBe('IN_PROGRESS');
  });

  it('a consistent read during a wait that times out rejects with IdempotencyStoreError', async () => {
    const { engine: subject } = engine();
    const input = { org: 'acme', scope: 'faults', key: 'wait-timeout', fingerprint: 'f' };
    await subject.begin(input);
    control.fail(Fault.Timeout, { commands: ['GetItemCommand'] });
    const error = await subject.begin({ ...input, waitBudgetMs: 1000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect((error as IdempotencyStoreError).operation).toBe('get');
  });
});

describe('a damaged item read from the table', () => {
  const damaged: [string, (item: Record<string, unknown>) => void][] = [
    ['without a status', (item) => delete item.status],
    ['with an unknown status', (item) => Object.assign(item, { status: { S: 'DONE' } })],
    ['without expiresAt', (item) => delete item.expiresAt],
    ['with expiresAt as a string', (item) => Object.assign(item, { expiresAt: { S: 'soon' } })],
    ['IN_PROGRESS without a lease end', (item) => delete item.leaseUntil],
    ['without a fingerprint', (item) => delete item.fingerprint],
    [
      'with a resultRef that is not a pointer',
      (item) => Object.assign(item, { resultRef: { S: '{"key":""}' } }),
    ],
    [
      'with a resultRef whose digest is not SHA-256 hex',
      (item) =>
        Object.assign(item, { resultRef: { S: '{"key":"k","sha256":"abc","size":1,"form":"bytes"}' } }),
    ],
  ];
  for (const [name, damage] of damaged) {
    it(`${name} is a store error naming the attribute, never a claimable lease`, async () => {
      const key = `damaged-${randomUUID()}`;
      const pk = recordKey('acme', 'damaged', key);
      const item: Record<string, unknown> = {
        pk: { S: pk },
        org: { S: 'acme' },
        scope: { S: 'damaged' },
        status: { S: 'IN_PROGRESS' },
        expiresAt: { N: String(Math.floor(Date.now() / 1000) + 3600) },
        leaseUntil: { N: String(Date.now() + 60_000) },
        leaseToken: { S: 'owner' },
        fingerprint: { S: 'fp-1' },
        createdAt: { N: String(Date.now()) },
        attempt: { N: '1' },
        v: { N: '1' },
      };
      damage(item);
      await client.send(new PutItemCommand({ TableName: store.tableName, Item: item as never }));
      const read = await store.get(pk).catch((caught: unknown) => caught);
      expect(read).toBeInstanceOf(IdempotencyCorruptRecordError);
      expect((read as IdempotencyCorruptRecordError).message).toMatch(/`\w+` missing or malformed/);
      // A claim blocked by the damaged item fails as a store error instead of deciding from it or taking it.
      const subject = buildEngine(
        { store, telemetry: silentTelemetry, environment: 'test', mode: 'enforce' },
        {},
      );
      const error = await subject
        .begin({ org: 'acme', scope: 'damaged', key, fingerprint: 'fp-1' })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdempotencyStoreError);
      expect((error as IdempotencyStoreError).cause).toBeInstanceOf(IdempotencyCorruptRecordError);
    });
  }
});
