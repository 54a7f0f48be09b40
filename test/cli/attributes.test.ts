/**
 * `--attributes`: the records commands and the doctor on an existing single-table design (`PK`, `SK`, TTL on
 * `ttl`, renamed attributes), where idemkit's records live beside other entities.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { RECORD_VERSION } from '../../src/core/types.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { createTable, localClient } from '../support/dynamodb.js';
import { idemkit } from './support.js';

const endpoint = inject('dynamoEndpoint');
const { client } = localClient(endpoint);
let table: string;
const LAYOUT = {
  pk: 'PK',
  expiresAt: 'ttl',
  status: 'state',
  leaseUntil: 'lockedUntil',
  sortKey: { name: 'SK', value: 'IDEMPOTENCY' },
};
const attributes = JSON.stringify(LAYOUT);
const file = join(tmpdir(), `idemkit-attributes-${randomUUID()}.json`);
const now = Date.now();
const ORDER = { PK: { S: recordKey('acme', 'charge', 'pay-1') }, SK: { S: 'ORDER#1' }, total: { N: '42' } };

beforeAll(async () => {
  table = await createTable(client, 'single-cli', { partitionKey: 'PK', sortKey: 'SK', ttl: 'ttl' });
  const { sortKey, ...names } = LAYOUT;
  const store = new DynamoDBStore({ tableName: table, client, attributes: names, sortKey });
  for (const key of ['pay-1', 'pay-2']) {
    const pk = recordKey('acme', 'charge', key);
    const record = {
      pk,
      org: 'acme',
      scope: 'charge',
      status: 'IN_PROGRESS' as const,
      expiresAt: Math.floor(now / 1000) + 3600,
      leaseUntil: now + 60_000,
      leaseToken: `token-${key}`,
      fingerprint: 'fp',
      createdAt: now,
      attempt: 1,
      v: RECORD_VERSION,
    };
    await store.claim(record, { nowMs: now });
    if (key === 'pay-1') {
      await store.complete(pk, record.leaseToken, {
        status: 'COMPLETED',
        result: '"ok"',
        completedAt: now,
        expiresAt: record.expiresAt,
      });
    }
  }
  await client.send(new PutItemCommand({ TableName: table, Item: ORDER }));
  writeFileSync(file, attributes);
});
afterAll(() => client.destroy());

const records = (command: string, ...args: string[]) =>
  idemkit(['records', command, '--table', table, '--endpoint', endpoint, '--org', 'acme', ...args]);

describe('records and doctor with --attributes on a single-table design', () => {
  it('records get reads the record at its PK and SK, by the table own names', async () => {
    const result = await records(
      'get',
      '--scope',
      'charge',
      '--key',
      'pay-1',
      '--attributes',
      attributes,
      '--json',
    );
    expect(result.code).toBe(0);
    expect(result.json<{ status: string }>().status).toBe('COMPLETED');
  });

  it('records list shows only the idemkit records, never the entities beside them, and filters by state', async () => {
    const all = await records('list', '--attributes', file, '--json');
    expect(all.code).toBe(0);
    const listed = all.json<{ records: { pk: string; status: string }[] }>().records;
    expect(listed.map((record) => record.status).sort()).toEqual(['COMPLETED', 'IN_PROGRESS']);
    const inProgress = await records('list', '--attributes', file, '--status', 'IN_PROGRESS', '--json');
    expect(inProgress.json<{ records: { status: string }[] }>().records.map((r) => r.status)).toEqual([
      'IN_PROGRESS',
    ]);
  });

  it('records release deletes the record and leaves the entity with the same PK', async () => {
    const result = await records(
      'release',
      '--scope',
      'charge',
      '--key',
      'pay-1',
      '--attributes',
      attributes,
      '--force',
      '--yes',
    );
    expect(result.code).toBe(0);
    const gone = await client.send(
      new GetItemCommand({ TableName: table, Key: { PK: ORDER.PK, SK: { S: 'IDEMPOTENCY' } } }),
    );
    expect(gone.Item).toBeUndefined();
    const order = await client.send(
      new GetItemCommand({ TableName: table, Key: { PK: ORDER.PK, SK: ORDER.SK } }),
    );
    expect(order.Item).toEqual(ORDER);
  });

  it("doctor checks the table's own key schema and TTL attribute, and fails them without --attributes", async () => {
    const statusOf = (stdout: string) =>
      Object.fromEntries(
        (JSON.parse(stdout) as { checks: { name: string; status: string }[] }).checks.map((c) => [
          c.name,
          c.status,
        ]),
      );
    const withNames = await idemkit([
      'doctor',
      '--table',
      table,
      '--endpoint',
      endpoint,
      '--attributes',
      file,
      '--json',
    ]);
    expect(statusOf(withNames.stdout)).toMatchObject({ 'key schema': 'pass', ttl: 'pass' });
    const without = await idemkit(['doctor', '--table', table, '--endpoint', endpoint, '--json']);
    expect(statusOf(without.stdout)).toMatchObject({ 'key schema': 'fail', ttl: 'fail' });
  });

  it('refuses --attributes it cannot use, naming the flag', async () => {
    const result = await records(
      'get',
      '--scope',
      'charge',
      '--key',
      'pay-1',
      '--attributes',
      '{"colour":"x"}',
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/`--attributes`: Expected the keys of `attributes` to be record fields/);
    const derived = await records(
      'get',
      '--scope',
      'charge',
      '--key',
      'pay-1',
      '--attributes',
      '{"sortKey":{"name":"SK"}}',
    );
    expect(derived.stderr).toMatch(/`sortKey.value` to be the constant every record carries/);
  });
});
