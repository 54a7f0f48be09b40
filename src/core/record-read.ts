import { IdempotencyCorruptRecordError } from './errors.js';
import { parseResultRef } from './large-result.js';
import { type EncodedResult, type IdempotencyRecord, RecordStatus, ResultDroppedReason } from './types.js';

/** A field of a stored record. */
export type RecordFieldName = keyof IdempotencyRecord;

/**
 * How a store reads one field of its stored form: a string or a number, `undefined` when absent or malformed.
 * A reader adds the store's own name for a missing required or malformed field to `problems`.
 */
export interface FieldReader {
  string(field: RecordFieldName, required: boolean): string | undefined;
  number(field: RecordFieldName, required: boolean): number | undefined;
  /** The name an operator sees for a field (the attribute or hash field), for problems found here. */
  nameOf(field: RecordFieldName): string;
  readonly problems: string[];
}

const STATUSES: ReadonlySet<string> = new Set(Object.values(RecordStatus));
const DROPPED_REASONS: ReadonlySet<string> = new Set(Object.values(ResultDroppedReason));

/**
 * Builds a record from what a store read, with one set of rules for every store: the required fields, a known
 * status and drop reason, a well-formed large-result pointer (`resultRef`), and an `IN_PROGRESS` record that has its
 * lease. Optional fields it lacks stay absent, so a record read back equals the record written. Anything damaged
 * throws {@link IdempotencyCorruptRecordError} naming the fields: a damaged record must never read as a claimable
 * lease.
 *
 * @example
 * return assembleRecord(reader, resultOf(item));
 */
export function assembleRecord(read: FieldReader, result: EncodedResult | undefined): IdempotencyRecord {
  const { problems } = read;
  const status = read.string('status', true);
  if (status !== undefined && !STATUSES.has(status)) problems.push(read.nameOf('status'));
  const resultDropped = read.string('resultDropped', false);
  if (resultDropped !== undefined && !DROPPED_REASONS.has(resultDropped))
    problems.push(read.nameOf('resultDropped'));
  const refText = read.string('resultRef', false);
  const resultRef = refText === undefined ? undefined : parseResultRef(refText);
  if (refText !== undefined && resultRef === undefined) problems.push(read.nameOf('resultRef'));
  const record = {
    pk: read.string('pk', true),
    org: read.string('org', true),
    scope: read.string('scope', true),
    status,
    expiresAt: read.number('expiresAt', true),
    fingerprint: read.string('fingerprint', true),
    rawDigest: read.string('rawDigest', false),
    createdAt: read.number('createdAt', true),
    attempt: read.number('attempt', true),
    v: read.number('v', true),
    leaseUntil: read.number('leaseUntil', false),
    leaseToken: read.string('leaseToken', false),
    owner: read.string('owner', false),
    result,
    resultDropped,
    resultRef,
    completedAt: read.number('completedAt', false),
  };
  if (
    record.status === RecordStatus.InProgress &&
    (record.leaseUntil === undefined || record.leaseToken === undefined)
  )
    problems.push(read.nameOf(record.leaseUntil === undefined ? 'leaseUntil' : 'leaseToken'));
  if (problems.length > 0) throw new IdempotencyCorruptRecordError([...new Set(problems)]);
  return Object.fromEntries(
    Object.entries(record).filter(([, value]) => value !== undefined),
  ) as unknown as IdempotencyRecord;
}
