import { readFileSync } from 'node:fs';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { STAGES } from '../../infra/stages.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';

// The reference handlers as deployed with prod settings (enforce), on DynamoDB Local; SQS is mocked
// because only the message the orders handler sends matters here.
const sqs = mockClient(SQSClient);
const { client } = localClient();
let tableName: string;
let orders: typeof import('../../infra/handlers/orders-api.js').handler;
let worker: typeof import('../../infra/handlers/invoice-worker.js').handler;

const context = {
  functionName: 'reference',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8'));

function orderEvent(key: string, body: unknown): APIGatewayProxyEventV2WithJWTAuthorizer {
  const event = fixture('apigw-http-api-v2.json') as APIGatewayProxyEventV2WithJWTAuthorizer;
  return { ...event, headers: { ...event.headers, 'idempotency-key': key }, body: JSON.stringify(body) };
}

function jobRecord(messageId: string, body: string): SQSRecord {
  const [first] = (fixture('sqs-standard-batch.json') as SQSEvent).Records;
  return { ...(first as SQSRecord), messageId, body };
}

beforeAll(async () => {
  tableName = await createIdempotencyTable(client, 'reference');
  Object.assign(process.env, STAGES.prod.environment, {
    IDEMPOTENCY_TABLE: tableName,
    INVOICE_JOBS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/idemkit-prod-invoice-jobs',
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  ({ handler: orders } = await import('../../infra/handlers/orders-api.js'));
  ({ handler: worker } = await import('../../infra/handlers/invoice-worker.js'));
});

describe('infra/handlers/orders-api.ts', () => {
  it('creates an order once and replays it on a retry with the same key', async () => {
    const items = { items: [{ sku: 'tea', quantity: 2 }] };
    const first = await orders(orderEvent('order-key-1', items), context);
    const retry = await orders(orderEvent('order-key-1', items), context);

    expect(first.statusCode).toBe(201);
    expect(retry.statusCode).toBe(201);
    expect(retry.body).toBe(first.body);
    expect(retry.headers?.['Idempotent-Replayed'] ?? retry.headers?.['idempotent-replayed']).toBe('true');
    const sends = sqs.commandCalls(SendMessageCommand);
    expect(sends).toHaveLength(1);
    expect(sends[0]?.args[0].input.MessageAttributes?.orgId?.StringValue).toBe('acme');
    expect(JSON.parse(sends[0]?.args[0].input.MessageBody ?? '{}').invoiceId).toBe(
      JSON.parse(first.body ?? '{}').invoiceId,
    );
  });

  it('answers 422 when the same key comes back with another order', async () => {
    await orders(orderEvent('order-key-2', { items: [{ sku: 'tea', quantity: 1 }] }), context);
    const reused = await orders(orderEvent('order-key-2', { items: [{ sku: 'tea', quantity: 9 }] }), context);
    expect(reused.statusCode).toBe(422);
  });

  it('keys records by the org of the token', async () => {
    const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName }));
    const pks = Items.map((item) => item.pk?.S ?? '');
    expect(pks.filter((pk) => pk.startsWith('acme#create-order#'))).toHaveLength(2);
  });
});

describe('infra/handlers/invoice-worker.ts', () => {
  it('runs each invoice once and fails only the record it cannot read', async () => {
    const body = JSON.stringify({ invoiceId: 'inv-1', orderId: 'o-1' });
    const result = await worker(
      {
        Records: [
          jobRecord('m-1', body),
          jobRecord('m-2', body), // the producer retried: same invoice, new message
          jobRecord('m-3', 'not json'),
        ],
      },
      context,
    );
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm-3' }]);

    const redelivered = await worker({ Records: [jobRecord('m-4', body)] }, context);
    expect(redelivered.batchItemFailures).toEqual([]);

    const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName }));
    const jobs = Items.filter((item) => item.pk?.S?.startsWith('acme#send-invoice-email#'));
    expect(jobs.map((item) => item.status?.S)).toEqual(['COMPLETED']);
  });

  it('runs the sample batch in events/ (jobs without an orderId) and acknowledges every record', async () => {
    const result = await worker(fixture('sqs-standard-batch.json') as SQSEvent, context);
    expect(result.batchItemFailures).toEqual([]);
  });

  it('marks an invoice the provider rejects FAILED, so its redeliveries fail without running', async () => {
    const body = JSON.stringify({ invoiceId: 'bad-7' });
    expect((await worker({ Records: [jobRecord('m-10', body)] }, context)).batchItemFailures).toEqual([
      { itemIdentifier: 'm-10' },
    ]);
    expect((await worker({ Records: [jobRecord('m-11', body)] }, context)).batchItemFailures).toEqual([
      { itemIdentifier: 'm-11' },
    ]);
    const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName }));
    const failed = Items.filter((item) => item.status?.S === 'FAILED');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.attempt?.N).toBe('1');
  });
});
