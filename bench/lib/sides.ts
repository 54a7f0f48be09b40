import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { silentTelemetry } from '../../src/core/telemetry.js';
import { httpIdempotency } from '../../src/http/index.js';
import { sqsJobs } from '../../src/sqs/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { httpEvent, lambdaContext } from '../../test/http/harness.js';
import { LOCAL_CLIENT_CONFIG } from '../../test/support/dynamodb-local.js';

/** The two sides, always in this order in results: A = idemkit, B = Powertools. */
export const SIDES = ['idemkit', 'powertools'] as const;
export type Side = (typeof SIDES)[number];

/** Every client of both sides is built from this one configuration. */
export function benchClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint, maxAttempts: 3 });
}

/** Options that differ per scenario, applied the same way to both sides where both have the knob. */
export interface HttpSideOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** idemkit `cache: true`; Powertools `useLocalCache: true` (both default to 1000 entries). */
  readonly cache?: boolean;
  /** idemkit only: Powertools never waits for a running duplicate. @default 0 */
  readonly waitBudgetMs?: number;
  /** idemkit only: drop logs and metrics (Powertools idempotency emits none). @default false */
  readonly silent?: boolean;
  readonly delayMs?: number;
  readonly fail?: boolean;
}

export type Invoke = (event: unknown, context: Context) => Promise<unknown>;

/** The one handler both sides wrap: creates an order and echoes its lines (a body as large as the request's). */
export function createOrderHandler(options: { readonly delayMs?: number; readonly fail?: boolean } = {}) {
  let orders = 0;
  return async (event: { body?: string | null }) => {
    const order = JSON.parse(event.body ?? '{}') as { customerId?: string; lines?: unknown[] };
    if (options.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    if (options.fail === true) throw new Error('payment service unavailable');
    orders++;
    return {
      statusCode: 201,
      headers: { 'content-type': 'application/json', location: `/orders/${orders}` },
      body: JSON.stringify({ orderId: `order-${orders}`, customerId: order.customerId, lines: order.lines }),
    };
  };
}

/** Powertools' recommended table: partition key `id` (String), TTL on `expiration`. */
export const POWERTOOLS_TABLE = { key: 'id', ttl: 'expiration' } as const;
/** idemkit's table: partition key `pk` (String), TTL on `expiresAt` (docs/protocol.md section 2). */
export const IDEMKIT_TABLE = { key: 'pk', ttl: 'expiresAt' } as const;

// The same request meaning on both sides: the tenant and the Idempotency-Key pick the record; method, path,
// query and body are checked on a retry (idemkit's fingerprint; Powertools' payload validation).
const POWERTOOLS_HTTP_KEY = '[requestContext.authorizer.jwt.claims.org_id, headers."idempotency-key"]';
const POWERTOOLS_HTTP_VALIDATION = '[requestContext.http.method, rawPath, rawQueryString, body]';
const RECORD_LIFETIME_S = 86_400;

export function httpHandler(side: Side, options: HttpSideOptions): Invoke {
  const inner = createOrderHandler(options);
  if (side === 'idemkit') {
    return middy(inner).use(
      httpIdempotency<{ requestContext: { authorizer: { jwt: { claims: { org_id: string } } } } }>({
        store: new DynamoDBStore({ tableName: options.tableName, client: options.client }),
        scope: 'create-order',
        org: (event) => event.requestContext.authorizer.jwt.claims.org_id,
        cache: options.cache ?? false,
        waitBudgetMs: options.waitBudgetMs ?? 0,
        expiresAfterSeconds: RECORD_LIFETIME_S,
        ...(options.silent === true ? { telemetry: silentTelemetry } : {}),
      }),
    ) as unknown as Invoke;
  }
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: options.tableName,
    awsSdkV3Client: options.client,
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: POWERTOOLS_HTTP_KEY,
    payloadValidationJmesPath: POWERTOOLS_HTTP_VALIDATION,
    expiresAfterSeconds: RECORD_LIFETIME_S,
    useLocalCache: options.cache ?? false,
  });
  return middy(inner).use(makeHandlerIdempotent({ persistenceStore, config })) as unknown as Invoke;
}

/** An API Gateway HTTP API (v2) event from `events/`, with the key and a JSON body of about `bytes` bytes. */
export function orderEvent(key: string, body: string): unknown {
  return httpEvent('http', { key, body, org: 'acme' });
}

export { lambdaContext };

/**
 * A JSON order of about `bytes` bytes with varied content (so compression sees realistic text, not one
 * repeated character), the same for both sides.
 */
export function orderBody(bytes: number, seed = 1): string {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const words = ['blue', 'widget', 'large', 'cotton', 'steel', 'gift', 'wrap', 'express', 'eco', 'pack'];
  const lines: unknown[] = [];
  const order = { customerId: `cus-${Math.floor(random() * 100_000)}`, lines };
  while (JSON.stringify(order).length < bytes) {
    lines.push({
      sku: `SKU-${Math.floor(random() * 1_000_000)
        .toString(36)
        .toUpperCase()}`,
      name: `${words[Math.floor(random() * 10)]} ${words[Math.floor(random() * 10)]}`,
      quantity: 1 + Math.floor(random() * 9),
      unitCents: Math.floor(random() * 100_000),
    });
  }
  return JSON.stringify(order);
}

// SQS ---------------------------------------------------------------------------------------------------

const SQS_TEMPLATE = (
  JSON.parse(
    readFileSync(new URL('../../events/sqs-standard-batch.json', import.meta.url), 'utf8'),
  ) as SQSEvent
).Records[0] as SQSRecord;

/** An SQS record of the invoice-email queue from `events/`, with a fresh messageId and this job's body. */
export function invoiceRecord(invoiceId: string): SQSRecord {
  return {
    ...SQS_TEMPLATE,
    messageId: randomUUID(),
    body: JSON.stringify({ invoiceId, customerId: 'cus-17', amountCents: 12_900, currency: 'EUR' }),
  };
}

export type InvokeBatch = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** The same job both sides run once per invoice. */
async function sendInvoiceEmail(record: SQSRecord): Promise<{ sent: string }> {
  const { invoiceId } = JSON.parse(record.body) as { invoiceId: string };
  return { sent: invoiceId };
}

export function sqsHandler(
  side: Side,
  options: { readonly client: DynamoDBClient; readonly tableName: string },
) {
  if (side === 'idemkit') {
    return middy(
      sqsJobs({
        store: new DynamoDBStore({ tableName: options.tableName, client: options.client }),
        scope: 'send-invoice-email',
        org: (record) => record.messageAttributes.orgId?.stringValue,
        jobKey: (record) => (JSON.parse(record.body) as { invoiceId: string }).invoiceId,
        processRecord: sendInvoiceEmail,
        expiresAfterSeconds: RECORD_LIFETIME_S,
      }),
    ) as unknown as InvokeBatch;
  }
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: options.tableName,
    awsSdkV3Client: options.client,
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: '[messageAttributes.orgId.stringValue, powertools_json(body).invoiceId]',
    payloadValidationJmesPath: 'powertools_json(body)',
    expiresAfterSeconds: RECORD_LIFETIME_S,
  });
  const processor = new BatchProcessor(EventType.SQS);
  const processIdempotently = makeIdempotent(sendInvoiceEmail, { persistenceStore, config });
  return middy(async (event: SQSEvent, context: Context) => {
    config.registerLambdaContext(context);
    return processPartialResponse(event, processIdempotently, processor, { context });
  }) as unknown as InvokeBatch;
}
