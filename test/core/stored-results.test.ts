import { brotliCompressSync, constants } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeResult, encodedSize, encodeResult } from '../../src/core/codec.js';
import {
  isClaimable,
  isExpired,
  isLeaseOver,
  isReopenable,
  RecordState,
  recordState,
} from '../../src/core/record-state.js';
import { type IdempotencyRecord, RECORD_VERSION, RecordStatus } from '../../src/core/types.js';

const QUALITY_5 = { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } };

/** 23 characters of a small alphabet, the same for the same seed. */
function shortText(seed: number): string {
  let state = seed + 1;
  let text = '';
  for (let index = 0; index < 23; index++) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    text += 'aug2m'[state % 5];
  }
  return text;
}

describe('an encoded result', () => {
  const limits = { compressAboveBytes: 100, maxResultBytes: 1000 };

  it('is plain JSON up to the compression threshold, and its size is its UTF-8 length', () => {
    const value = { note: 'é'.repeat(40) };
    const encoded = encodeResult(value, limits);
    expect(encoded.result).toBe(JSON.stringify(value));
    expect(encoded.bytes).toBe(Buffer.byteLength(JSON.stringify(value), 'utf8'));
    expect(encoded.dropped).toBeUndefined();
  });

  it('is compressed past the threshold when that is smaller, and decodes to the same value', () => {
    const value = { rows: 'abc'.repeat(100) };
    const encoded = encodeResult(value, limits);
    expect(encoded.result).toBeInstanceOf(Uint8Array);
    expect(encoded.bytes).toBe((encoded.result as Uint8Array).byteLength);
    expect(encoded.bytes).toBeLessThan(JSON.stringify(value).length);
    expect(decodeResult(encoded.result)).toEqual(value);
  });

  it('is compressed only past the threshold: JSON of exactly compressAboveBytes stays text', () => {
    const at = 'a'.repeat(98); // 100 bytes of JSON with the quotes, which brotli shrinks
    expect(encodeResult(at, limits)).toEqual({ result: JSON.stringify(at), bytes: 100 });
    expect(encodeResult(`${at}a`, limits).result).toBeInstanceOf(Uint8Array);
  });

  it('stays JSON past the threshold when compressing would not make it smaller', () => {
    // Twelve bytes of JSON: brotli's own framing makes them longer.
    const encoded = encodeResult('q7Zk2pW9xL', { compressAboveBytes: 10, maxResultBytes: 1000 });
    expect(encoded).toEqual({ result: '"q7Zk2pW9xL"', bytes: 12 });
  });

  it('stays JSON when compressing gives exactly as many bytes: nothing saved, a decode more', () => {
    // The first of a fixed run of short texts whose JSON brotli (quality 5) writes in exactly as many bytes, found
    // here rather than written down, so another zlib's framing cannot make the case vanish unnoticed.
    const text = Array.from({ length: 5000 }, (_, seed) => shortText(seed)).find(
      (candidate) =>
        brotliCompressSync(JSON.stringify(candidate), QUALITY_5).byteLength ===
        JSON.stringify(candidate).length,
    );
    expect(text).toBeDefined();
    expect(encodeResult(text, { compressAboveBytes: 10, maxResultBytes: 1000 })).toEqual({
      result: JSON.stringify(text),
      bytes: JSON.stringify(text).length,
    });
  });

  it('is compressed at brotli quality 5, the level measured to cost a tenth of quality 11 for 10 % more bytes', () => {
    const value = {
      rows: Array.from({ length: 200 }, (_, id) => ({ id, name: `item ${id}`, price: (id * 3) % 17 })),
    };
    const encoded = encodeResult(value, limits);
    const json = JSON.stringify(value);
    expect(encoded.bytes).toBe(brotliCompressSync(json, QUALITY_5).byteLength);
    // The level decides the write units a large result costs: quality 11 would write fewer bytes, slower.
    expect(encoded.bytes).not.toBe(brotliCompressSync(json).byteLength);
  });

  it('is stored at exactly the limit and dropped as too_large one byte past it, keeping the body aside', () => {
    const at = 'x'.repeat(98); // 100 bytes of JSON with the quotes
    expect(encodeResult(at, { compressAboveBytes: 10_000, maxResultBytes: 100 })).toEqual({
      result: JSON.stringify(at),
      bytes: 100,
    });
    const over = encodeResult(`${at}x`, { compressAboveBytes: 10_000, maxResultBytes: 100 });
    expect(over).toEqual({ dropped: 'too_large', bytes: 101, oversized: JSON.stringify(`${at}x`) });
  });

  it('is nothing at all for undefined, and unserializable for a top-level function', () => {
    expect(encodeResult(undefined)).toEqual({ bytes: 0 });
    expect(encodeResult(() => 1)).toEqual({ dropped: 'unserializable', bytes: 0 });
  });

  it('is unserializable for a value JSON cannot carry (a BigInt, a cycle), never a throw', () => {
    expect(encodeResult({ amount: 10n })).toEqual({ dropped: 'unserializable', bytes: 0 });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(encodeResult(cycle)).toEqual({ dropped: 'unserializable', bytes: 0 });
  });

  it('decodes JSON text and undefined as they were stored', () => {
    expect(decodeResult('{"rows":[1,2]}')).toEqual({ rows: [1, 2] });
    expect(decodeResult(undefined)).toBeUndefined();
  });

  it('counts a string as two bytes a character and binary by its bytes, for the cache', () => {
    expect(encodedSize(undefined)).toBe(0);
    expect(encodedSize('abc')).toBe(6);
    expect(encodedSize(new Uint8Array(5))).toBe(5);
  });
});

const NOW = 1_700_000_000_500;

function record(overrides: Partial<IdempotencyRecord> = {}): IdempotencyRecord {
  return {
    pk: 'acme#charge#d',
    org: 'acme',
    scope: 'charge',
    status: RecordStatus.InProgress,
    expiresAt: Math.floor(NOW / 1000) + 3600,
    leaseUntil: NOW + 1000,
    leaseToken: 'token-1',
    fingerprint: 'fp',
    createdAt: NOW - 1000,
    attempt: 1,
    v: RECORD_VERSION,
    ...overrides,
  };
}

describe('what a record means now', () => {
  it('is expired only once the current second is past expiresAt, whatever its status', () => {
    const second = Math.floor(NOW / 1000);
    expect(isExpired({ expiresAt: second }, NOW)).toBe(false);
    expect(isExpired({ expiresAt: second - 1 }, NOW)).toBe(true);
    expect(recordState(record({ status: RecordStatus.Completed, expiresAt: second - 1 }), NOW)).toBe(
      RecordState.Expired,
    );
  });

  it('has a lease that is over only after leaseUntil, and no lease end means over', () => {
    expect(isLeaseOver({ leaseUntil: NOW }, NOW)).toBe(false);
    expect(isLeaseOver({ leaseUntil: NOW - 1 }, NOW)).toBe(true);
    expect(isLeaseOver({}, NOW)).toBe(true);
  });

  it('is live, stuck, completed or failed by status and lease', () => {
    expect(recordState(record(), NOW)).toBe(RecordState.Live);
    expect(recordState(record({ leaseUntil: NOW - 1 }), NOW)).toBe(RecordState.Stuck);
    expect(recordState(record({ status: RecordStatus.Completed }), NOW)).toBe(RecordState.Completed);
    expect(recordState(record({ status: RecordStatus.Failed }), NOW)).toBe(RecordState.Failed);
  });
});

describe('the names of the states', () => {
  it('are the words `idemkit records` and `doctor` show operators', () => {
    const second = Math.floor(NOW / 1000);
    expect([
      recordState(record({ expiresAt: second - 1 }), NOW),
      recordState(record({ status: RecordStatus.Completed }), NOW),
      recordState(record({ status: RecordStatus.Failed }), NOW),
      recordState(record(), NOW),
      recordState(record({ leaseUntil: NOW - 1 }), NOW),
    ]).toEqual(['expired', 'completed', 'failed', 'live', 'stuck']);
  });
});

describe('whether a record may be claimed', () => {
  it('is yes when absent, expired or stuck, and no when live or completed', () => {
    expect(isClaimable(undefined, { nowMs: NOW })).toBe(true);
    expect(isClaimable(record({ expiresAt: 0 }), { nowMs: NOW })).toBe(true);
    expect(isClaimable(record({ leaseUntil: NOW - 1 }), { nowMs: NOW })).toBe(true);
    expect(isClaimable(record(), { nowMs: NOW })).toBe(false);
    expect(isClaimable(record({ status: RecordStatus.Completed }), { nowMs: NOW })).toBe(false);
  });

  it('is yes for a FAILED record only with its own token', () => {
    const failed = record({ status: RecordStatus.Failed });
    expect(isClaimable(failed, { nowMs: NOW })).toBe(false);
    expect(isClaimable(failed, { nowMs: NOW, failedToken: 'token-2' })).toBe(false);
    expect(isClaimable(failed, { nowMs: NOW, failedToken: 'token-1' })).toBe(true);
    // A FAILED record without a token is not taken by a claim that names none either.
    expect(isClaimable(record({ status: RecordStatus.Failed, leaseToken: undefined }), { nowMs: NOW })).toBe(
      false,
    );
    // A completed or live record is never taken by a replay's token.
    expect(isClaimable(record(), { nowMs: NOW, failedToken: 'token-1' })).toBe(false);
  });
});

describe('whether a replay may reopen a record', () => {
  it('is yes for a FAILED record another owner failed, or with no owner named', () => {
    const failed = record({ status: RecordStatus.Failed, owner: 'message-1' });
    expect(isReopenable(failed, 'replay-1')).toBe(true);
    expect(isReopenable(failed, undefined)).toBe(true);
    expect(isReopenable(failed, 'message-1')).toBe(false);
    expect(isReopenable(record({ status: RecordStatus.Failed }), undefined)).toBe(true);
  });

  it('is no for a record that is not FAILED or has no token', () => {
    expect(isReopenable(record({ status: RecordStatus.Completed }), 'replay-1')).toBe(false);
    expect(isReopenable(record({ status: RecordStatus.Failed, leaseToken: undefined }), 'replay-1')).toBe(
      false,
    );
  });
});
