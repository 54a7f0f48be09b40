// The same API handler with Powertools idempotency, as its documentation shows it with Middy (section 4).
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
import middy from '@middy/core';

const createOrder = async (event: { body?: string | null }) => ({
  statusCode: 201,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ orderId: 'order-1', order: JSON.parse(event.body ?? '{}') }),
});

export const handler = middy(createOrder).use(
  makeHandlerIdempotent({
    persistenceStore: new DynamoDBPersistenceLayer({
      tableName: process.env.IDEMPOTENCY_TABLE ?? 'idempotency',
    }),
    config: new IdempotencyConfig({
      eventKeyJmesPath: '[requestContext.authorizer.jwt.claims.org_id, headers."idempotency-key"]',
      payloadValidationJmesPath: '[requestContext.http.method, rawPath, rawQueryString, body]',
      expiresAfterSeconds: 86_400,
    }),
  }),
);
