import { formatResultRef } from '../core/large-result.js';
import { assembleRecord, type FieldReader } from '../core/record-read.js';
import type { EncodedResult, IdempotencyRecord } from '../core/types.js';

/**
 * How a record is laid out in Valkey or Redis: one hash per record, at the key `<keyPrefix><pk>` (docs/protocol.md
 * section 2 and section 8, "RedisStore"). Field names are the record's own; every value is text, so every client
 * reads it the same way. A compressed result is kept as base64 in `resultBytes` (a text result stays in `result`).
 */
export type Fields = Record<string, string>;

/** A record's hash fields, as flat `[field, value, ...]` pairs for `HSET`; `undefined` members are left out. */
export function toFields(record: IdempotencyRecord): string[] {
  const pairs: string[] = [
    'pk',
    record.pk,
    'org',
    record.org,
    'scope',
    record.scope,
    'status',
    record.status,
    'expiresAt',
    String(record.expiresAt),
    'fingerprint',
    record.fingerprint,
    'createdAt',
    String(record.createdAt),
    'attempt',
    String(record.attempt),
    'v',
    String(record.v),
  ];
  const optional = (name: string, value: string | number | undefined) => {
    if (value !== undefined) pairs.push(name, String(value));
  };
  optional('leaseUntil', record.leaseUntil);
  optional('leaseToken', record.leaseToken);
  optional('owner', record.owner);
  optional('rawDigest', record.rawDigest);
  if (record.result !== undefined) pairs.push(...resultFields(record.result));
  optional('resultDropped', record.resultDropped);
  optional('resultRef', record.resultRef === undefined ? undefined : formatResultRef(record.resultRef));
  optional('completedAt', record.completedAt);
  return pairs;
}

/** A result as its hash field: `result` for JSON text, `resultBytes` (base64) for compressed bytes. */
export function resultFields(result: EncodedResult): [string, string] {
  return typeof result === 'string'
    ? ['result', result]
    : ['resultBytes', Buffer.from(result.buffer, result.byteOffset, result.byteLength).toString('base64')];
}

/**
 * A reply of `HGETALL` as the clients return it (a flat array of strings or byte buffers, or a map) turned
 * into fields; `undefined` for an empty reply (no record).
 */
export function replyToFields(reply: unknown): Fields | undefined {
  const fields: Fields = {};
  if (Array.isArray(reply)) {
    for (let index = 0; index < reply.length; index += 2) {
      fields[text(reply[index])] = text(reply[index + 1]);
    }
  } else if (reply instanceof Map) {
    for (const [name, value] of reply) fields[text(name)] = text(value);
  } else if (reply !== null && typeof reply === 'object') {
    for (const [name, value] of Object.entries(reply)) fields[name] = text(value);
  } else if (reply !== null && reply !== undefined) {
    throw new TypeError(`Expected a hash reply from the record script, got ${typeof reply}.`);
  }
  return Object.keys(fields).length === 0 ? undefined : fields;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return String(value);
}

/**
 * Reads a record from its hash fields. Optional fields it lacks stay absent, so a record read back equals the
 * record written. A hash that lacks a required field, carries a malformed number or an unknown status throws
 * {@link IdempotencyCorruptRecordError}: a damaged record must never read as a claimable lease.
 */
export function fromFields(fields: Fields): IdempotencyRecord {
  const problems: string[] = [];
  const reader: FieldReader = {
    problems,
    nameOf: (field) => field,
    number: (name, required) => {
      const raw = fields[name];
      if (raw === undefined || !/^-?\d+$/.test(raw)) {
        if (required || raw !== undefined) problems.push(name);
        return undefined;
      }
      return Number(raw);
    },
    string: (name, required) => {
      const value = fields[name];
      if (value === undefined && required) problems.push(name);
      return value;
    },
  };
  let result: EncodedResult | undefined = fields.result;
  if (fields.resultBytes !== undefined) {
    if (result !== undefined || !/^[A-Za-z0-9+/]*={0,2}$/.test(fields.resultBytes)) problems.push('result');
    const bytes = Buffer.from(fields.resultBytes, 'base64');
    result = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return assembleRecord(reader, result);
}
