import { readFileSync } from 'node:fs';
import type { Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { compileFilter, compileKeyReader, messageView, QUERY_EXAMPLES } from '../../src/cli/query.js';

const message: Message = {
  MessageId: 'm-1',
  Body: JSON.stringify({
    type: 'order.created',
    amount: 42,
    items: [{ sku: 'A-1' }],
    'odd key': true,
    note: null,
  }),
  MessageAttributes: {
    tenant: { DataType: 'String', StringValue: 'acme' },
    retries: { DataType: 'Number', StringValue: '3' },
    blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2]) },
  },
  Attributes: { ApproximateReceiveCount: '5', MessageGroupId: 'g-1' },
};

describe('the view --query reads: id, body parsed when JSON, attr, sys', () => {
  it('types Number attributes and counts as numbers, and keeps text and binary as text', () => {
    expect(messageView(message)).toEqual({
      id: 'm-1',
      body: { type: 'order.created', amount: 42, items: [{ sku: 'A-1' }], 'odd key': true, note: null },
      attr: { tenant: 'acme', retries: 3, blob: 'AQI=' },
      sys: { ApproximateReceiveCount: 5, MessageGroupId: 'g-1' },
    });
  });

  it('holds a body that is not JSON as its text', () => {
    expect(messageView({ Body: 'not json' }).body).toBe('not json');
  });
});

/** Expressions and what they give for `message`: the README's examples are among them. */
const CASES: [string, boolean][] = [
  ["body.type == 'order.created'", true],
  ["body.type == 'order.updated'", false],
  ["body.type == 'refund' && (attr.tenant == 'acme' || sys.ApproximateReceiveCount >= `5`)", false],
  ["body.type == 'order.created' && (attr.tenant == 'acme' || sys.ApproximateReceiveCount >= `5`)", true],
  ['body.amount >= `42` && body.amount < `43`', true],
  ["starts_with(body.items[0].sku, 'A-')", true],
  ["body.items[?sku == 'A-1'] | length(@) == `1`", true],
  ['body."odd key" == `true`', true],
  ['body.note == `null`', true],
  ["contains(to_string(body), 'order.created')", true],
  ["attr.tenant == 'acme' && attr.retries > `2`", true],
  ["sys.ApproximateReceiveCount >= `5` && sys.MessageGroupId == 'g-1'", true],
  ["id == 'm-1'", true],
  ['attr.missing', false],
  ["attr.missing != 'x'", true],
  ["!(attr.tenant == 'acme') || body.amount == `1`", false],
  // JMESPath does not coerce: a number equals a number, text equals text.
  ["body.amount == '42'", false],
  ["to_string(body.amount) == '42'", true],
];

describe('--query selects messages with JMESPath over the view', () => {
  it.each(CASES)('%s → %s', (source, expected) => {
    expect(compileFilter(source)(message)).toBe(expected);
  });

  it('reads a body that is not JSON as text, with no fields', () => {
    const plain: Message = { Body: 'not json' };
    expect(compileFilter('body.type')(plain)).toBe(false);
    expect(compileFilter("starts_with(body, 'not')")(plain)).toBe(true);
  });

  it.each([
    ['body.type ==', /got the end of the expression at column 13 of "body.type =="/],
    ["body.type = 'x'", /got the unknown token "=" \(compare with `==`\) at column 11/],
    ['(body.a == `1`', /got the end of the expression at column 15/],
    ['body.type == order', /got the unknown field "order" .*quote text as 'text'/],
    ['nope(body)', /Unknown function: nope\(\)/],
    ['', /got the end of the expression at column 1 of ""/],
  ])('rejects %s with one line naming the problem and where it is', (source, pattern) => {
    expect(() => compileFilter(source)).toThrow(pattern);
  });

  it('names the flag and the message when a function meets the wrong type at run time', () => {
    const matches = compileFilter('length(body.amount) > `1`');
    expect(() => matches(message)).toThrow(/^Expected `--query` to be a JMESPath expression.*length\(\)/);
  });
});

describe('the documented examples are the tested ones', () => {
  it.each([
    [QUERY_EXAMPLES[0], true],
    [QUERY_EXAMPLES[1], true],
    [QUERY_EXAMPLES[2], false],
  ])('--help shows %s, which gives %s for the sample message', (source, expected) => {
    expect(compileFilter(source)(message)).toBe(expected);
  });

  it('passes an idempotency-key message of no test tenant with the third help example', () => {
    const keyed: Message = {
      Body: '{"type":"order.created"}',
      MessageAttributes: { 'idempotency-key': { DataType: 'String', StringValue: 'k-1' } },
    };
    expect(compileFilter(QUERY_EXAMPLES[2])(keyed)).toBe(true);
  });

  it('every --query example in the README is one of the cases above, with the same result', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /`--query` is \[JMESPath\][\s\S]*?```text\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const examples = block.trim().split('\n');
    expect(examples.length).toBeGreaterThanOrEqual(4);
    const tested = new Map(CASES);
    for (const example of examples) {
      expect(tested.has(example), `${example} is in CASES`).toBe(true);
      expect(compileFilter(example)(message)).toBe(tested.get(example));
    }
  });
});

describe('--key-from finds the job key with the same language', () => {
  it('reads text, turns a number into text, and finds nothing in anything else', () => {
    expect(compileKeyReader('attr.tenant')(message)).toBe('acme');
    expect(compileKeyReader('body.amount')(message)).toBe('42');
    expect(compileKeyReader('body.items')(message)).toBeUndefined();
  });

  it('looks in the usual places by default, attributes before the body', () => {
    const both: Message = {
      Body: JSON.stringify({ jobKey: 'from-body' }),
      MessageAttributes: { 'idempotency-key': { DataType: 'String', StringValue: 'from-attr' } },
    };
    expect(compileKeyReader()(both)).toBe('from-attr');
    expect(compileKeyReader()({ Body: JSON.stringify({ jobId: 'j-9' }) })).toBe('j-9');
    expect(compileKeyReader()({ Body: 'plain' })).toBeUndefined();
  });
});
