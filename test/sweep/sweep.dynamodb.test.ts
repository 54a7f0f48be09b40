import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import type { IdempotencyRecord } from '../../src/core/types.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { toItem } from '../../src/stores/dynamodb-item.js';
import { sweepExpiredRecords } from '../../src/sweep/index.js';
import { createTable, deleteTable, localClient } from '../support/dynamodb.js';
import { createTableWithoutTtl } from './table.js';

const { client, counter } = localClient();
const { client: other } = localClient();
let tableName: string;
const now = Date.now();
const nowS = Math.floor(now / 1000);

function record(key: string, fields: Partial<IdempotencyRecord> = {}): IdempotencyRecord {
  return {
    pk: recordKey('acme', 'charge', key),
    org: 'acme',
    scope: 'charge',
    status: 'COMPLETED',
    expiresAt: nowS + 3600,
    fingerprint: 'fp',
    createdAt: now - 60_000,
    completedAt: now - 59_000,
    attempt: 1,
    v: 1,
    leaseToken: `token-${key}`,
    ...fields,
  };
}
const expired = (key: string, fields: Partial<IdempotencyRecord> = {}) =>
  record(key, { expiresAt: nowS - 10, ...fields });

async function put(...records: IdempotencyRecord[]) {
  for (const r of records) await client.send(new PutItemCommand({ TableName: tableName, Item: toItem(r) }));
}
async function remaining(): Promise<string[]> {
  const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return (page.Items ?? []).map((item) => item.pk?.S as string).sort();
}

beforeEach(async () => {
  tableName = await createTableWithoutTtl(client, 'sweep');
  counter.reset();
  return () => deleteTable(client, tableName);
});
afterAll(() => {
  client.destroy();
  other.destroy();
});

describe('sweepExpiredRecords deletes only expired records', () => {
  it('deletes expired ones of every status and keeps live, completed, stuck and failed ones that have not expired', async () => {
    const gone = [
      expired('done'),
      expired('failed', { status: 'FAILED' }),
      expired('in-progress', { status: 'IN_PROGRESS', leaseUntil: now + 60_000 }),
    ];
    const kept = [
      record('live', { status: 'IN_PROGRESS', leaseUntil: now + 60_000 }),
      record('stuck', { status: 'IN_PROGRESS', leaseUntil: now - 60_000 }),
      record('completed'),
      record('failed-live', { status: 'FAILED' }),
      // Expires this very second: `expiresAt < now` in whole seconds, as the claim condition says, is not yet.
      record('this-second', { expiresAt: nowS }),
    ];
    await put(...gone, ...kept);
    const summary = await sweepExpiredRecords({ client, tableName, clock: () => now, pageSize: 3 });
    expect(summary).toMatchObject({
      scanned: 8,
      expired: 3,
      deleted: 3,
      kept: 0,
      complete: true,
      dryRun: false,
    });
    expect(summary.pages).toBeGreaterThanOrEqual(3);
    expect(await remaining()).toEqual(kept.map((r) => r.pk).sort());
  });

  it('deletes nothing in a dry run, and counts what it would delete', async () => {
    await put(expired('a'), expired('b'), record('c'));
    const summary = await sweepExpiredRecords({ client, tableName, dryRun: true, clock: () => now });
    expect(summary).toMatchObject({ expired: 2, deleted: 0, dryRun: true });
    expect(await remaining()).toHaveLength(3);
    expect(counter.count('DeleteItemCommand')).toBe(0);
  });

  it('keeps a record claimed again between the read and the delete, and deletes the rest', async () => {
    const target = expired('reclaimed');
    await put(expired('a'), target, expired('b'));
    const store = new DynamoDBStore({ tableName, client: other });
    let reclaimed = false;
    // Just before the sweep's delete of `target` is sent, a real claim takes the expired record (another client).
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: { pk?: { S?: string } } };
        if (context.commandName === 'DeleteItemCommand' && input.Key?.pk?.S === target.pk && !reclaimed) {
          reclaimed = true;
          const claim = await store.claim(
            {
              ...record('reclaimed'),
              status: 'IN_PROGRESS',
              leaseUntil: Date.now() + 60_000,
              leaseToken: 'new',
            },
            { nowMs: Date.now() },
          );
          expect(claim.claimed).toBe(true);
        }
        return next(args);
      },
      { step: 'initialize', name: 'reclaimBeforeDelete' },
    );
    try {
      const summary = await sweepExpiredRecords({ client, tableName });
      expect(summary).toMatchObject({ expired: 3, deleted: 2, kept: 1 });
      expect(reclaimed).toBe(true);
      expect(await remaining()).toEqual([target.pk]);
      expect((await store.get(target.pk))?.leaseToken).toBe('new');
    } finally {
      client.middlewareStack.remove('reclaimBeforeDelete');
    }
  });

  it('paces its deletes: 12 at 20 per second take at least half a second', async () => {
    await put(...Array.from({ length: 12 }, (_, index) => expired(`paced-${index}`)));
    const started = performance.now();
    const summary = await sweepExpiredRecords({ client, tableName, maxDeletesPerSecond: 20 });
    expect(summary.deleted).toBe(12);
    // The 12th delete is due 11 / 20 s after the first.
    expect(performance.now() - started).toBeGreaterThanOrEqual(540);
  });

  it('stops starting pages once its time is up, and says it did not reach the end', async () => {
    await put(expired('x'), expired('y'), expired('z'));
    let t = now;
    const summary = await sweepExpiredRecords({
      client,
      tableName,
      pageSize: 1,
      maxDurationMs: 1000,
      // Each reading of the clock is 400 ms later: the budget runs out after a page or two.
      clock: () => {
        t += 400;
        return t;
      },
    });
    expect(summary.complete).toBe(false);
    expect(summary.pages).toBeLessThan(3);
  });

  it('leaves a damaged item (no expiresAt number) for the doctor to report', async () => {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: 'acme#charge#damaged' }, expiresAt: { S: 'soon' } },
      }),
    );
    const summary = await sweepExpiredRecords({ client, tableName });
    expect(summary).toMatchObject({ scanned: 1, expired: 0, deleted: 0 });
    expect(await remaining()).toEqual(['acme#charge#damaged']);
  });
});

describe('sweepExpiredRecords on an existing single-table design', () => {
  it("uses the renamed attributes and sweeps only the items that carry idemkit's sort key value", async () => {
    const name = await createTable(client, 'sweep-single', { partitionKey: 'PK', sortKey: 'SK' });
    const old = String(nowS - 60);
    for (const sk of ['IDEMPOTENCY', 'ORDER'])
      await client.send(
        new PutItemCommand({
          TableName: name,
          Item: { PK: { S: 'acme#charge#a' }, SK: { S: sk }, ttl: { N: old } },
        }),
      );
    const summary = await sweepExpiredRecords({
      client,
      tableName: name,
      attributes: { pk: 'PK', expiresAt: 'ttl' },
      sortKey: { name: 'SK', value: 'IDEMPOTENCY' },
    });
    expect(summary).toMatchObject({ scanned: 2, expired: 1, deleted: 1 });
    const left = await client.send(new ScanCommand({ TableName: name, ConsistentRead: true }));
    expect(left.Items?.map((item) => item.SK?.S)).toEqual(['ORDER']);
    await deleteTable(client, name);
  });
});
