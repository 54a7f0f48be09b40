import type { Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { parseFilter } from '../../src/cli/filter.js';

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
  },
  Attributes: { ApproximateReceiveCount: '5', MessageGroupId: 'g-1' },
};

describe('--filter selects messages by body fields, attributes and system attributes', () => {
  it.each([
    ['body.type = "order.created"', true],
    ["body.type = 'order.updated'", false],
    ['body.amount >= 42 and body.amount < 43', true],
    ['body.items[0].sku startswith "A-"', true],
    ['body["odd key"] = true', true],
    ['body.note = null', true],
    ['body contains "order.created"', true],
    ['attr.tenant = "acme" and attr.retries > 2', true],
    ['sys.ApproximateReceiveCount >= 5 and sys.MessageGroupId = "g-1"', true],
    ['id = "m-1"', true],
    ['attr.missing', false],
    ['attr.missing != "x"', true],
    ['not attr.tenant = "acme" or (body.amount = 1)', false],
    ['body.amount = "42"', true],
  ])('%s → %s', (source, expected) => {
    expect(parseFilter(source)(message)).toBe(expected);
  });

  it('reads a body that is not JSON as absent fields, and as text for `body`', () => {
    const plain: Message = { Body: 'not json' };
    expect(parseFilter('body.type')(plain)).toBe(false);
    expect(parseFilter('body startswith "not"')(plain)).toBe(true);
  });

  it.each([
    ['body.type =', /the end where a value/],
    ['body.type = order', /"order" where a value belongs \(quote text: "order"\)/],
    ['(body.a = 1', /the end where `\)` belongs/],
    ['process.exit(1)', /the unknown field "process"/],
    ['body.a = "x" ;', /the character ";"/],
  ])('rejects %s with one line naming the problem', (source, pattern) => {
    expect(() => parseFilter(source)).toThrow(pattern);
  });
});
