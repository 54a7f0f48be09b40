import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { run } from '../../src/cli/program.js';
import { recordKey } from '../../src/core/keys.js';
import type { IdempotencyRecord } from '../../src/core/types.js';
import { toItem } from '../../src/stores/dynamodb-item.js';
import { createTable, localClient } from '../support/dynamodb.js';
import { createTableWithoutTtl } from '../sweep/table.js';
import { idemkit, memoryIo } from './support.js';

const endpoint = inject('dynamoEndpoint');
const { client } = localClient(endpoint);
const nowS = Math.floor(Date.now() / 1000);

const record = (key: string, expiresAt: number): IdempotencyRecord => ({
  pk: recordKey('acme', 'charge', key),
  org: 'acme',
  scope: 'charge',
  status: 'COMPLETED',
  expiresAt,
  fingerprint: 'fp',
  createdAt: Date.now() - 60_000,
  attempt: 1,
  v: 1,
});

async function freshTable(): Promise<string> {
  const table = await createTableWithoutTtl(client, 'cli-sweep');
  for (const r of [record('old-1', nowS - 100), record('old-2', nowS - 5), record('new', nowS + 3600)])
    await client.send(new PutItemCommand({ TableName: table, Item: toItem(r) }));
  return table;
}
const count = async (table: string) =>
  (await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items?.length;

afterAll(() => client.destroy());

describe('idemkit records sweep', () => {
  let table: string;
  beforeAll(async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    table = await freshTable();
  });

  it('counts in a dry run and deletes nothing, without asking', async () => {
    const io = memoryIo();
    const code = await run(['records', 'sweep', '--table', table, '--endpoint', endpoint, '--dry-run'], io);
    expect(code).toBe(0);
    expect(io.stdout.join('\n')).toMatch(
      /3 record\(s\) read in 1 page\(s\) for 0.5 read units, 2 expired, would delete 2/,
    );
    expect(await count(table)).toBe(3);
  });

  it('refuses to delete without a terminal to ask on, unless --yes', async () => {
    const io = memoryIo();
    const code = await run(['records', 'sweep', '--table', table, '--endpoint', endpoint], io);
    expect(code).not.toBe(0);
    expect(io.stderrLines.join('\n')).toMatch(/pass `--yes`/);
    expect(await count(table)).toBe(3);
  });

  it('deletes the expired records and prints a summary as JSON', async () => {
    const io = memoryIo();
    const code = await run(
      ['records', 'sweep', '--table', table, '--endpoint', endpoint, '--yes', '--json', '--rate', '100'],
      io,
    );
    expect(code).toBe(0);
    const summary = JSON.parse(io.stdout.join(''));
    expect(summary).toMatchObject({
      table,
      scanned: 3,
      expired: 2,
      deleted: 2,
      complete: true,
    });
    // Three small items in one Scan request: the smallest charge, half a read unit.
    expect(summary.readUnits).toBe(0.5);
    expect(await count(table)).toBe(1);
  });

  it('names the flag and the range for a bad --rate', async () => {
    const io = memoryIo();
    const code = await run(['records', 'sweep', '--table', table, '--endpoint', endpoint, '--rate', '0'], io);
    expect(code).not.toBe(0);
    expect(io.stderrLines.join('\n')).toMatch(/Expected `--rate` to be a number above 0, got "0"/);
  });

  it('runs as the real command and reports progress on stderr', async () => {
    const other = await freshTable();
    const result = await idemkit(['records', 'sweep', '--table', other, '--endpoint', endpoint, '--yes']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/deleted 2/);
    expect(await count(other)).toBe(1);
  });
});

describe('idemkit records sweep on an existing table', () => {
  it('reads the attribute names and sort key from --attributes', async () => {
    const name = await createTable(client, 'cli-sweep-single', { partitionKey: 'PK', sortKey: 'SK' });
    for (const sk of ['IDEMPOTENCY', 'ORDER'])
      await client.send(
        new PutItemCommand({
          TableName: name,
          Item: { PK: { S: 'acme#charge#a' }, SK: { S: sk }, ttl: { N: String(nowS - 60) } },
        }),
      );
    const attributes = JSON.stringify({
      pk: 'PK',
      expiresAt: 'ttl',
      sortKey: { name: 'SK', value: 'IDEMPOTENCY' },
    });
    const io = memoryIo();
    const code = await run(
      [
        'records',
        'sweep',
        '--table',
        name,
        '--endpoint',
        endpoint,
        '--yes',
        '--json',
        '--attributes',
        attributes,
      ],
      io,
    );
    expect(io.stderrLines).toEqual([]);
    expect(code).toBe(0);
    expect(JSON.parse(io.stdout.join(''))).toMatchObject({ scanned: 2, expired: 1, deleted: 1 });
    expect(await count(name)).toBe(1);
  });
});
