import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory.js';
import { claimRecord, storeContract } from './store-contract.js';

storeContract('MemoryStore', () => new MemoryStore());

describe('MemoryStore', () => {
  it('lists every record it holds, for tests and tools, and none once released', async () => {
    const store = new MemoryStore();
    expect(store.records()).toEqual([]);
    const [first, second] = [claimRecord(), claimRecord()];
    for (const record of [first, second]) await store.claim(record, { nowMs: first.createdAt });
    expect(store.records()).toEqual([first, second]);
    await store.release(first.pk, first.leaseToken ?? '');
    expect(store.records()).toEqual([second]);
  });
});
