/**
 * The in-process cache of completed records (a warm Lambda container replays with no round trip): least recently
 * used first out, bounded by count and by bytes (256 bytes a record plus its encoded result), expired records
 * never served.
 */
import { describe, expect, it } from 'vitest';
import { RecordCache } from '../../src/core/cache.js';
import { type IdempotencyRecord, RECORD_VERSION, RecordStatus } from '../../src/core/types.js';

const NOW = 1_800_000_000_500;
const SECOND = Math.floor(NOW / 1000);

/** A completed record whose result is `resultChars` characters of text (two bytes each in the bound). */
function completed(
  name: string,
  resultChars = 2,
  overrides: Partial<IdempotencyRecord> = {},
): IdempotencyRecord {
  return {
    pk: `acme#charge#${name}`,
    org: 'acme',
    scope: 'charge',
    status: RecordStatus.Completed,
    expiresAt: SECOND + 3600,
    fingerprint: 'fp',
    createdAt: NOW - 1000,
    completedAt: NOW - 500,
    attempt: 1,
    v: RECORD_VERSION,
    result: 'x'.repeat(resultChars),
    ...overrides,
  };
}

const held = (cache: RecordCache, ...names: string[]) =>
  names.filter((name) => cache.get(`acme#charge#${name}`, NOW) !== undefined);

describe('the record cache', () => {
  it('answers a cached record, and counts 256 bytes plus its result’s', () => {
    const cache = new RecordCache();
    const record = completed('a', 10);
    cache.set(record);
    expect(cache.get(record.pk, NOW)).toBe(record);
    expect(cache.size).toEqual({ entries: 1, bytes: 256 + 20 });
    expect(cache.get('acme#charge#other', NOW)).toBeUndefined();
  });

  it('serves a record until the second after its expiresAt, then drops it and its bytes', () => {
    const cache = new RecordCache();
    cache.set(completed('last-second', 2, { expiresAt: SECOND }));
    cache.set(completed('expired', 2, { expiresAt: SECOND - 1 }));
    expect(cache.get('acme#charge#last-second', NOW)).toBeDefined();
    expect(cache.get('acme#charge#expired', NOW)).toBeUndefined();
    expect(cache.size).toEqual({ entries: 1, bytes: 256 + 4 });
  });

  it('replaces a record set again under the same key, counting it once', () => {
    const cache = new RecordCache();
    cache.set(completed('a', 10));
    const again = completed('a', 20);
    cache.set(again);
    expect(cache.get(again.pk, NOW)).toBe(again);
    expect(cache.size).toEqual({ entries: 1, bytes: 256 + 40 });
  });

  it('forgets a deleted record and its bytes, and deleting an absent one changes nothing', () => {
    const cache = new RecordCache();
    cache.set(completed('a'));
    cache.set(completed('b'));
    cache.delete('acme#charge#a');
    cache.delete('acme#charge#absent');
    expect(cache.size).toEqual({ entries: 1, bytes: 256 + 4 });
    expect(held(cache, 'a', 'b')).toEqual(['b']);
  });
});

describe('the count bound', () => {
  it('evicts the least recently used record past maxEntries, a read counting as a use', () => {
    const cache = new RecordCache({ maxEntries: 2 });
    cache.set(completed('a'));
    cache.set(completed('b'));
    cache.get('acme#charge#a', NOW);
    cache.set(completed('c'));
    expect(cache.size).toEqual({ entries: 2, bytes: 2 * (256 + 4) });
    expect(held(cache, 'a', 'b', 'c')).toEqual(['a', 'c']);
  });

  it('caches nothing with maxEntries 0', () => {
    const cache = new RecordCache({ maxEntries: 0 });
    cache.set(completed('a'));
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('holds 1000 records by default', () => {
    const cache = new RecordCache();
    for (let n = 0; n <= 1000; n++) cache.set(completed(`r-${n}`));
    expect(cache.size.entries).toBe(1000);
    expect(held(cache, 'r-0', 'r-1', 'r-1000')).toEqual(['r-1', 'r-1000']);
  });
});

describe('the byte bound', () => {
  it('caches a record of exactly maxBytes, and never one larger', () => {
    const cache = new RecordCache({ maxBytes: 256 + 100 });
    cache.set(completed('fits', 50));
    expect(cache.size).toEqual({ entries: 1, bytes: 256 + 100 });
    cache.set(completed('too-large', 51));
    expect(held(cache, 'fits', 'too-large')).toEqual(['fits']);
  });

  it('evicts the least recently used records until the bytes fit again', () => {
    const cache = new RecordCache({ maxBytes: 3 * (256 + 20) });
    cache.set(completed('a', 10));
    cache.set(completed('b', 10));
    cache.set(completed('c', 10));
    cache.get('acme#charge#a', NOW);
    // 256 + 40 bytes more: one record out is not enough, two are.
    cache.set(completed('d', 30));
    expect(held(cache, 'a', 'b', 'c', 'd')).toEqual(['a', 'd']);
    expect(cache.size).toEqual({ entries: 2, bytes: 256 + 20 + 256 + 60 });
  });

  it('holds 8 MiB of results by default', () => {
    const cache = new RecordCache();
    // Two records of 4 MiB in the bound (two bytes a character), the first with its 256 bytes less.
    cache.set(completed('a', 2 * 1024 * 1024 - 128));
    cache.set(completed('b', 2 * 1024 * 1024 - 128));
    expect(cache.size).toEqual({ entries: 2, bytes: 8 * 1024 * 1024 });
    cache.set(completed('c', 1));
    expect(held(cache, 'a', 'b', 'c')).toEqual(['b', 'c']);
  });
});
