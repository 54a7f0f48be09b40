import {
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../../src/cli/program.js';
import { recordKey } from '../../src/core/keys.js';
import { toItem } from '../../src/stores/dynamodb-item.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { idemkit, memoryIo, seed, startSqs } from './support.js';

const dynamoEndpoint = inject('dynamoEndpoint');
const { client } = localClient(dynamoEndpoint);
let server: FauxqsServer;
let sqsEndpoint: string;
let sqs: SQSClient;
const now = Date.now();
const nowS = Math.floor(now / 1000);

function item(key: string, fields: Record<string, unknown> = {}) {
  return toItem({
    pk: recordKey('acme', 'charge', key),
    org: 'acme',
    scope: 'charge',
    status: 'COMPLETED',
    expiresAt: nowS + 3600,
    fingerprint: 'fp',
    createdAt: now,
    attempt: 1,
    v: 1,
    ...fields,
  });
}

interface Report {
  ok: boolean;
  checks: { name: string; status: string; fix?: string }[];
}
const statusOf = (report: Report) =>
  Object.fromEntries(report.checks.map((check) => [check.name, check.status]));

/** `idemkit doctor --table <table> --endpoint <DynamoDB Local> ...flags`. */
const doctor = (table: string, ...flags: string[]) =>
  idemkit(['doctor', '--table', table, '--endpoint', dynamoEndpoint, ...flags]);

/** The flags that point doctor at `queue` and its DLQ `dlq` on fauxqs. */
function queues(queue: string, dlq: string) {
  return ['--sqs-endpoint', sqsEndpoint, '--queue', queue, '--dlq', dlq];
}

beforeAll(async () => {
  ({ server, endpoint: sqsEndpoint, sqs } = await startSqs());
});

afterAll(async () => {
  client.destroy();
  sqs.destroy();
  await server.stop();
});

describe('doctor passes a healthy deployment', () => {
  it('passes key schema, TTL, leases, expiry, redrive and an empty DLQ, and skips PITR on DynamoDB Local', async () => {
    const table = await createIdempotencyTable(client, 'doctor-ok');
    await client.send(new PutItemCommand({ TableName: table, Item: item('fresh') }));
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: item('running', { status: 'IN_PROGRESS', leaseUntil: now + 60_000 }),
      }),
    );
    const dlq = server.createQueue('doctor-ok-dlq', { attributes: { MessageRetentionPeriod: '1209600' } });
    server.createQueue('doctor-ok-jobs', {
      attributes: {
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: '5' }),
      },
    });
    const result = await doctor(table, ...queues('doctor-ok-jobs', 'doctor-ok-dlq'), '--json');
    expect(result.code).toBe(0);
    expect(statusOf(result.json<Report>())).toEqual({
      'key schema': 'pass',
      ttl: 'pass',
      'point-in-time recovery': 'skip',
      'stuck leases': 'pass',
      'expired records': 'pass',
      redrive: 'pass',
      'dlq retention': 'pass',
      'dlq depth': 'pass',
    });
  });
});

describe('doctor fails a broken deployment, with a fix per check', () => {
  it('fails TTL off, a stuck lease and a record expired days ago', async () => {
    const table = `doctor-bad-${Date.now()}`;
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: item('stuck', { status: 'IN_PROGRESS', leaseUntil: now - 3_600_000 }),
      }),
    );
    await client.send(
      new PutItemCommand({ TableName: table, Item: item('old', { expiresAt: nowS - 3 * 86_400 }) }),
    );
    const result = await doctor(table);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^FAIL {2}ttl: expected TTL enabled on `expiresAt`, got DISABLED\.\n {6}fix: aws dynamodb update-time-to-live --table-name /m,
    );
    expect(result.stdout).toMatch(
      /^FAIL {2}stuck leases: 1 IN_PROGRESS record\(s\) past their lease .* in org\(s\) acme\.\n {6}fix: list them with `idemkit records list/m,
    );
    expect(result.stdout).toMatch(/^FAIL {2}expired records: 1 record\(s\) expired more than 48 h ago/m);
    expect(result.stdout).toContain('3 of 5 checks failed.');
  });

  it('fails a DLQ holding messages, a queue that does not redrive into it', async () => {
    const table = await createIdempotencyTable(client, 'doctor-dlq');
    const dlq = server.createQueue('doctor-bad-dlq');
    server.createQueue('doctor-bad-jobs');
    await seed(sqs, dlq.queueUrl, [{ MessageBody: 'a' }, { MessageBody: 'b' }, { MessageBody: 'c' }]);
    const result = await doctor(table, ...queues('doctor-bad-jobs', 'doctor-bad-dlq'));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^FAIL {2}redrive: expected doctor-bad-jobs to redrive into doctor-bad-dlq, got no redrive policy\./m,
    );
    expect(result.stdout).toMatch(
      /^FAIL {2}dlq depth: doctor-bad-dlq holds 3 message\(s\), oldest sampled \d+ s old \(allowed: 0\)\.\n {6}fix: look with `idemkit dlq peek doctor-bad-dlq`/m,
    );
    // The sample left the messages where they were.
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq.queueUrl, MaxNumberOfMessages: 10 }),
    );
    expect(Messages.map((m) => m.Body).sort()).toEqual(['a', 'b', 'c']);
  });

  it('fails a table whose key is not pk', async () => {
    const table = `doctor-key-${Date.now()}`;
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const result = await doctor(table, '--json');
    expect(result.code).toBe(1);
    expect(statusOf(result.json<Report>())['key schema']).toBe('fail');
  });

  it('fails a missing table', async () => {
    const result = await doctor('no-such-table', '--json');
    expect(result.code).toBe(1);
    expect(statusOf(result.json<Report>())).toEqual({ table: 'fail' });
  });

  it('fails PITR disabled (mocked: DynamoDB Local has no DescribeContinuousBackups)', async () => {
    const ddb = mockClient(DynamoDBClient);
    try {
      ddb.on(DescribeTableCommand).resolves({
        Table: {
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        },
      });
      ddb
        .on(DescribeTimeToLiveCommand)
        .resolves({ TimeToLiveDescription: { TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' } });
      ddb.on(DescribeContinuousBackupsCommand).resolves({
        ContinuousBackupsDescription: {
          ContinuousBackupsStatus: 'ENABLED',
          PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'DISABLED' },
        },
      });
      ddb.on(ScanCommand).resolves({ Items: [] });
      const io = memoryIo();
      expect(await run(['doctor', '--table', 'idempotency', '--region', 'eu-west-1'], io)).toBe(1);
      expect(io.stdout).toContain(
        'FAIL  point-in-time recovery: expected ENABLED, got DISABLED: a bad deploy or script could lose every lease and result.',
      );
      expect(io.stdout).toContain(
        '      fix: aws dynamodb update-continuous-backups --table-name idempotency --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true',
      );
    } finally {
      ddb.restore();
    }
  });
});
