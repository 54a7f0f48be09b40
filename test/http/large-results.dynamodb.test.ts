import { randomBytes } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { sha256Hex } from '../../src/core/large-result.js';
import { createTelemetry } from '../../src/core/telemetry.js';
import type { LargeResultStore } from '../../src/core/types.js';
import { type HttpIdempotencyOptions, httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { S3ResultStore } from '../../src/stores/s3.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { captureLogs, type LogCapture } from '../support/log-capture.js';
import { type S3Emulator, startS3 } from '../support/s3.js';
import {
  type EventInput,
  type HttpResult,
  header,
  httpEvent,
  lambdaContext,
  newKey,
  newPayload,
  orgOf,
} from './harness.js';

// docs/protocol.md section 3, "Results that do not fit": a response past the record's limit is kept whole in S3 and
// replayed byte for byte; when the object cannot be written or read back as it was, the replay is the documented
// omitted-body one, and the handler never runs a second time.

const { client: dynamo } = localClient();
let s3: S3Emulator;
let store: DynamoDBStore;
let logs: LogCapture;

beforeAll(async () => {
  s3 = await startS3();
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(dynamo, 'large'), client: dynamo });
  logs = captureLogs();
});
afterAll(async () => {
  logs.stop();
  dynamo.destroy();
  await s3?.stop();
});

const TWO_MB = 2 * 1024 * 1024;

/** A 2 MB body that brotli cannot bring under the record's limit: base64 of random bytes, with a secret marker. */
function largeBody(): string {
  const marker = newPayload().marker as string;
  return `${marker}:${randomBytes(TWO_MB)
    .toString('base64')
    .slice(0, TWO_MB - marker.length - 1)}`;
}

type Options = Partial<HttpIdempotencyOptions<Record<string, unknown>>>;

/** A handler behind the middleware that answers `body` and counts its runs. */
function build(body: string, options: Options = {}) {
  const runs = { count: 0 };
  const handler = middy(async () => {
    runs.count++;
    return {
      statusCode: 201,
      headers: { 'content-type': 'text/plain', location: '/reports/1' },
      body,
    };
  }).use(
    httpIdempotency<Record<string, unknown>>({
      store,
      org: (event) => orgOf(event),
      environment: 'test',
      mode: 'enforce',
      waitBudgetMs: 0,
      largeResults: new S3ResultStore({ bucket: s3.bucket, client: s3.client }),
      ...options,
    }),
  );
  const invoke = (input: EventInput, context: Context = lambdaContext()) =>
    handler(httpEvent('http', input), context) as Promise<HttpResult>;
  return { runs, invoke };
}

const request = () => ({ key: newKey(), body: newPayload() });

/** The record the first request left, read straight from the table. */
async function recordOf(input: { key: string }) {
  const pk = recordKey('acme', 'POST /orders', input.key);
  const record = await store.get(pk);
  if (record === undefined) throw new Error('no record');
  return record;
}

describe('httpIdempotency with S3ResultStore on DynamoDB Local and s3rver', () => {
  it('replays a 2 MB response byte for byte from S3, with the stored status and headers, running once', async () => {
    const body = largeBody();
    const { runs, invoke } = build(body);
    const input = request();
    const first = await invoke(input);
    expect(first.body).toBe(body);
    const retry = await invoke(input);
    expect(runs.count).toBe(1);
    expect(retry.statusCode).toBe(201);
    expect(Buffer.from(retry.body ?? '').equals(Buffer.from(body))).toBe(true);
    expect(header(retry, 'location')).toBe('/reports/1');
    expect(header(retry, 'idempotent-replayed')).toBe('true');
    expect(header(retry, 'idempotent-result-omitted')).toBeUndefined();
  });

  it('keeps the fallback and a pointer in the item, and the object under the org, the scope and the key digest only', async () => {
    const body = largeBody();
    const { invoke } = build(body);
    const input = request();
    await invoke(input);
    const record = await recordOf(input);
    expect(record).toMatchObject({ status: 'COMPLETED', resultDropped: 'too_large' });
    const ref = record.resultRef;
    expect(ref?.key).toBe(`results/${record.pk}/${ref?.sha256}`);
    expect(ref?.key).not.toContain(input.key);
    const item = await dynamo.send(
      new GetItemCommand({ TableName: store.tableName, Key: { pk: { S: record.pk } } }),
    );
    expect(item.Item?.resultRef?.S).toBeDefined();
    // The item itself stays far below DynamoDB's 400 KB: the body is in S3 only.
    expect(JSON.stringify(item.Item).length).toBeLessThan(4096);
    const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: ref?.key }));
    const bytes = await object.Body?.transformToByteArray();
    expect(bytes?.byteLength).toBe(ref?.size);
    expect(sha256Hex(bytes ?? new Uint8Array())).toBe(ref?.sha256);
  });

  it('replays without the body, saying so, when the object was deleted, and does not run again', async () => {
    const { runs, invoke } = build(largeBody());
    const input = request();
    await invoke(input);
    const ref = (await recordOf(input)).resultRef;
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: ref?.key }));
    const retry = await invoke(input);
    expect(runs.count).toBe(1);
    expect(retry).toMatchObject({ statusCode: 201, body: '' });
    expect(header(retry, 'location')).toBe('/reports/1');
    expect(header(retry, 'idempotent-replayed')).toBe('true');
    expect(header(retry, 'idempotent-result-omitted')).toBe('too_large');
  });

  it('replays without the body when the object was altered (its digest no longer matches), and does not run again', async () => {
    const { runs, invoke } = build(largeBody());
    const input = request();
    await invoke(input);
    const ref = (await recordOf(input)).resultRef;
    // Same size, one byte changed: only the digest can tell.
    const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: ref?.key }));
    const altered = Buffer.from((await object.Body?.transformToByteArray()) ?? new Uint8Array());
    altered[altered.length >> 1] = (altered[altered.length >> 1] ?? 0) ^ 0xff;
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: ref?.key, Body: altered }));
    const retry = await invoke(input);
    expect(runs.count).toBe(1);
    expect(retry).toMatchObject({ statusCode: 201, body: '' });
    expect(header(retry, 'idempotent-result-omitted')).toBe('too_large');
  });

  it('completes as the fallback record when the object cannot be written, replays it without the body, and does not run again', async () => {
    const body = largeBody();
    // A bucket the emulator does not have: every PutObject fails (NoSuchBucket), as a real outage would.
    const broken = new S3ResultStore({ bucket: 'idemkit-no-such-bucket', client: s3.client });
    const { runs, invoke } = build(body, { largeResults: broken });
    const input = request();
    const first = await invoke(input);
    expect(first.body).toBe(body);
    const record = await recordOf(input);
    expect(record).toMatchObject({ status: 'COMPLETED', resultDropped: 'too_large' });
    expect(record).not.toHaveProperty('resultRef');
    const retry = await invoke(input);
    expect(runs.count).toBe(1);
    expect(retry).toMatchObject({ statusCode: 201, body: '' });
    expect(header(retry, 'idempotent-result-omitted')).toBe('too_large');
  });

  it('replays without the body when S3 cannot be read, and does not run again', async () => {
    const { runs, invoke } = build(largeBody());
    const input = request();
    await invoke(input);
    const unreadable: LargeResultStore = {
      put: () => Promise.reject(new Error('not used')),
      get: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' })),
    };
    const retry = await build(largeBody(), { largeResults: unreadable }).invoke(input);
    expect(runs.count).toBe(1);
    expect(retry).toMatchObject({ statusCode: 201, body: '' });
    expect(header(retry, 'idempotent-result-omitted')).toBe('too_large');
  });

  it('counts a missing object as a store error and never logs the body', async () => {
    const body = largeBody();
    const { invoke } = build(body, { telemetry: createTelemetry() });
    const input = request();
    await invoke(input);
    const ref = (await recordOf(input)).resultRef;
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: ref?.key }));
    const from = logs.lines.length;
    await invoke(input);
    const seen = logs.lines.slice(from).join('\n');
    expect(seen).toContain('getLargeResult');
    expect(seen).toContain('NoSuchObject');
    const marker = body.slice(0, body.indexOf(':'));
    expect(logs.lines.join('\n')).not.toContain(marker);
    expect(logs.lines.join('\n')).not.toContain(input.key);
  });
});
