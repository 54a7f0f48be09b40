import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { formatResultRef } from '../core/large-result.js';
import { assembleRecord, type FieldReader } from '../core/record-read.js';
import type { IdempotencyRecord } from '../core/types.js';

/**
 * How a record is laid out as a DynamoDB item (docs/protocol.md section 2): the one place that knows the
 * attribute names and types. The store, `idemkit records` and `idemkit doctor` read and write through it.
 */
export type Item = Record<string, AttributeValue>;

/** The record fields, each stored under an attribute of the same name unless {@link ItemLayout} renames it. */
export const RECORD_FIELDS = [
  'pk',
  'org',
  'scope',
  'status',
  'expiresAt',
  'leaseUntil',
  'leaseToken',
  'owner',
  'fingerprint',
  'rawDigest',
  'result',
  'resultDropped',
  'resultRef',
  'createdAt',
  'completedAt',
  'attempt',
  'v',
] as const;
/** One of {@link RECORD_FIELDS}. */
export type RecordField = (typeof RECORD_FIELDS)[number];

/**
 * Attribute names of an existing table, by record field (`pk` is the partition key, `expiresAt` the TTL attribute).
 * Fields left out keep their own name.
 *
 * @example
 * { pk: 'PK', expiresAt: 'ttl', result: 'data' }
 */
export type AttributeNames = Partial<Record<RecordField, string>>;

/**
 * A sort key for a single-table design: its attribute name and the value every idempotency record carries, a
 * constant (`'IDEMPOTENCY'`) or derived from the record's `pk`.
 *
 * @example
 * { name: 'SK', value: 'IDEMPOTENCY' }
 */
export interface SortKey {
  readonly name: string;
  readonly value: string | ((pk: string) => string);
}

/** Where each field lives in the table: the resolved attribute names and the sort key, if any. */
export interface ItemLayout {
  readonly names: Readonly<Record<RecordField, string>>;
  readonly sortKey?: SortKey;
}

/** idemkit's own schema: partition key `pk`, every field under its own name, no sort key. */
export const DEFAULT_LAYOUT: ItemLayout = {
  names: Object.fromEntries(RECORD_FIELDS.map((field) => [field, field])) as Record<RecordField, string>,
};

/**
 * Resolves attribute names and a sort key into a layout, checking that no two fields share an attribute and that
 * the sort key is none of them. Throws a `TypeError` that names the option.
 */
export function itemLayout(attributes: AttributeNames = {}, sortKey?: SortKey): ItemLayout {
  const names = { ...DEFAULT_LAYOUT.names };
  for (const [field, name] of Object.entries(attributes ?? {})) {
    if (!(RECORD_FIELDS as readonly string[]).includes(field)) {
      throw new TypeError(
        `Expected the keys of \`attributes\` to be record fields (${RECORD_FIELDS.join(', ')}), got \`${field}\`.`,
      );
    }
    if (typeof name !== 'string' || name.trim() === '' || name.length > 255) {
      throw new TypeError(
        `Expected \`attributes.${field}\` to be an attribute name (1 to 255 characters), got ${JSON.stringify(name)}.`,
      );
    }
    names[field as RecordField] = name;
  }
  const used = Object.values(names);
  if (sortKey !== undefined) {
    if (typeof sortKey?.name !== 'string' || sortKey.name.trim() === '') {
      throw new TypeError(
        `Expected \`sortKey.name\` to be the table's sort key attribute, got ${JSON.stringify(sortKey?.name)}.`,
      );
    }
    if (typeof sortKey.value !== 'string' && typeof sortKey.value !== 'function') {
      throw new TypeError(
        `Expected \`sortKey.value\` to be a string or a function of the record's pk, got ${typeof sortKey.value}.`,
      );
    }
    used.push(sortKey.name);
  }
  const twice = used.find((name, index) => used.indexOf(name) !== index);
  if (twice !== undefined) {
    throw new TypeError(
      `Expected every field of \`attributes\` and \`sortKey\` to have its own attribute, got \`${twice}\` twice.`,
    );
  }
  return { names, sortKey };
}

/** The table key of the record `pk`: the partition key, and the sort key when the layout has one. */
export function keyOf(pk: string, layout: ItemLayout = DEFAULT_LAYOUT): Item {
  const key: Item = { [layout.names.pk]: { S: pk } };
  if (layout.sortKey !== undefined) key[layout.sortKey.name] = { S: sortKeyValue(layout.sortKey, pk) };
  return key;
}

function sortKeyValue(sortKey: SortKey, pk: string): string {
  return typeof sortKey.value === 'string' ? sortKey.value : sortKey.value(pk);
}

// Default attribute names that are DynamoDB reserved words: always sent as placeholders.
const RESERVED = new Set(['status', 'result', 'owner']);

/** Expressions with `{field}` resolved for a layout, and the placeholders they use. */
export interface Compiled {
  readonly expressions: string[];
  readonly names: Record<string, string>;
}

/**
 * Resolves `{field}` in expressions: idemkit's own names as they are (`#status`, `#result` for the reserved words),
 * so the default schema sends exactly the expressions it always did; a renamed attribute as a `#field` placeholder,
 * so any name an existing table uses is safe.
 */
export function compile(layout: ItemLayout, ...templates: string[]): Compiled {
  const names: Record<string, string> = {};
  const expressions = templates.map((template) =>
    template.replace(/\{(\w+)\}/g, (_, field: RecordField) => {
      const name = layout.names[field];
      if (name === field && !RESERVED.has(field)) return field;
      names[`#${field}`] = name;
      return `#${field}`;
    }),
  );
  return { expressions, names };
}

/** A result as an `S` (JSON text) or `B` (compressed bytes) attribute. */
export function encodeResultAttribute(result: string | Uint8Array): AttributeValue {
  return typeof result === 'string' ? { S: result } : { B: result };
}

/** Marshals a record; attributes that are `undefined` are left out. */
export function toItem(record: IdempotencyRecord, layout: ItemLayout = DEFAULT_LAYOUT): Item {
  const { names } = layout;
  const item: Item = {
    ...keyOf(record.pk, layout),
    [names.org]: { S: record.org },
    [names.scope]: { S: record.scope },
    [names.status]: { S: record.status },
    [names.expiresAt]: { N: String(record.expiresAt) },
    [names.fingerprint]: { S: record.fingerprint },
    [names.createdAt]: { N: String(record.createdAt) },
    [names.attempt]: { N: String(record.attempt) },
    [names.v]: { N: String(record.v) },
  };
  if (record.leaseUntil !== undefined) item[names.leaseUntil] = { N: String(record.leaseUntil) };
  if (record.leaseToken !== undefined) item[names.leaseToken] = { S: record.leaseToken };
  if (record.owner !== undefined) item[names.owner] = { S: record.owner };
  if (record.rawDigest !== undefined) item[names.rawDigest] = { S: record.rawDigest };
  if (record.result !== undefined) item[names.result] = encodeResultAttribute(record.result);
  if (record.resultDropped !== undefined) item[names.resultDropped] = { S: record.resultDropped };
  if (record.resultRef !== undefined) item[names.resultRef] = { S: formatResultRef(record.resultRef) };
  if (record.completedAt !== undefined) item[names.completedAt] = { N: String(record.completedAt) };
  return item;
}

/**
 * Unmarshals a record read from the table. Optional attributes the item lacks stay absent (not present as
 * `undefined`), so a record read back equals the record written. An item that lacks a required attribute, or
 * carries one of the wrong type or an unknown status, throws {@link IdempotencyCorruptRecordError}: a damaged
 * item must never read as a claimable lease.
 */
export function fromItem(item: Item, layout: ItemLayout = DEFAULT_LAYOUT): IdempotencyRecord {
  const problems: string[] = [];
  // Problems are named by the table's attribute names, which is what an operator sees in the item.
  const reader: FieldReader = {
    problems,
    nameOf: (field) => layout.names[field as RecordField],
    number: (field, required) => {
      const name = layout.names[field as RecordField];
      // An absent `N` is NaN too.
      const value = Number(item[name]?.N);
      if (!Number.isFinite(value)) {
        if (required || item[name] !== undefined) problems.push(name);
        return undefined;
      }
      return value;
    },
    string: (field, required) => {
      const name = layout.names[field as RecordField];
      const value = item[name]?.S;
      if (value === undefined && (required || item[name] !== undefined)) problems.push(name);
      return value;
    },
  };
  const resultAttribute = item[layout.names.result];
  if (resultAttribute !== undefined && resultAttribute.S === undefined && resultAttribute.B === undefined)
    problems.push(layout.names.result);
  return assembleRecord(reader, resultAttribute?.S ?? resultAttribute?.B);
}

/**
 * A layout from the JSON an operator gives the CLI (`--attributes`): attribute names by record field, plus
 * `sortKey: { "name": ..., "value": ... }` with a constant value. Throws a `TypeError` naming what is wrong.
 *
 * @example
 * layoutFromJson('{"pk":"PK","expiresAt":"ttl","sortKey":{"name":"SK","value":"IDEMPOTENCY"}}');
 */
export function layoutFromJson(text: string): ItemLayout {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TypeError(
      `Expected the attribute names as a JSON object, got ${JSON.stringify(text.slice(0, 80))}.`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TypeError(`Expected the attribute names as a JSON object, got ${JSON.stringify(parsed)}.`);
  }
  const { sortKey, ...attributes } = parsed as { sortKey?: { name?: unknown; value?: unknown } } & Record<
    string,
    string
  >;
  if (sortKey !== undefined && typeof sortKey?.value !== 'string') {
    throw new TypeError(
      `Expected \`sortKey.value\` to be the constant every record carries (a derived sort key needs code), got ${JSON.stringify(sortKey?.value)}.`,
    );
  }
  return itemLayout(attributes, sortKey as SortKey | undefined);
}
