// The smallest API handler a user writes with idemkit: bundled and imported cold by the bench (section 4).
import middy from '@middy/core';
import { httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';

const createOrder = async (event: { body?: string | null }) => ({
  statusCode: 201,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ orderId: 'order-1', order: JSON.parse(event.body ?? '{}') }),
});

export const handler = middy(createOrder).use(
  httpIdempotency<{ requestContext: { authorizer: { jwt: { claims: { org_id: string } } } } }>({
    store: new DynamoDBStore({ tableName: process.env.IDEMPOTENCY_TABLE ?? 'idempotency' }),
    scope: 'create-order',
    org: (event) => event.requestContext.authorizer.jwt.claims.org_id,
  }),
);
