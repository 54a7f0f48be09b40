/**
 * The public generics, pinned (as Middy's packages pin theirs in `index.tst.ts`): a change that widens a
 * handler to `unknown` or loses an argument type fails here, at type-check time.
 */
import type { MiddlewareObj } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expectTypeOf, it } from 'vitest';
import { httpIdempotency, httpLeaseSignal } from '../../src/http/index.js';
import { leaseSignal, MemoryStore, makeIdempotent } from '../../src/index.js';
import { sqsJobs } from '../../src/sqs/index.js';

const store = new MemoryStore();

interface Order {
  readonly orgId: string;
  readonly orderId: string;
}

describe('public types', () => {
  it("makeIdempotent keeps the wrapped function's arguments and resolves its result", () => {
    const wrapped = makeIdempotent(async (_order: Order, quantity: number) => ({ total: quantity }), {
      store,
      scope: 'create-order',
      org: (order) => {
        expectTypeOf(order).toEqualTypeOf<Order>();
        return order.orgId;
      },
      key: (order, quantity) => {
        expectTypeOf(quantity).toEqualTypeOf<number>();
        return `${order.orderId}-${quantity}`;
      },
    });
    expectTypeOf(wrapped).parameters.toEqualTypeOf<[Order, number]>();
    expectTypeOf(wrapped).returns.toEqualTypeOf<Promise<{ total: number }>>();
    expectTypeOf(leaseSignal).returns.toEqualTypeOf<AbortSignal | undefined>();
  });

  it('httpIdempotency types org and fingerprint by the event and returns a middleware of that event', () => {
    interface Event {
      readonly requestContext: { readonly authorizer: { readonly orgId: string } };
    }
    const middleware = httpIdempotency<Event, { statusCode: number }>({
      store,
      org: (event, context) => {
        expectTypeOf(event).toEqualTypeOf<Event>();
        expectTypeOf(context).toEqualTypeOf<Context>();
        return event.requestContext.authorizer.orgId;
      },
    });
    expectTypeOf(middleware).toEqualTypeOf<MiddlewareObj<Event, { statusCode: number }>>();
    expectTypeOf(httpLeaseSignal).parameters.toEqualTypeOf<[Context]>();
  });

  it('sqsJobs gives processRecord the record, the context and the lease signal, and types onFirstCompletion', () => {
    const handler = sqsJobs({
      store,
      scope: 'send-invoice',
      org: 'acme',
      jobKey: (record) => {
        expectTypeOf(record).toEqualTypeOf<SQSRecord>();
        return record.messageId;
      },
      processRecord: async (record, context, lease) => {
        expectTypeOf(context).toEqualTypeOf<Context>();
        expectTypeOf(lease.signal).toEqualTypeOf<AbortSignal>();
        return { sent: record.body.length };
      },
      onFirstCompletion: (_record, result) => {
        expectTypeOf(result).toEqualTypeOf<{ sent: number }>();
      },
    });
    expectTypeOf(handler).toEqualTypeOf<(event: SQSEvent, context: Context) => Promise<SQSBatchResponse>>();
  });
});
