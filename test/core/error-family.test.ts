/**
 * What each error idemkit throws tells the code that catches it and the person who reads its log line: its
 * `name` (logs and `instanceof`-free checks read it), its message, the facts attached, and the `cause` kept.
 */
import { describe, expect, it } from 'vitest';
import {
  IdempotencyConfigError,
  IdempotencyCorruptRecordError,
  IdempotencyError,
  IdempotencyInProgressError,
  IdempotencyKeyMismatchError,
  IdempotencyLeaseLostError,
  IdempotencyPreviouslyFailedError,
  IdempotencyResultOmittedError,
  IdempotencyStoreError,
  IdempotencyValidationError,
} from '../../src/core/errors.js';
import { type IdempotencyRecord, RecordStatus } from '../../src/core/types.js';

const record = {
  pk: 'acme#charge#digest',
  org: 'acme',
  scope: 'charge',
  status: RecordStatus.Completed,
  expiresAt: 1_900_000_000,
  fingerprint: 'fp',
  createdAt: 1_800_000_000_000,
} as IdempotencyRecord;

describe('the error family', () => {
  it.each([
    ['IdempotencyError', new IdempotencyError('x')],
    ['IdempotencyConfigError', new IdempotencyConfigError(['x'])],
    ['IdempotencyValidationError', new IdempotencyValidationError('key', 'x')],
    ['IdempotencyKeyMismatchError', new IdempotencyKeyMismatchError(record)],
    ['IdempotencyInProgressError', new IdempotencyInProgressError(record, 3)],
    ['IdempotencyPreviouslyFailedError', new IdempotencyPreviouslyFailedError(record)],
    ['IdempotencyStoreError', new IdempotencyStoreError('claim', new Error('x'))],
    ['IdempotencyCorruptRecordError', new IdempotencyCorruptRecordError(['status'])],
    ['IdempotencyResultOmittedError', new IdempotencyResultOmittedError(record, 'too_large')],
    ['IdempotencyLeaseLostError', new IdempotencyLeaseLostError()],
  ] as const)('%s says its name and is an IdempotencyError', (name, error) => {
    expect(error.name).toBe(name);
    expect(String(error)).toMatch(new RegExp(`^${name}: `));
    expect(error).toBeInstanceOf(IdempotencyError);
  });

  it('a configuration error with one problem is that sentence; with several, a list of them', () => {
    expect(new IdempotencyConfigError(['Expected `mode` to be a mode, got 1.']).message).toBe(
      'Expected `mode` to be a mode, got 1.',
    );
    const several = new IdempotencyConfigError(['First problem.', 'Second problem.']);
    expect(several.message).toBe('Invalid idemkit configuration:\n- First problem.\n- Second problem.');
    expect(several.issues).toEqual(['First problem.', 'Second problem.']);
  });

  it('a validation error names the rejected input', () => {
    const error = new IdempotencyValidationError('org', 'Expected `org` to be printable, got a tab.');
    expect([error.field, error.message]).toEqual(['org', 'Expected `org` to be printable, got a tab.']);
  });

  it('a mismatch tells the caller to send a new key, and carries the record', () => {
    const error = new IdempotencyKeyMismatchError(record);
    expect(error.message).toBe(
      'This idempotency key was already used with a different request; send a new key for a new request.',
    );
    expect(error.record).toBe(record);
  });

  it('an operation in progress says when to retry, and carries the seconds and the record', () => {
    const error = new IdempotencyInProgressError(record, 7);
    expect(error.message).toBe('An operation with this idempotency key is still running; retry in 7 s.');
    expect([error.retryAfterSeconds, error.record]).toEqual([7, record]);
  });

  it('a previous permanent failure says how to run it again, and carries the record', () => {
    const error = new IdempotencyPreviouslyFailedError(record);
    expect(error.message).toBe(
      'This operation failed permanently before; replay it after a fix to run it again.',
    );
    expect(error.record).toBe(record);
  });

  it('a store error names the operation and the cause, and keeps the cause', () => {
    const cause = new RangeError('socket hang up');
    const error = new IdempotencyStoreError('complete', cause);
    expect(error.message).toBe('The idempotency store failed during `complete`: RangeError: socket hang up');
    expect([error.operation, error.cause]).toEqual(['complete', cause]);
  });

  it('a store error whose cause is not an Error shows it as text', () => {
    expect(new IdempotencyStoreError('get', 'ECONNRESET').message).toBe(
      'The idempotency store failed during `get`: ECONNRESET',
    );
  });

  it('a damaged record names its attributes, never their values, and says how to inspect it', () => {
    const error = new IdempotencyCorruptRecordError(['status', 'leaseUntil']);
    expect(error.message).toBe(
      'A stored idempotency record is damaged: `status`, `leaseUntil` missing or malformed; inspect it with `idemkit records get` and release it.',
    );
    expect(error.attributes).toEqual(['status', 'leaseUntil']);
  });

  it('an omitted result says why and where to read the outcome, and carries the reason and the record', () => {
    const error = new IdempotencyResultOmittedError(record, 'unserializable');
    expect(error.message).toBe(
      'This operation already ran, but its result was not stored (unserializable), so it cannot be replayed; read the outcome from where the operation wrote it.',
    );
    expect([error.reason, error.record]).toEqual(['unserializable', record]);
  });

  it('a lost lease tells the operation to stop early', () => {
    expect(new IdempotencyLeaseLostError().message).toBe(
      "Another invocation took over this operation's lease; stop early, its outcome will not be stored.",
    );
  });
});
