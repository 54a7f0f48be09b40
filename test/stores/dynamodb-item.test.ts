import { describe, expect, it } from 'vitest';
import { IdempotencyCorruptRecordError } from '../../src/core/errors.js';
import { RECORD_VERSION, RecordStatus } from '../../src/core/types.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import {
  compile,
  fromItem,
  type Item,
  itemLayout,
  keyOf,
  layoutFromJson,
  toItem,
} from '../../src/stores/dynamodb-item.js';
import { claimRecord } from './store-contract.js';

// The item format of docs/protocol.md section 2: attribute names and types as the table (and an operator reading
// it with the AWS console or `idemkit records get`) sees them. The store's round trips on DynamoDB Local are in
// dynamodb.test.ts; these pin the layout rules that need no server.

const RENAMED = itemLayout(
  {
    pk: 'PK',
    expiresAt: 'ttl',
    status: 'state',
    result: 'data',
    leaseToken: 'lockToken',
    leaseUntil: 'lockedUntil',
  },
  { name: 'SK', value: 'IDEMPOTENCY' },
);

/** A complete record carrying every optional field. */
const FULL = claimRecord({
  owner: 'message-7',
  rawDigest: 'raw-digest',
  result: '{"ok":1}',
  resultDropped: 'too_large',
  resultRef: { key: 'results/x', sha256: 'b2'.repeat(32), size: 9, form: 'text' },
  completedAt: 1_800_000_000_500,
});

const build = (attributes: Record<string, unknown>, sortKey?: unknown) => () =>
  new DynamoDBStore({ tableName: 't', attributes: attributes as never, sortKey: sortKey as never });

describe('attribute names of an existing table', () => {
  it('accepts a name of 255 characters and refuses one of 256, or a blank one', () => {
    expect(() => build({ result: 'r'.repeat(255) })()).not.toThrow();
    expect(build({ result: 'r'.repeat(256) })).toThrow(
      /Expected `attributes.result` to be an attribute name \(1 to 255 characters\), got "r{256}"\./,
    );
    expect(build({ result: '  ' })).toThrow(/Expected `attributes.result` to be an attribute name/);
    expect(build({ owner: 7 })).toThrow(/Expected `attributes.owner` to be an attribute name .*, got 7\./);
  });

  it('lists the record fields it knows when given another key', () => {
    expect(build({ colour: 'x' })).toThrow(
      'Expected the keys of `attributes` to be record fields (pk, org, scope, status, expiresAt, leaseUntil, leaseToken, owner, fingerprint, rawDigest, result, resultDropped, resultRef, createdAt, completedAt, attempt, v), got `colour`.',
    );
  });

  it('refuses two fields on one attribute, even when one of them keeps its own name', () => {
    expect(build({ owner: 'org' })).toThrow(
      'Expected every field of `attributes` and `sortKey` to have its own attribute, got `org` twice.',
    );
    expect(build({ result: 'data', owner: 'data' })).toThrow(/got `data` twice/);
  });

  it('refuses a sort key without a name, with a blank name, or with a value that is neither text nor a function', () => {
    expect(build({}, { value: 'X' })).toThrow(
      "Expected `sortKey.name` to be the table's sort key attribute, got undefined.",
    );
    expect(build({}, { name: ' ', value: 'X' })).toThrow(
      'Expected `sortKey.name` to be the table\'s sort key attribute, got " ".',
    );
    expect(build({}, null)).toThrow(/Expected `sortKey.name` to be the table's sort key attribute/);
    expect(build({}, { name: 'SK', value: 3 })).toThrow(
      "Expected `sortKey.value` to be a string or a function of the record's pk, got number.",
    );
    expect(() => build({}, { name: 'SK', value: (pk: string) => pk })()).not.toThrow();
  });

  it('refuses a sort key on an attribute a field already uses', () => {
    expect(build({ pk: 'PK' }, { name: 'PK', value: 'X' })).toThrow(/got `PK` twice/);
  });
});

describe('the key of a record', () => {
  it('is the partition key alone on the default schema, and carries the sort key a layout names', () => {
    expect(keyOf('acme#s#d')).toEqual({ pk: { S: 'acme#s#d' } });
    expect(keyOf('acme#s#d', RENAMED)).toEqual({ PK: { S: 'acme#s#d' }, SK: { S: 'IDEMPOTENCY' } });
    const derived = itemLayout({}, { name: 'SK', value: (pk) => `IDEM#${pk.split('#')[1]}` });
    expect(keyOf('acme#charge#d', derived)).toEqual({ pk: { S: 'acme#charge#d' }, SK: { S: 'IDEM#charge' } });
  });
});

describe('expressions', () => {
  it("keep idemkit's own names, placeholders for reserved words, and placeholders for every renamed field", () => {
    const template = '{pk} {status} {result} {owner} {leaseUntil} {expiresAt}';
    expect(compile(itemLayout(), template)).toEqual({
      expressions: ['pk #status #result #owner leaseUntil expiresAt'],
      names: { '#status': 'status', '#result': 'result', '#owner': 'owner' },
    });
    expect(compile(RENAMED, template, '{leaseToken} = :t')).toEqual({
      expressions: ['#pk #status #result #owner #leaseUntil #expiresAt', '#leaseToken = :t'],
      names: {
        '#pk': 'PK',
        '#status': 'state',
        '#result': 'data',
        '#owner': 'owner',
        '#leaseUntil': 'lockedUntil',
        '#expiresAt': 'ttl',
        '#leaseToken': 'lockToken',
      },
    });
  });
});

describe('a record as an item', () => {
  it('writes every optional field under its attribute, with its type, and reads the record back equal', () => {
    const item = toItem(FULL, RENAMED);
    expect(item).toEqual({
      PK: { S: FULL.pk },
      SK: { S: 'IDEMPOTENCY' },
      org: { S: 'acme' },
      scope: { S: 'contract' },
      state: { S: 'IN_PROGRESS' },
      ttl: { N: String(FULL.expiresAt) },
      fingerprint: { S: 'fp-1' },
      createdAt: { N: String(FULL.createdAt) },
      attempt: { N: '1' },
      v: { N: String(RECORD_VERSION) },
      lockedUntil: { N: String(FULL.leaseUntil) },
      lockToken: { S: FULL.leaseToken },
      owner: { S: 'message-7' },
      rawDigest: { S: 'raw-digest' },
      data: { S: '{"ok":1}' },
      resultDropped: { S: 'too_large' },
      resultRef: { S: JSON.stringify(FULL.resultRef) },
      completedAt: { N: '1800000000500' },
    });
    expect(fromItem(item, RENAMED)).toStrictEqual(FULL);
  });

  it('keeps a compressed result as B and reads it back as bytes', () => {
    const bytes = new Uint8Array([9, 8, 7]);
    const record = claimRecord({ status: RecordStatus.Completed, result: bytes });
    const item = toItem(record);
    expect(item.result).toEqual({ B: bytes });
    expect(fromItem(item)).toStrictEqual(record);
  });
});

/** The item of a live claim, with `damage` applied. */
function damaged(damage: (item: Item) => void): Item {
  const item = toItem(claimRecord({ owner: 'o' }));
  damage(item);
  return item;
}

function problemsOf(item: Item, layout = itemLayout()): readonly string[] {
  try {
    fromItem(item, layout);
  } catch (error) {
    if (error instanceof IdempotencyCorruptRecordError) return error.attributes;
    throw error;
  }
  throw new Error('expected the item to be damaged');
}

describe('a damaged item', () => {
  it('names a number attribute that does not parse, or that is stored as text', () => {
    expect(problemsOf(damaged((item) => Object.assign(item, { attempt: { N: 'x' } })))).toEqual(['attempt']);
    expect(problemsOf(damaged((item) => Object.assign(item, { createdAt: { S: '1' } })))).toEqual([
      'createdAt',
    ]);
  });

  it('names an optional attribute of the wrong type, which is not the same as an absent one', () => {
    expect(problemsOf(damaged((item) => Object.assign(item, { completedAt: { S: 'later' } })))).toEqual([
      'completedAt',
    ]);
    expect(problemsOf(damaged((item) => Object.assign(item, { owner: { N: '1' } })))).toEqual(['owner']);
    expect(problemsOf(damaged((item) => Object.assign(item, { result: { N: '1' } })))).toEqual(['result']);
  });

  it("names the table's own attribute, also for a result of the wrong type", () => {
    const item = toItem(claimRecord(), RENAMED);
    Object.assign(item, { data: { BOOL: true }, ttl: { S: 'soon' } });
    expect([...problemsOf(item, RENAMED)].sort()).toEqual(['data', 'ttl']);
  });
});

describe('attribute names given to the CLI as JSON', () => {
  it('reads names and a constant sort key into the layout the store would use', () => {
    const layout = layoutFromJson(
      '{"pk":"PK","expiresAt":"ttl","sortKey":{"name":"SK","value":"IDEMPOTENCY"}}',
    );
    expect(layout).toEqual(itemLayout({ pk: 'PK', expiresAt: 'ttl' }, { name: 'SK', value: 'IDEMPOTENCY' }));
    expect(layoutFromJson('{}')).toEqual(itemLayout());
  });

  it('refuses text that is not a JSON object, quoting its start', () => {
    expect(() => layoutFromJson(`{pk: ${'x'.repeat(100)}`)).toThrow(
      `Expected the attribute names as a JSON object, got ${JSON.stringify(`{pk: ${'x'.repeat(75)}`)}.`,
    );
    expect(() => layoutFromJson('null')).toThrow('Expected the attribute names as a JSON object, got null.');
    expect(() => layoutFromJson('["pk"]')).toThrow(
      'Expected the attribute names as a JSON object, got ["pk"].',
    );
    expect(() => layoutFromJson('7')).toThrow('Expected the attribute names as a JSON object, got 7.');
  });

  it('refuses a sort key whose value is not a constant, since a derived one needs code', () => {
    expect(() => layoutFromJson('{"sortKey":{"name":"SK"}}')).toThrow(
      'Expected `sortKey.value` to be the constant every record carries (a derived sort key needs code), got undefined.',
    );
    expect(() => layoutFromJson('{"sortKey":null}')).toThrow(/Expected `sortKey.value` to be the constant/);
    expect(() => layoutFromJson('{"colour":"x"}')).toThrow(/got `colour`\./);
  });
});
