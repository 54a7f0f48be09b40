import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { VersionConflictError, versionedWrite } from '../../src/versioning/index.js';
import { createTable, localClient } from '../support/dynamodb.js';

const { client, counter } = localClient();
let tableName: string;
beforeAll(async () => {
  tableName = await createTable(client, 'versioned');
});
afterAll(() => client.destroy());
beforeEach(() => counter.reset());

let n = 0;
const key = () => ({ pk: { S: `item-${++n}` } });
const write = (k: ReturnType<typeof key>, status: string, expectedVersion?: number | '*') =>
  versionedWrite({ client, tableName, key: k, set: { status: { S: status } }, expectedVersion });

describe('versionedWrite', () => {
  it('creates at version 1 when told the item must not exist, and bumps the version on each matching write', async () => {
    const k = key();
    expect((await write(k, 'PLACED', 0)).version).toBe(1);
    expect((await write(k, 'PAID', 1)).version).toBe(2);
    const { version, item } = await write(k, 'SHIPPED', '*');
    expect(version).toBe(3);
    expect(item.status).toEqual({ S: 'SHIPPED' });
  });

  it('refuses a stale version in one round trip, with the current item from the failed write itself', async () => {
    const k = key();
    await write(k, 'PLACED', 0);
    await write(k, 'PAID', 1);
    counter.reset();
    const error = await write(k, 'CANCELLED', 1).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(VersionConflictError);
    expect((error as VersionConflictError).currentVersion).toBe(2);
    expect((error as VersionConflictError).current?.status).toEqual({ S: 'PAID' });
    expect(counter.calls).toEqual(['UpdateItemCommand']);
  });

  it('refuses to create twice, and to change an item that does not exist', async () => {
    const k = key();
    await write(k, 'PLACED', 0);
    await expect(write(k, 'PLACED', 0)).rejects.toMatchObject({ currentVersion: 1 });
    const missing = await write(key(), 'PAID', '*').catch((caught: unknown) => caught);
    expect(missing).toBeInstanceOf(VersionConflictError);
    expect((missing as VersionConflictError).current).toBeUndefined();
  });

  it('writes unconditionally without an expected version, and still bumps it', async () => {
    const k = key();
    expect((await write(k, 'PLACED')).version).toBe(1);
    expect((await write(k, 'PAID')).version).toBe(2);
  });
});
