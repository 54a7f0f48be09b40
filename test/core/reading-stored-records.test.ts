/**
 * How every store turns what it read into a record (docs/protocol.md section 3, "damaged"): one set of rules, so an
 * item with a field missing, malformed or unknown is an error naming the fields, never a claimable lease.
 */
import { describe, expect, it } from 'vitest';
import { IdempotencyCorruptRecordError } from '../../src/core/errors.js';
import { formatResultRef } from '../../src/core/large-result.js';
import { assembleRecord, type FieldReader, type RecordFieldName } from '../../src/core/record-read.js';
import { type IdempotencyRecord, RECORD_VERSION, RecordStatus } from '../../src/core/types.js';

type Stored = Partial<Record<RecordFieldName, unknown>>;

/**
 * A reader over a plain item, as the stores' readers work: a field of the wrong type is malformed, a missing
 * required one is a problem too. Fields are named as a store with its own attribute names would (`attr_<field>`).
 */
function readerOf(item: Stored): FieldReader {
  const problems: string[] = [];
  const nameOf = (field: RecordFieldName) => `attr_${field}`;
  const read = <T>(field: RecordFieldName, required: boolean, type: string): T | undefined => {
    const value = item[field];
    if (value === undefined) {
      if (required) problems.push(nameOf(field));
      return undefined;
    }
    if (typeof value !== type) {
      problems.push(nameOf(field));
      return undefined;
    }
    return value as T;
  };
  return {
    problems,
    nameOf,
    string: (field, required) => read<string>(field, required, 'string'),
    number: (field, required) => read<number>(field, required, 'number'),
  };
}

const written: IdempotencyRecord = {
  pk: 'acme#charge#d',
  org: 'acme',
  scope: 'charge',
  status: RecordStatus.InProgress,
  expiresAt: 1_800_000_000,
  fingerprint: 'fp',
  createdAt: 1_799_999_999_000,
  attempt: 1,
  v: RECORD_VERSION,
  leaseUntil: 1_800_000_060_000,
  leaseToken: 'token-1',
};

/** The attributes an assembly refused, or `undefined` when it read a record. */
function refused(item: Stored): readonly string[] | undefined {
  try {
    assembleRecord(readerOf(item), undefined);
    return undefined;
  } catch (error) {
    if (!(error instanceof IdempotencyCorruptRecordError)) throw error;
    return error.attributes;
  }
}

describe('a record read back', () => {
  it('equals the record written, with no field for what it lacks', () => {
    const record = assembleRecord(readerOf(written), undefined);
    expect(record).toStrictEqual(written);
    expect(Object.keys(record)).not.toContain('result');
  });

  it('carries every optional field it has, the result and a well-formed large-result pointer', () => {
    const resultRef = {
      key: 'results/acme#charge#d/aa',
      sha256: 'a'.repeat(64),
      size: 10,
      form: 'text',
    } as const;
    const completed = {
      ...written,
      status: RecordStatus.Completed,
      rawDigest: 'raw',
      owner: 'message-1',
      resultDropped: 'too_large',
      completedAt: 1_800_000_000_500,
    };
    const record = assembleRecord(
      readerOf({ ...completed, resultRef: formatResultRef(resultRef) }),
      '{"ok":1}',
    );
    expect(record).toStrictEqual({ ...completed, result: '{"ok":1}', resultRef });
  });

  it('needs no lease once COMPLETED or FAILED', () => {
    const { leaseUntil: _until, leaseToken: _token, ...final } = written;
    expect(refused({ ...final, status: RecordStatus.Completed })).toBeUndefined();
    expect(refused({ ...final, status: RecordStatus.Failed })).toBeUndefined();
  });
});

describe('a damaged item', () => {
  it.each(['pk', 'org', 'scope', 'status', 'expiresAt', 'fingerprint', 'createdAt', 'attempt', 'v'] as const)(
    'names a missing required %s',
    (field) => {
      const { [field]: _, ...lacking } = written;
      expect(refused(lacking)).toEqual([`attr_${field}`]);
    },
  );

  it('names a malformed required field', () => {
    expect(refused({ ...written, attempt: 'one' })).toEqual(['attr_attempt']);
  });

  it('names an unknown status or drop reason', () => {
    expect(refused({ ...written, status: 'EXPIRED' })).toEqual(['attr_status']);
    expect(refused({ ...written, status: RecordStatus.Completed, resultDropped: 'lost' })).toEqual([
      'attr_resultDropped',
    ]);
  });

  it('names a large-result pointer that does not parse', () => {
    expect(refused({ ...written, status: RecordStatus.Completed, resultRef: '{"key":"x"}' })).toEqual([
      'attr_resultRef',
    ]);
  });

  it('names the lease end, else the token, of an IN_PROGRESS record without them', () => {
    const { leaseUntil: _until, ...noUntil } = written;
    const { leaseToken: _token, ...noToken } = written;
    const { leaseUntil: _u, leaseToken: _t, ...neither } = written;
    expect(refused(noUntil)).toEqual(['attr_leaseUntil']);
    expect(refused(noToken)).toEqual(['attr_leaseToken']);
    expect(refused(neither)).toEqual(['attr_leaseUntil']);
  });

  it('names each field once, and all of them', () => {
    expect(refused({ ...written, leaseUntil: 'soon', status: RecordStatus.InProgress, v: 'x' })).toEqual([
      'attr_v',
      'attr_leaseUntil',
    ]);
  });

  it('is an error that says what to do, naming no value', () => {
    expect(() => assembleRecord(readerOf({ ...written, status: 'secret-status' }), undefined)).toThrow(
      /`attr_status` missing or malformed; inspect it with `idemkit records get`/,
    );
  });
});
