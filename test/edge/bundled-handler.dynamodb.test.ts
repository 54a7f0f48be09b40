import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import middy from '@middy/core';
import type { CloudFrontRequestEvent, CloudFrontRequestResult, CloudFrontResultResponse } from 'aws-lambda';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ordersIdentity } from '../../infra/handlers/orders-identity.js';
import { httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { lambdaContext, newKey } from '../http/harness.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { cloudFrontEvent, originEvent } from './harness.js';

// The reference edge handler exactly as IdempotencyEdgeFunction ships it: bundled by esbuild with the table and
// Regions compiled in (Lambda@Edge has no environment variables), loaded from the bundle, and run against
// DynamoDB Local holding a record the origin wrote.
const { client } = localClient();
let tableName: string;
let edge: (event: CloudFrontRequestEvent) => Promise<CloudFrontRequestResult>;

beforeAll(async () => {
  tableName = await createIdempotencyTable(client, 'edge-bundle');
  const outfile = join(mkdtempSync(join(tmpdir(), 'idemkit-edge-bundle-')), 'index.js');
  await build({
    entryPoints: [new URL('../../infra/handlers/orders-edge.ts', import.meta.url).pathname],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    define: {
      IDEMKIT_EDGE_TABLE: JSON.stringify(tableName),
      IDEMKIT_EDGE_REGIONS: JSON.stringify(['eu-west-1', 'us-east-1']),
    },
    logLevel: 'silent',
  });
  // The SDK reads these, as any Lambda's would; they point it at DynamoDB Local in "us-east-1".
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  ({ handler: edge } = createRequire(import.meta.url)(outfile) as { handler: typeof edge });
});
afterAll(() => client.destroy());

describe('the bundled reference edge handler', () => {
  it('replays at the edge what the origin stored, and forwards what it has not seen', async () => {
    const store = new DynamoDBStore({ tableName, client });
    const origin = middy(async () => ({ statusCode: 201, body: '{"orderId":"o-1"}' })).use(
      httpIdempotency({ store, ...ordersIdentity.origin, environment: 'test', waitBudgetMs: 0 }),
    );
    const key = newKey();
    const request = {
      key,
      path: '/orders',
      body: { items: [{ sku: 'tea', quantity: 2 }] },
      contentType: 'application/json',
      org: 'acme',
    };
    const withOrgHeader = (event: Record<string, unknown>) => {
      (event.headers as Record<string, string>)['x-idemkit-org'] = 'acme';
      return event;
    };
    const first = (await origin(withOrgHeader(originEvent('http', request)), lambdaContext())) as {
      statusCode: number;
    };
    expect(first.statusCode).toBe(201);

    const event = cloudFrontEvent('origin-request', request);
    const cfRequest = event.Records[0]?.cf.request;
    if (cfRequest === undefined) throw new Error('the sample has no request');
    cfRequest.uri = '/orders';
    cfRequest.headers['x-idemkit-org'] = [{ key: 'X-Idemkit-Org', value: 'acme' }];
    const replay = (await edge(event)) as CloudFrontResultResponse;
    expect(replay.status).toBe('201');
    expect(replay.body).toBe('{"orderId":"o-1"}');
    expect(replay.headers?.['idempotent-replayed']?.[0]?.value).toBe('true');

    const unseen = cloudFrontEvent('origin-request', { ...request, key: newKey() });
    const forwardedRequest = unseen.Records[0]?.cf.request;
    if (forwardedRequest === undefined) throw new Error('the sample has no request');
    forwardedRequest.uri = '/orders';
    forwardedRequest.headers['x-idemkit-org'] = [{ key: 'X-Idemkit-Org', value: 'acme' }];
    expect(await edge(unseen)).toBe(forwardedRequest);
  });
});
