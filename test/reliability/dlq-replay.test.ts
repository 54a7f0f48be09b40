/**
 * Scenario 5: DLQ replay under faults. The real `idemkit dlq replay` moves the DLQ's messages back to the
 * job queue (fauxqs) through a proxy that fails SendMessageBatch and DeleteMessageBatch at random: whole
 * requests refused, requests applied but answered 500 (so the CLI sends or deletes again), single entries
 * failed. The operator re-runs the replay until the DLQ is empty; then `sqsJobs` drains the queue. Nothing
 * is lost, and the duplicates that reach the worker are absorbed by the store (side effects counted).
 */
import { createServer, request, type Server } from 'node:http';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentTelemetry } from '../../src/core/telemetry.js';
import { sqsJobs } from '../../src/sqs/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { idemkit, seed } from '../cli/support.js';
import { fakeContext } from '../sqs/support.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { freePort, LOCAL_CLIENT_CONFIG } from '../support/dynamodb-local.js';
import {
  createEffectsTable,
  load,
  newJobs,
  readEffects,
  recordEffect,
  report,
  SecretLedger,
  seeded,
  sqsRecord,
  tally,
} from './support.js';

const MESSAGES = load(300, 1_000);
const ALREADY_DONE = Math.floor(MESSAGES / 10);

const { client } = localClient();
const secrets = new SecretLedger();
let fauxqs: FauxqsServer;
let sqs: SQSClient;

beforeAll(async () => {
  fauxqs = await startFauxqs({ port: await freePort(), logger: false });
  sqs = new SQSClient({ ...LOCAL_CLIENT_CONFIG, endpoint: fauxqs.address });
});
afterAll(async () => {
  sqs?.destroy();
  await fauxqs?.stop();
  client.destroy();
});

/** What the random fault proxy did. */
interface ProxyLog {
  refused: Record<string, number>;
  appliedButFailed: Record<string, number>;
  failedEntries: Record<string, number>;
}

/**
 * A proxy in front of fauxqs that, for SendMessageBatch and DeleteMessageBatch, refuses 10% of requests
 * with a 500 (not forwarded), answers 5% with a 500 after forwarding them (the work happened, the CLI
 * cannot know), and fails 10% of the entries of the rest (not forwarded, `SenderFault: false`).
 */
async function startRandomFaultProxy(upstream: string, seed: number) {
  const random = seeded(seed);
  const log: ProxyLog = { refused: {}, appliedButFailed: {}, failedEntries: {} };
  const bump = (counts: Record<string, number>, name: string, by = 1) => {
    counts[name] = (counts[name] ?? 0) + by;
  };
  const target = new URL(upstream);
  const forward = (
    req: import('node:http').IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: import('node:http').IncomingHttpHeaders; payload: Buffer }> =>
    new Promise((resolve, reject) => {
      const out = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'content-length': String(body.length), host: target.host },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (chunk: Buffer) => parts.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 502, headers: res.headers, payload: Buffer.concat(parts) }),
          );
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const action = String(req.headers['x-amz-target'] ?? '').replace('AmazonSQS.', '');
      const fail500 = () => {
        res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: 'injected' }));
      };
      try {
        if (action !== 'SendMessageBatch' && action !== 'DeleteMessageBatch') {
          const answer = await forward(req, body);
          const headers = { ...answer.headers, 'content-length': String(answer.payload.length) };
          delete headers['transfer-encoding'];
          res.writeHead(answer.status, headers);
          res.end(answer.payload);
          return;
        }
        const roll = random();
        if (roll < 0.1) {
          bump(log.refused, action);
          fail500();
          return;
        }
        if (roll < 0.15) {
          await forward(req, body);
          bump(log.appliedButFailed, action);
          fail500();
          return;
        }
        const parsed = JSON.parse(body.toString()) as { Entries: { Id: string }[] };
        const keep = parsed.Entries.filter(() => random() >= 0.1);
        const dropped = parsed.Entries.filter((entry) => !keep.includes(entry));
        bump(log.failedEntries, action, dropped.length);
        const failed = dropped.map((entry) => ({
          Id: entry.Id,
          SenderFault: false,
          Code: 'InternalError',
          Message: 'injected',
        }));
        let answer = { Successful: [] as unknown[], Failed: [] as unknown[] };
        if (keep.length > 0) {
          const upstreamAnswer = await forward(
            req,
            Buffer.from(JSON.stringify({ ...parsed, Entries: keep })),
          );
          answer = { Successful: [], Failed: [], ...JSON.parse(upstreamAnswer.payload.toString()) };
        }
        answer.Failed = [...(answer.Failed ?? []), ...failed];
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(answer));
      } catch {
        fail500();
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A message received from SQS, as Lambda's event source mapping hands it over. */
function asRecord(message: Message, queueArn: string): SQSRecord {
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      stringValue: value.StringValue,
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
      SentTimestamp: message.Attributes?.SentTimestamp ?? '0',
      SenderId: 'AROAXAMPLE',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

async function depth(queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)
  );
}

describe(`dlq replay of ${MESSAGES} messages while sends and deletes fail at random`, () => {
  it('loses no job, and the store absorbs every duplicate that reaches the worker', async () => {
    const tableName = await createIdempotencyTable(client, 'rel-dlq');
    const effectsTable = await createEffectsTable(client);
    const suffix = Math.random().toString(36).slice(2, 8);
    const dlqUrl =
      (await sqs.send(new CreateQueueCommand({ QueueName: `rel-dlq-${suffix}` }))).QueueUrl ?? '';
    const queueUrl =
      (
        await sqs.send(
          new CreateQueueCommand({ QueueName: `rel-jobs-${suffix}`, Attributes: { VisibilityTimeout: '5' } }),
        )
      ).QueueUrl ?? '';
    const queueArn = `arn:aws:sqs:us-east-1:000000000000:rel-jobs-${suffix}`;
    const jobs = newJobs(secrets, MESSAGES);
    const delivered: string[] = [];
    const handler = sqsJobs({
      store: new DynamoDBStore({ tableName, client }),
      scope: 'send-invoice-email',
      environment: 'test',
      mode: 'enforce',
      lockTtlSeconds: 2,
      telemetry: silentTelemetry,
      org: (record) => record.messageAttributes.orgId?.stringValue,
      jobKey: (record) => (JSON.parse(record.body) as { jobKey: string }).jobKey,
      processRecord: async (record) => {
        await recordEffect(client, effectsTable, `k${(JSON.parse(record.body) as { n: number }).n}`);
      },
    });
    // A tenth of the jobs had completed before their messages reached the DLQ (a lost acknowledgement).
    await handler({ Records: jobs.slice(0, ALREADY_DONE).map((job) => sqsRecord(job)) }, fakeContext());
    await seed(
      sqs,
      dlqUrl,
      jobs.map((job) => ({
        MessageBody: JSON.stringify({ jobKey: job.jobKey, n: job.n, payload: job.payload }),
        MessageAttributes: { orgId: { DataType: 'String', StringValue: job.org } },
      })),
    );

    const proxy = await startRandomFaultProxy(fauxqs.address, 5_005);
    const runs: { code: number | null; summary: Record<string, number> }[] = [];
    const output: string[] = [];
    try {
      // The operator re-runs the replay while the DLQ still holds messages (a failed or undeleted entry).
      for (let run = 0; run < 8 && (await depth(dlqUrl)) > 0; run++) {
        const result = await idemkit([
          'dlq',
          'replay',
          '--from',
          `rel-dlq-${suffix}`,
          '--to',
          `rel-jobs-${suffix}`,
          '--endpoint',
          proxy.endpoint,
          '--yes',
          '--json',
          '--wait',
          '1',
          '--attempts',
          '3',
          '--visibility-timeout',
          '10',
          '--replay-id',
          `reliability-${run}`,
        ]);
        output.push(result.stdout, result.stderr);
        runs.push({
          code: result.code,
          summary: JSON.parse(result.stdout || '{}') as Record<string, number>,
        });
      }
    } finally {
      await proxy.stop();
    }
    const dlqLeft = await depth(dlqUrl);

    // The worker: Lambda's event source mapping, batches of 10, deleting what the handler acknowledged.
    let received = 0;
    let emptyPolls = 0;
    while (emptyPolls < 3) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) {
        emptyPolls += (await depth(queueUrl)) === 0 ? 1 : 0;
        continue;
      }
      received += Messages.length;
      const records = Messages.map((message) => asRecord(message, queueArn));
      delivered.push(...records.map((record) => record.body));
      const response = await handler({ Records: records }, fakeContext());
      const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
      const acked = Messages.filter((message) => !failed.has(message.MessageId ?? ''));
      if (acked.length > 0) {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: acked.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle ?? '',
            })),
          }),
        );
      }
    }

    const effects = await readEffects(client, effectsTable);
    const counted = tally(
      effects,
      jobs.map((job) => `k${job.n}`),
    );
    const duplicatesAtWorker = received - new Set(delivered).size;
    report('5-dlq-replay', {
      messages: MESSAGES,
      alreadyDone: ALREADY_DONE,
      cliRuns: runs.length,
      cliSummaries: runs.map(({ code, summary }) => ({
        code,
        moved: summary.moved,
        failed: summary.failed,
        notDeleted: summary.notDeleted,
        retries: summary.retries,
      })),
      faults: proxy.log,
      dlqLeft,
      receivedByWorker: received,
      duplicatesAtWorker,
      ...counted,
    });

    expect(Object.values(proxy.log.refused).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(proxy.log.appliedButFailed.SendMessageBatch ?? 0).toBeGreaterThan(0);
    expect(dlqLeft).toBe(0);
    expect(new Set(delivered).size).toBe(MESSAGES);
    expect(duplicatesAtWorker).toBeGreaterThan(0);
    expect(counted).toEqual({ once: MESSAGES, lost: 0, duplicated: 0 });
    expect(secrets.leaks(output.join('\n').split('\n'))).toEqual([]);
  }, 240_000);
});
