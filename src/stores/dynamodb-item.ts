import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { IdempotencyCorruptRecordError } from '../core/errors.js';
import { type IdempotencyRecord, RecordStatus, ResultDroppedReason } from '../core/types.js';

/**
 * How a record is laid out as a DynamoDB item (docs/protocol.md section 2): the one place that knows the
 * attribute names and types. The store, `idemkit records` and `idemkit doctor` read and write through it.
 */
export type Item = Record<string, AttributeValue>;

/** A result as an `S` (JSON text) or `B` (compressed bytes) attribute. */
export function encodeResultAttribute(result: string | Uint8Array): AttributeValue {
  return typeof result === 'string' ? { S: result } : { B: result };
}

/** Marshals a record; attributes that are `undefined` are left out. */
export function toItem(record: IdempotencyRecord): Item {
  const item: Item = {
    pk: { S: record.pk },
    org: { S: record.org },
    scope: { S: record.scope },
    status: { S: record.status },
    expiresAt: { N: String(record.expiresAt) },
    fingerprint: { S: record.fingerprint },
    createdAt: { N: String(record.createdAt) },
    attempt: { N: String(record.attempt) },
    v: { N: String(record.v) },
  };
  if (record.leaseUntil !== undefined) item.leaseUntil = { N: String(record.leaseUntil) };
  if (record.leaseToken !== undefined) item.leaseToken = { S: record.leaseToken };
  if (record.owner !== undefined) item.owner = { S: record.owner };
  if (record.result !== undefined) item.result = encodeResultAttribute(record.result);
  if (record.resultDropped !== undefined) item.resultDropped = { S: record.resultDropped };
  if (record.completedAt !== undefined) item.completedAt = { N: String(record.completedAt) };
  return item;
}

/**
 * Unmarshals a record read from the table. Optional attributes the item lacks stay absent (not present as
 * `undefined`), so a record read back equals the record written. An item that lacks a required attribute, or
 * carries one of the wrong type or an unknown status, throws {@link IdempotencyCorruptRecordError}: a damaged
 * item must never read as a claimable lease.
 */
export function fromItem(item: Item): IdempotencyRecord {
  const problems: string[] = [];
  const number = (name: string, required: boolean) => {
    const raw = item[name]?.N;
    if (raw === undefined || !Number.isFinite(Number(raw))) {
      if (required || item[name] !== undefined) problems.push(name);
      return undefined;
    }
    return Number(raw);
  };
  const string = (name: string, required: boolean) => {
    const value = item[name]?.S;
    if (value === undefined && (required || item[name] !== undefined)) problems.push(name);
    return value;
  };
  const status = string('status', true);
  if (status !== undefined && !STATUSES.has(status)) problems.push('status');
  const dropped = string('resultDropped', false);
  if (dropped !== undefined && !DROPPED_REASONS.has(dropped)) problems.push('resultDropped');
  if (item.result !== undefined && item.result.S === undefined && item.result.B === undefined)
    problems.push('result');
  const record = {
    pk: string('pk', true),
    org: string('org', true),
    scope: string('scope', true),
    status,
    expiresAt: number('expiresAt', true),
    fingerprint: string('fingerprint', true),
    createdAt: number('createdAt', true),
    attempt: number('attempt', true),
    v: number('v', true),
    leaseUntil: number('leaseUntil', false),
    leaseToken: string('leaseToken', false),
    owner: string('owner', false),
    result: item.result?.S ?? item.result?.B,
    resultDropped: dropped,
    completedAt: number('completedAt', false),
  };
  if (
    record.status === RecordStatus.InProgress &&
    (record.leaseUntil === undefined || record.leaseToken === undefined)
  )
    problems.push(record.leaseUntil === undefined ? 'leaseUntil' : 'leaseToken');
  if (problems.length > 0) throw new IdempotencyCorruptRecordError([...new Set(problems)]);
  return Object.fromEntries(
    Object.entries(record).filter(([, value]) => value !== undefined),
  ) as unknown as IdempotencyRecord;
}

const STATUSES: ReadonlySet<string> = new Set(Object.values(RecordStatus));
const DROPPED_REASONS: ReadonlySet<string> = new Set(Object.values(ResultDroppedReason));
