/**
 * `POST /orders`, the reference HTTP handler: an order is created once per `Idempotency-Key`, however often
 * the client retries. Copy it and replace `createOrder`'s body with your own work.
 *
 * Deployed by `infra/stacks/orders-stack.ts` behind an HTTP API with a JWT authorizer. Environment:
 * `IDEMPOTENCY_TABLE`, `INVOICE_JOBS_QUEUE_URL` and the `IDEMPOTENCY_*` rollout variables.
 *
 * @example
 * curl -X POST "$ORDERS_ENDPOINT" -H "Authorization: Bearer $TOKEN" \
 *   -H 'Idempotency-Key: 0b6f2d9e-order-1' -d '{"items":[{"sku":"tea","quantity":2}]}'
 */
import { createHash, randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { httpIdempotency, readIdempotencyKey } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';

type OrderEvent = APIGatewayProxyEventV2WithJWTAuthorizer;

interface OrderLine {
  readonly sku: string;
  readonly quantity: number;
}

// Built once per cold start and reused by every invocation: one client, one connection pool, and the
// idempotency settings validated once (a bad `IDEMPOTENCY_*` value fails the cold start, not a request).
const tableName = requiredEnv('IDEMPOTENCY_TABLE');
const queueUrl = requiredEnv('INVOICE_JOBS_QUEUE_URL');
const store = new DynamoDBStore({ tableName, client: new DynamoDBClient({}) });
const sqs = new SQSClient({});

/** The tenant comes from the verified token, never from the body or a header the client controls. */
function orgOf(event: OrderEvent): string | undefined {
  const claim = event.requestContext.authorizer?.jwt?.claims?.org_id;
  return typeof claim === 'string' ? claim : undefined;
}

async function createOrder(event: OrderEvent): Promise<APIGatewayProxyStructuredResultV2> {
  const lines = parseLines(event.body, event.isBase64Encoded);
  if (lines === undefined) {
    return json(400, {
      type: 'https://idemkit.dev/problems/invalid-order',
      title: 'Invalid order',
      status: 400,
      detail: 'Send a JSON body {"items":[{"sku":"...","quantity":1}]} with 1 to 50 items.',
    });
  }
  // The order id is derived from (org, key), so a retry after a crash between the send below and the
  // record's completion enqueues the same invoice job again, which the worker then runs only once.
  const orderId = stableOrderId(orgOf(event) ?? '', event.headers['idempotency-key']);
  const invoiceId = `inv-${orderId}`;

  // A real service writes the order to its own table here.
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify({ invoiceId, orderId, items: lines }),
      MessageAttributes: { orgId: { DataType: 'String', StringValue: orgOf(event) ?? '' } },
    }),
  );
  return json(201, { orderId, invoiceId, items: lines });
}

export const handler = middy(createOrder).use(
  httpIdempotency<OrderEvent>({ store, scope: 'create-order', org: orgOf }),
);

function stableOrderId(org: string, header: string | undefined): string {
  const reading = readIdempotencyKey(header);
  if (reading.kind !== 'valid') return randomUUID();
  return createHash('sha256').update(`${org}\n${reading.key}`).digest('base64url').slice(0, 22);
}

function parseLines(body: string | undefined, base64: boolean): OrderLine[] | undefined {
  if (body === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(base64 ? Buffer.from(body, 'base64').toString('utf8') : body);
  } catch {
    return undefined;
  }
  const items = (parsed as { items?: unknown } | null)?.items;
  if (!Array.isArray(items) || items.length === 0 || items.length > 50) return undefined;
  const lines: OrderLine[] = [];
  for (const item of items as unknown[]) {
    const { sku, quantity } = (item ?? {}) as { sku?: unknown; quantity?: unknown };
    if (typeof sku !== 'string' || sku.length === 0 || sku.length > 64) return undefined;
    if (!Number.isInteger(quantity) || (quantity as number) < 1 || (quantity as number) > 1000)
      return undefined;
    lines.push({ sku, quantity: quantity as number });
  }
  return lines;
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  const contentType = statusCode >= 400 ? 'application/problem+json' : 'application/json';
  return { statusCode, headers: { 'content-type': contentType }, body: JSON.stringify(body) };
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `Expected the environment variable \`${name}\` to be set, got nothing; the stack sets it.`,
    );
  }
  return value;
}
