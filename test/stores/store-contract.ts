import { describe, expect, it } from 'vitest';
import {
  type CompletionUpdate,
  type IdempotencyRecord,
  RECORD_VERSION,
  RecordStatus,
  type Store,
} from '../../src/core/types.js';

const NOW_MS = 1_800_000_000_000;
const NOW_S = NOW_MS / 1000;
let sequence = 0;

/** A fresh `IN_PROGRESS` claim record for a key nobody used yet, leased for 60 s from {@link NOW_MS}. */
export function claimRecord(overrides: Partial<IdempotencyRecord> = {}): IdempotencyRecord {
  sequence += 1;
  return {
    pk: `acme#contract#${process.pid}-${Date.now()}-${sequence}`,
    org: 'acme',
    scope: 'contract',
    status: RecordStatus.InProgress,
    expiresAt: NOW_S + 3600,
    leaseUntil: NOW_MS + 60_000,
    leaseToken: `token-${sequence}`,
    fingerprint: 'fp-1',
    createdAt: NOW_MS,
    attempt: 1,
    v: RECORD_VERSION,
    ...overrides,
  };
}

function completion(overrides: Partial<CompletionUpdate> = {}): CompletionUpdate {
  return {
    status: RecordStatus.Completed,
    result: '{"ok":true}',
    completedAt: NOW_MS + 10,
    expiresAt: NOW_S + 7200,
    ...overrides,
  };
}

const BINARY = new Uint8Array([0, 1, 2, 127, 128, 254, 255, 0]);

/**
 * The behaviour every {@link Store} must have (docs/protocol.md section 3), run once per store. `makeStore`
 * is called once per test; the store may be shared, because every test uses its own key.
 */
export function storeContract(name: string, makeStore: () => Store): void {
  describe(`${name} keeps the store contract`, () => {
    describe('claim', () => {
      it('claims a key nobody holds and stores the record as given', async () => {
        const store = makeStore();
        const record = claimRecord({ owner: 'message-1' });
        expect(await store.claim(record, { nowMs: NOW_MS })).toEqual({ claimed: true });
        expect(await store.get(record.pk)).toStrictEqual(record);
      });

      it('returns the existing record when a live claim blocks it, and leaves that record unchanged', async () => {
        const store = makeStore();
        const first = claimRecord();
        await store.claim(first, { nowMs: NOW_MS });
        const second = { ...first, leaseToken: 'intruder', fingerprint: 'fp-2' };
        expect(await store.claim(second, { nowMs: NOW_MS + 1 })).toStrictEqual({
          claimed: false,
          existing: first,
        });
        expect(await store.get(first.pk)).toStrictEqual(first);
      });

      it('returns a completed record that blocks a claim, with its result', async () => {
        const store = makeStore();
        const first = claimRecord();
        await store.claim(first, { nowMs: NOW_MS });
        await store.complete(first.pk, first.leaseToken ?? '', completion());
        const outcome = await store.claim({ ...first, leaseToken: 'late' }, { nowMs: NOW_MS + 100_000 });
        expect(outcome.claimed).toBe(false);
        expect(outcome.claimed === false && outcome.existing).toMatchObject({
          status: 'COMPLETED',
          result: '{"ok":true}',
          leaseToken: first.leaseToken,
        });
      });

      it('claims over a record whose expiresAt is before now, even a completed one', async () => {
        const store = makeStore();
        const old = claimRecord({ expiresAt: NOW_S - 1 });
        await store.claim(old, { nowMs: NOW_MS - 10_000_000 });
        await store.complete(old.pk, old.leaseToken ?? '', completion({ expiresAt: NOW_S - 1 }));
        const fresh = { ...claimRecord({ pk: old.pk }), fingerprint: 'fp-new' };
        expect(await store.claim(fresh, { nowMs: NOW_MS })).toEqual({ claimed: true });
        expect(await store.get(old.pk)).toStrictEqual(fresh);
      });

      it('does not claim over a record that expires this very second (expiry is strictly before now)', async () => {
        const store = makeStore();
        const completed = claimRecord({ expiresAt: NOW_S });
        await store.claim(completed, { nowMs: NOW_MS - 1000 });
        await store.complete(completed.pk, completed.leaseToken ?? '', completion({ expiresAt: NOW_S }));
        const outcome = await store.claim(claimRecord({ pk: completed.pk }), { nowMs: NOW_MS + 999 });
        expect(outcome.claimed).toBe(false);
      });

      it('claims over an IN_PROGRESS record whose lease ended, but not one whose lease ends now', async () => {
        const store = makeStore();
        const stale = claimRecord({ leaseUntil: NOW_MS });
        await store.claim(stale, { nowMs: NOW_MS - 5000 });
        const atEnd = await store.claim(claimRecord({ pk: stale.pk }), { nowMs: NOW_MS });
        expect(atEnd).toStrictEqual({ claimed: false, existing: stale });
        const takeover = claimRecord({ pk: stale.pk, attempt: 2 });
        expect(await store.claim(takeover, { nowMs: NOW_MS + 1 })).toEqual({ claimed: true });
        expect(await store.get(stale.pk)).toStrictEqual(takeover);
      });

      it("takes over a FAILED record only when asked with that record's own lease token", async () => {
        const store = makeStore();
        const failed = claimRecord();
        await store.claim(failed, { nowMs: NOW_MS });
        await store.complete(
          failed.pk,
          failed.leaseToken ?? '',
          completion({ status: 'FAILED', result: undefined }),
        );
        const again = claimRecord({ pk: failed.pk, attempt: 2 });
        const refused = await store.claim(again, { nowMs: NOW_MS + 100 });
        expect(refused.claimed === false && refused.existing?.status).toBe('FAILED');
        const otherToken = await store.claim(again, { nowMs: NOW_MS + 100, failedToken: 'not-the-one' });
        expect(otherToken.claimed === false && otherToken.existing?.status).toBe('FAILED');
        expect(await store.claim(again, { nowMs: NOW_MS + 100, failedToken: failed.leaseToken })).toEqual({
          claimed: true,
        });
        expect(await store.get(failed.pk)).toStrictEqual(again);
        // The token fenced that one FAILED record: a second reopening with the same token finds a live lease.
        const twice = await store.claim(claimRecord({ pk: failed.pk }), {
          nowMs: NOW_MS + 200,
          failedToken: failed.leaseToken,
        });
        expect(twice.claimed).toBe(false);
      });

      it('does not take over a COMPLETED record or a live lease with their own token as failedToken', async () => {
        const store = makeStore();
        const live = claimRecord();
        await store.claim(live, { nowMs: NOW_MS });
        const onLive = await store.claim(claimRecord({ pk: live.pk }), {
          nowMs: NOW_MS + 1,
          failedToken: live.leaseToken,
        });
        expect(onLive.claimed).toBe(false);
        await store.complete(live.pk, live.leaseToken ?? '', completion());
        const onCompleted = await store.claim(claimRecord({ pk: live.pk }), {
          nowMs: NOW_MS + 100_000,
          failedToken: live.leaseToken,
        });
        expect(onCompleted.claimed).toBe(false);
      });
    });

    describe('batch reads', () => {
      it('reads many records at once, strongly, and leaves out the keys that have none', async () => {
        const store = makeStore();
        if (store.getMany === undefined) return;
        const records = Array.from({ length: 3 }, () => claimRecord());
        for (const record of records) await store.claim(record, { nowMs: NOW_MS });
        const [first] = records as [IdempotencyRecord];
        await store.complete(first.pk, first.leaseToken ?? '', completion());
        const missing = claimRecord().pk;

        const found = await store.getMany([...records.map((record) => record.pk), missing, first.pk]);

        expect([...found.keys()].sort()).toEqual(records.map((record) => record.pk).sort());
        expect(found.get(first.pk)).toStrictEqual(await store.get(first.pk));
        expect(found.get(first.pk)?.status).toBe('COMPLETED');
        expect(found.has(missing)).toBe(false);
      });
    });

    describe('fenced writes', () => {
      it('completes with the right token: status, result, completedAt and expiresAt set, lease end removed', async () => {
        const store = makeStore();
        const record = claimRecord();
        await store.claim(record, { nowMs: NOW_MS });
        expect(await store.complete(record.pk, record.leaseToken ?? '', completion())).toBe(true);
        const stored = await store.get(record.pk);
        expect(stored).toMatchObject({
          status: 'COMPLETED',
          result: '{"ok":true}',
          completedAt: NOW_MS + 10,
          expiresAt: NOW_S + 7200,
          fingerprint: 'fp-1',
        });
        expect(stored).not.toHaveProperty('leaseUntil');
      });

      it('refuses complete, release and renew with another token and changes nothing', async () => {
        const store = makeStore();
        const record = claimRecord();
        await store.claim(record, { nowMs: NOW_MS });
        expect(await store.complete(record.pk, 'not-mine', completion())).toBe(false);
        expect(await store.release(record.pk, 'not-mine')).toBe(false);
        expect(await store.renew(record.pk, 'not-mine', NOW_MS + 999_999)).toBe(false);
        expect(await store.get(record.pk)).toStrictEqual(record);
      });

      it('refuses complete, release and renew once the record is no longer IN_PROGRESS, even with the token', async () => {
        const store = makeStore();
        const record = claimRecord();
        const token = record.leaseToken ?? '';
        await store.claim(record, { nowMs: NOW_MS });
        await store.complete(record.pk, token, completion());
        const completed = await store.get(record.pk);
        expect(await store.complete(record.pk, token, completion({ result: '"second"' }))).toBe(false);
        expect(await store.release(record.pk, token)).toBe(false);
        expect(await store.renew(record.pk, token, NOW_MS + 999_999)).toBe(false);
        expect(await store.get(record.pk)).toStrictEqual(completed);
      });

      it('answers false for complete, release and renew on a key with no record, and creates none', async () => {
        const store = makeStore();
        const pk = claimRecord().pk;
        expect(await store.complete(pk, 'token', completion())).toBe(false);
        expect(await store.release(pk, 'token')).toBe(false);
        expect(await store.renew(pk, 'token', NOW_MS)).toBe(false);
        expect(await store.get(pk)).toBeUndefined();
      });

      it('releases with the right token by deleting the record, so the key can be claimed again', async () => {
        const store = makeStore();
        const record = claimRecord();
        await store.claim(record, { nowMs: NOW_MS });
        expect(await store.release(record.pk, record.leaseToken ?? '')).toBe(true);
        expect(await store.get(record.pk)).toBeUndefined();
        expect(await store.claim(claimRecord({ pk: record.pk }), { nowMs: NOW_MS + 1 })).toEqual({
          claimed: true,
        });
      });

      it('renews with the right token by moving leaseUntil and nothing else', async () => {
        const store = makeStore();
        const record = claimRecord();
        await store.claim(record, { nowMs: NOW_MS });
        expect(await store.renew(record.pk, record.leaseToken ?? '', NOW_MS + 90_000)).toBe(true);
        expect(await store.get(record.pk)).toStrictEqual({ ...record, leaseUntil: NOW_MS + 90_000 });
      });

      it("renews the record's lifetime with the lease when asked, so a live lease never outlives its record", async () => {
        const store = makeStore();
        const record = claimRecord({ expiresAt: NOW_S + 5 });
        await store.claim(record, { nowMs: NOW_MS });
        expect(await store.renew(record.pk, record.leaseToken ?? '', NOW_MS + 90_000, NOW_S + 7200)).toBe(
          true,
        );
        expect(await store.get(record.pk)).toMatchObject({
          leaseUntil: NOW_MS + 90_000,
          expiresAt: NOW_S + 7200,
        });
        // Past the first lifetime, the renewed record is still a live lease, not a claimable expired record.
        const late = await store.claim(claimRecord({ pk: record.pk }), { nowMs: NOW_MS + 60_000 });
        expect(late.claimed).toBe(false);
      });

      it('marks a record FAILED through complete, with no result', async () => {
        const store = makeStore();
        const record = claimRecord();
        await store.claim(record, { nowMs: NOW_MS });
        const update = completion({ status: 'FAILED', result: undefined });
        expect(await store.complete(record.pk, record.leaseToken ?? '', update)).toBe(true);
        const stored = await store.get(record.pk);
        expect(stored?.status).toBe('FAILED');
        expect(stored).not.toHaveProperty('result');
      });
    });

    describe('attributes', () => {
      it('round-trips a string result exactly, including non-ASCII text', async () => {
        const store = makeStore();
        const record = claimRecord();
        const text = JSON.stringify({ name: 'Zoë 🚀', nested: { list: [1, 'two', null] } });
        await store.claim(record, { nowMs: NOW_MS });
        await store.complete(record.pk, record.leaseToken ?? '', completion({ result: text }));
        const stored = await store.get(record.pk);
        expect(typeof stored?.result).toBe('string');
        expect(stored?.result).toBe(text);
      });

      it('round-trips a binary result byte for byte, as binary', async () => {
        const store = makeStore();
        const record = claimRecord();
        await store.claim(record, { nowMs: NOW_MS });
        await store.complete(record.pk, record.leaseToken ?? '', completion({ result: BINARY }));
        const stored = await store.get(record.pk);
        expect(stored?.result).toBeInstanceOf(Uint8Array);
        expect(Array.from(stored?.result as Uint8Array)).toEqual(Array.from(BINARY));
      });

      it('keeps resultDropped on a completed record without a body', async () => {
        const store = makeStore();
        const record = claimRecord();
        await store.claim(record, { nowMs: NOW_MS });
        const update = completion({ result: undefined, resultDropped: 'too_large' });
        await store.complete(record.pk, record.leaseToken ?? '', update);
        const stored = await store.get(record.pk);
        expect(stored).toMatchObject({ status: 'COMPLETED', resultDropped: 'too_large' });
        expect(stored).not.toHaveProperty('result');
      });

      it('keeps the pointer to a large result beside the fallback body, on complete and on a claim record', async () => {
        const store = makeStore();
        const record = claimRecord();
        const resultRef = {
          key: `results/${record.pk}/${'a1'.repeat(32)}`,
          sha256: 'a1'.repeat(32),
          size: 2_097_152,
          form: 'bytes' as const,
        };
        await store.claim(record, { nowMs: NOW_MS });
        const update = completion({ result: '{"statusCode":201}', resultDropped: 'too_large', resultRef });
        await store.complete(record.pk, record.leaseToken ?? '', update);
        expect(await store.get(record.pk)).toMatchObject({
          status: 'COMPLETED',
          result: '{"statusCode":201}',
          resultDropped: 'too_large',
          resultRef,
        });
        // A record written whole (a claim) carries the pointer too, and a record without one has none.
        const whole = claimRecord({ resultRef: { ...resultRef, form: 'text' } });
        await store.claim(whole, { nowMs: NOW_MS });
        expect(await store.get(whole.pk)).toStrictEqual(whole);
        const plain = claimRecord();
        await store.claim(plain, { nowMs: NOW_MS });
        expect(await store.get(plain.pk)).not.toHaveProperty('resultRef');
      });

      it("keeps a claim's raw digest, and a complete replaces its provisional fingerprint with the meaning", async () => {
        const store = makeStore();
        const record = claimRecord({
          rawDigest: 'digest-of-the-bytes',
          fingerprint: 'raw:digest-of-the-bytes',
        });
        await store.claim(record, { nowMs: NOW_MS });
        expect(await store.get(record.pk)).toStrictEqual(record);
        await store.complete(record.pk, record.leaseToken ?? '', completion({ fingerprint: 'the-meaning' }));
        expect(await store.get(record.pk)).toMatchObject({
          status: 'COMPLETED',
          rawDigest: 'digest-of-the-bytes',
          fingerprint: 'the-meaning',
        });
        // A complete that names no fingerprint leaves the claim's.
        const plain = claimRecord();
        await store.claim(plain, { nowMs: NOW_MS });
        await store.complete(plain.pk, plain.leaseToken ?? '', completion());
        const stored = await store.get(plain.pk);
        expect(stored?.fingerprint).toBe('fp-1');
        expect(stored).not.toHaveProperty('rawDigest');
      });

      it('leaves optional attributes that were never written absent, not present as undefined', async () => {
        const store = makeStore();
        const record = claimRecord();
        await store.claim(record, { nowMs: NOW_MS });
        const stored = await store.get(record.pk);
        expect(Object.keys(stored ?? {}).sort()).toEqual(
          [
            'attempt',
            'createdAt',
            'expiresAt',
            'fingerprint',
            'leaseToken',
            'leaseUntil',
            'org',
            'pk',
            'scope',
            'status',
            'v',
          ].sort(),
        );
      });

      it('keeps every optional field of a record written whole by a claim, with a text or a binary result', async () => {
        const store = makeStore();
        const whole = claimRecord({
          owner: 'message-2',
          rawDigest: 'digest-of-the-bytes',
          result: '{"a":1}',
          resultDropped: 'too_large',
          resultRef: { key: 'results/whole', sha256: 'c3'.repeat(32), size: 12, form: 'bytes' },
          completedAt: NOW_MS + 5,
        });
        expect(await store.claim(whole, { nowMs: NOW_MS })).toEqual({ claimed: true });
        expect(await store.get(whole.pk)).toStrictEqual(whole);
        // Lengths whose base64 ends in no, two and one `=`; a view into a larger buffer keeps only its own bytes.
        for (const bytes of [BINARY.subarray(0, 3), BINARY.subarray(1, 5), BINARY]) {
          const binary = claimRecord({ result: bytes });
          await store.claim(binary, { nowMs: NOW_MS });
          const stored = await store.get(binary.pk);
          expect(stored?.result).toBeInstanceOf(Uint8Array);
          expect(Array.from(stored?.result as Uint8Array)).toEqual(Array.from(bytes));
        }
      });

      it('answers undefined for a key with no record', async () => {
        expect(await makeStore().get(claimRecord().pk)).toBeUndefined();
      });
    });
  });
}
