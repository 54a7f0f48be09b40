import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordStatus } from '../../src/core/types.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { getRecord, releaseRecord, scanTable, tableSize } from '../../src/stores/dynamodb-admin.js';
import { DEFAULT_LAYOUT, type Item, itemLayout, toItem } from '../../src/stores/dynamodb-item.js';
import { createIdempotencyTable, createTable, deleteTable } from '../support/dynamodb.js';
import { faultyClient } from './faults.js';
import { claimRecord } from './store-contract.js';

// The operator's reads and writes (`idemkit records`, `idemkit doctor`) on DynamoDB Local, through the store's item
// layout. The CLI's own tests run them end to end; these pin what each one reads, keeps and reports.

const NOW_MS = 1_800_000_000_000;
const { client, control } = faultyClient();
const SINGLE = itemLayout(
  { pk: 'PK', status: 'state', leaseToken: 'lockToken', leaseUntil: 'lockedUntil' },
  { name: 'SK', value: 'IDEMPOTENCY' },
);
let table: string;
let single: string;

beforeAll(async () => {
  table = await createIdempotencyTable(client, 'admin');
  single = await createTable(client, 'admin-single', { partitionKey: 'PK', sortKey: 'SK' });
});
afterAll(async () => {
  await deleteTable(client, table);
  await deleteTable(client, single);
  client.destroy();
});

describe('reading one record for an operator', () => {
  it('reads the record by pk through the layout, consistently, and undefined when there is none', async () => {
    const store = new DynamoDBStore({
      tableName: single,
      client,
      attributes: SINGLE.names,
      sortKey: SINGLE.sortKey,
    });
    const record = claimRecord();
    await store.claim(record, { nowMs: NOW_MS });
    control.reset();
    expect(await getRecord(client, single, record.pk, SINGLE)).toStrictEqual(record);
    expect(control.inputs[0]).toMatchObject({ ConsistentRead: true });
    expect(await getRecord(client, single, claimRecord().pk, SINGLE)).toBeUndefined();
  });
});

describe('releasing a stuck record', () => {
  const store = () => new DynamoDBStore({ tableName: table, client });

  it('deletes the record that was read, so the key can be claimed again', async () => {
    const record = claimRecord();
    await store().claim(record, { nowMs: NOW_MS });
    expect(await releaseRecord(client, table, record, DEFAULT_LAYOUT)).toBe(true);
    expect(await getRecord(client, table, record.pk, DEFAULT_LAYOUT)).toBeUndefined();
  });

  it('deletes a completed record, which has no lease end any more, on a renamed layout too', async () => {
    const tableStore = new DynamoDBStore({
      tableName: single,
      client,
      attributes: SINGLE.names,
      sortKey: SINGLE.sortKey,
    });
    const record = claimRecord();
    await tableStore.claim(record, { nowMs: NOW_MS });
    await tableStore.complete(record.pk, record.leaseToken ?? '', {
      status: RecordStatus.Completed,
      completedAt: NOW_MS,
      expiresAt: record.expiresAt,
    });
    const completed = await getRecord(client, single, record.pk, SINGLE);
    expect(completed).not.toHaveProperty('leaseUntil');
    if (completed === undefined) throw new Error('expected the completed record');
    expect(await releaseRecord(client, single, completed, SINGLE)).toBe(true);
    expect(await getRecord(client, single, record.pk, SINGLE)).toBeUndefined();
  });

  it('deletes a record that never had a lease token', async () => {
    const record = claimRecord({ status: RecordStatus.Completed });
    const { leaseToken: _token, leaseUntil: _until, ...bare } = record;
    await client.send(new PutItemCommand({ TableName: table, Item: toItem(bare) }));
    expect(await releaseRecord(client, table, { ...bare, leaseToken: 'x' }, DEFAULT_LAYOUT)).toBe(false);
    expect(await releaseRecord(client, table, bare, DEFAULT_LAYOUT)).toBe(true);
    // And the other way round: a record read without a token or a lease end is not one that has them now.
    const leased = claimRecord();
    await store().claim(leased, { nowMs: NOW_MS });
    const { leaseToken: _t, ...withoutToken } = leased;
    const { leaseUntil: _u, ...withoutLeaseEnd } = leased;
    expect(await releaseRecord(client, table, withoutToken, DEFAULT_LAYOUT)).toBe(false);
    expect(await releaseRecord(client, table, withoutLeaseEnd, DEFAULT_LAYOUT)).toBe(false);
    expect(await getRecord(client, table, leased.pk, DEFAULT_LAYOUT)).toStrictEqual(leased);
  });

  it('keeps a record completed, taken over, re-created or renewed since it was read', async () => {
    const changes: [string, (record: ReturnType<typeof claimRecord>) => Promise<unknown>][] = [
      [
        'completed',
        (record) =>
          store().complete(record.pk, record.leaseToken ?? '', {
            status: RecordStatus.Completed,
            completedAt: NOW_MS,
            expiresAt: record.expiresAt,
          }),
      ],
      ['taken over', (record) => store().claim({ ...record, attempt: 2 }, { nowMs: NOW_MS + 120_000 })],
      [
        're-created',
        (record) => store().claim({ ...record, createdAt: NOW_MS + 1 }, { nowMs: NOW_MS + 120_000 }),
      ],
      [
        'claimed by another',
        (record) => store().claim({ ...record, leaseToken: 'other' }, { nowMs: NOW_MS + 120_000 }),
      ],
      ['renewed', (record) => store().renew(record.pk, record.leaseToken ?? '', NOW_MS + 90_000)],
    ];
    for (const [change, apply] of changes) {
      const record = claimRecord();
      await store().claim(record, { nowMs: NOW_MS });
      await apply(record);
      const kept = await releaseRecord(client, table, record, DEFAULT_LAYOUT);
      expect({ change, kept: !kept }).toEqual({ change, kept: true });
      expect(await getRecord(client, table, record.pk, DEFAULT_LAYOUT)).toBeDefined();
    }
  });

  it('throws what DynamoDB answers other than a failed condition', async () => {
    await expect(
      releaseRecord(client, 'admin-no-such-table', claimRecord(), DEFAULT_LAYOUT),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});

describe("the table's size", () => {
  it('is the item count and size DescribeTable reports', async () => {
    const sized = await createIdempotencyTable(client, 'admin-size');
    for (let index = 0; index < 3; index += 1) {
      await client.send(new PutItemCommand({ TableName: sized, Item: toItem(claimRecord()) }));
    }
    const size = await tableSize(client, sized);
    expect(size.itemCount).toBe(3);
    expect(size.sizeBytes).toBeGreaterThan(3 * 100);
    await deleteTable(client, sized);
  });
});

describe('scanning the table', () => {
  let scanned: string;
  const pks: string[] = [];

  beforeAll(async () => {
    scanned = await createIdempotencyTable(client, 'admin-scan');
    for (let index = 0; index < 10; index += 1) {
      const record = claimRecord({ org: index < 4 ? 'acme' : 'globex' });
      pks.push(record.pk);
      await client.send(new PutItemCommand({ TableName: scanned, Item: toItem(record) }));
    }
    // One item completed, for a filter on the reserved word `status`.
    await client.send(
      new UpdateItemCommand({
        TableName: scanned,
        Key: { pk: { S: pks[0] ?? '' } },
        UpdateExpression: 'SET #status = :completed',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':completed': { S: 'COMPLETED' } },
      }),
    );
  });
  afterAll(() => deleteTable(client, scanned));

  const scan = (options: Partial<Parameters<typeof scanTable>[1]> = {}) => {
    const items: Item[] = [];
    control.reset();
    return scanTable(client, {
      tableName: scanned,
      layout: DEFAULT_LAYOUT,
      onItem: (item) => {
        items.push(item);
        return undefined;
      },
      ...options,
    }).then((summary) => ({
      summary,
      items,
      requests: control.inputs as { Segment?: number; Limit?: number }[],
    }));
  };

  it('reads every item in one segment, to the end of the table, and says what it read and consumed', async () => {
    const { summary, items } = await scan();
    expect(items.map((item) => item.pk?.S).sort()).toEqual([...pks].sort());
    expect(summary).toMatchObject({ scanned: 10, matched: 10, pages: 1, complete: true });
    expect(summary.readUnits).toBeGreaterThan(0);
    // DynamoDB refuses an empty expression or name map, and a segment count on a scan that is not split.
    for (const name of [
      'FilterExpression',
      'ProjectionExpression',
      'ExpressionAttributeNames',
      'Segment',
      'TotalSegments',
      'Limit',
    ])
      expect(control.inputs[0]).not.toHaveProperty(name);
  });

  it('keeps only what the filter matches, with its values and extra names, and reads only the fields asked', async () => {
    const { summary, items } = await scan({
      filter: '{org} = :org AND attribute_not_exists(#kind)',
      values: { ':org': { S: 'acme' } },
      names: { '#kind': 'kind' },
      fields: ['pk', 'status'],
    });
    expect(summary).toMatchObject({ scanned: 10, matched: 4, complete: true });
    expect(items.map((item) => Object.keys(item).sort())).toEqual(Array(4).fill(['pk', 'status']));
    const completed = await scan({ filter: '{status} = :done', values: { ':done': { S: 'COMPLETED' } } });
    expect(completed.items.map((item) => item.pk?.S)).toEqual([pks[0]]);
  });

  it('pages with pageSize, and splits the scan into parallel segments that together read each item once', async () => {
    const paged = await scan({ pageSize: 3 });
    expect(paged.summary).toMatchObject({ scanned: 10, matched: 10, complete: true });
    expect(paged.summary.pages).toBe(paged.requests.length);
    expect(paged.requests.map((request) => request.Limit)).toEqual(Array(paged.requests.length).fill(3));
    expect(paged.requests.length).toBeGreaterThanOrEqual(4);
    const parallel = await scan({ segments: 3 });
    expect(parallel.summary).toMatchObject({ scanned: 10, matched: 10, complete: true });
    expect(parallel.items.map((item) => item.pk?.S).sort()).toEqual([...pks].sort());
    expect(new Set(parallel.requests.map((request) => request.Segment))).toEqual(new Set([0, 1, 2]));
  });

  it('reads no more than maxItems over every segment, each asking for no more than its share, and is not complete', async () => {
    const one = await scan({ maxItems: 4 });
    expect(one.summary).toMatchObject({ scanned: 4, matched: 4, pages: 1, complete: false });
    expect(one.requests.map((request) => request.Limit)).toEqual([4]);
    // 7 over 3 segments: 3, 2 and 2, each segment's first request asking for its whole share.
    const shares = await scan({ maxItems: 7, segments: 3 });
    expect(shares.summary.scanned).toBeLessThanOrEqual(7);
    expect(shares.summary.complete).toBe(false);
    const firstLimit = (segment: number) =>
      shares.requests.find((request) => request.Segment === segment)?.Limit;
    expect([0, 1, 2].map(firstLimit)).toEqual([3, 2, 2]);
    const paged = await scan({ maxItems: 5, pageSize: 2 });
    expect(paged.requests.map((request) => request.Limit)).toEqual([2, 2, 1]);
    expect(paged.summary).toMatchObject({ scanned: 5, pages: 3, complete: false });
    const enough = await scan({ maxItems: 10 });
    expect(enough.summary).toMatchObject({ scanned: 10, matched: 10 });
  });

  it('stops every segment when onItem answers false, after the page it is on', async () => {
    const seen: Item[] = [];
    const summary = await scanTable(client, {
      tableName: scanned,
      layout: DEFAULT_LAYOUT,
      pageSize: 2,
      onItem: (item) => {
        seen.push(item);
        return seen.length < 3 ? undefined : false;
      },
    });
    expect(seen).toHaveLength(3);
    expect(summary).toMatchObject({ matched: 3, complete: false });
    expect(summary.scanned).toBeLessThan(10);
  });
});
