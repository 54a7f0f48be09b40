import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClient } from '../support/dynamodb.js';
import { createTableWithoutTtl } from './table.js';

const { client } = localClient();
let tableName: string;
let handler: typeof import('../../infra/handlers/sweep.js').handler;
const nowS = Math.floor(Date.now() / 1000);

beforeAll(async () => {
  tableName = await createTableWithoutTtl(client, 'sweep-lambda');
  for (const [pk, expiresAt] of [
    ['acme#charge#old', nowS - 60],
    ['acme#charge#new', nowS + 3600],
  ] as const) {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: pk }, expiresAt: { N: String(expiresAt) } },
      }),
    );
  }
  Object.assign(process.env, {
    IDEMKIT_SWEEP_TABLE: tableName,
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  ({ handler } = await import('../../infra/handlers/sweep.js'));
});
afterAll(() => client.destroy());

describe('infra/handlers/sweep.ts, the scheduled sweep', () => {
  it('runs the shared sweep on its table and returns the summary', async () => {
    const context = { getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
    const summary = await handler({}, context);
    expect(summary).toMatchObject({ scanned: 2, expired: 1, deleted: 1, complete: true });
    const left = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
    expect(left.Items?.map((item) => item.pk?.S)).toEqual(['acme#charge#new']);
  });

  it('leaves time to report: with 10 s or less left it starts no page', async () => {
    const context = { getRemainingTimeInMillis: () => 9_000 } as unknown as Context;
    expect(await handler({}, context)).toMatchObject({ pages: 0, complete: false });
  });
});
