import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchOutcome, failedIds, SqsEventSource } from '../../playground/event-source.js';
import { LOCAL_CLIENT_CONFIG } from '../../playground/servers/dynamodb-local.js';

describe('partial batch responses, read as Lambda reads them', () => {
  const ids = ['m1', 'm2', 'm3'];
  it('retry nothing for an empty list or no response', () => {
    expect(failedIds({ batchItemFailures: [] }, ids)).toEqual(new Set());
    expect(failedIds(undefined, ids)).toEqual(new Set());
  });
  it('retry only the reported records', () => {
    expect(failedIds({ batchItemFailures: [{ itemIdentifier: 'm2' }] }, ids)).toEqual(new Set(['m2']));
  });
  it('retry the whole batch when an identifier is unknown or empty', () => {
    expect(failedIds({ batchItemFailures: [{ itemIdentifier: 'nope' }] }, ids)).toEqual(new Set(ids));
    expect(failedIds({ batchItemFailures: [{ itemIdentifier: '' }] }, ids)).toEqual(new Set(ids));
  });
});

describe('the local SQS event source', () => {
  let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
  let sqs: SQSClient;
  beforeAll(async () => {
    fauxqs = await startFauxqs({ port: 0, logger: false });
    sqs = new SQSClient({ ...LOCAL_CLIENT_CONFIG, endpoint: `http://127.0.0.1:${fauxqs.port}` });
  });
  afterAll(async () => {
    sqs?.destroy();
    await fauxqs?.stop();
  });

  async function queuePair(name: string, maxReceiveCount: number) {
    const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl as string;
    const dlqArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))
    ).Attributes?.QueueArn as string;
    const queue = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: name,
          Attributes: {
            VisibilityTimeout: '1',
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: dlqArn,
              maxReceiveCount: String(maxReceiveCount),
            }),
          },
        }),
      )
    ).QueueUrl as string;
    const arn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['QueueArn'] }))
    ).Attributes?.QueueArn as string;
    return { queue, arn, dlq };
  }

  const depth = async (url: string) => {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible)
    );
  };

  async function until(condition: () => Promise<boolean> | boolean): Promise<void> {
    for (let tries = 0; tries < 300 && !(await condition()); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('deletes the records that succeeded, redelivers the reported one, and redrives it to the DLQ', async () => {
    const { queue, arn, dlq } = await queuePair('partial', 2);
    const receives = new Map<string, number>();
    const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
      for (const record of event.Records) receives.set(record.body, (receives.get(record.body) ?? 0) + 1);
      expect(event.Records[0]).toMatchObject({ eventSource: 'aws:sqs', eventSourceARN: arn });
      return {
        batchItemFailures: event.Records.filter((record) => record.body === 'poison').map((record) => ({
          itemIdentifier: record.messageId,
        })),
      };
    };
    const source = new SqsEventSource({
      sqs,
      queueUrl: queue,
      queueArn: arn,
      fn: { functionName: 'worker', timeoutMs: 5000, memoryMiB: 128 },
      handler,
      batchSize: 10,
      maxBatchingWindowMs: 0,
      waitTimeSeconds: 1,
    });
    source.start();
    try {
      for (const body of ['good', 'poison'])
        await sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: body }));
      await until(async () => (await depth(dlq)) === 1);
      expect(await depth(dlq)).toBe(1);
      expect(await depth(queue)).toBe(0);
      expect(receives.get('good')).toBe(1);
      expect(receives.get('poison')).toBe(2);
    } finally {
      await source.stop();
    }
  });

  it('retries the whole batch when the function throws', async () => {
    const { queue, arn } = await queuePair('throws', 5);
    let calls = 0;
    const outcomes: BatchOutcome[] = [];
    const source = new SqsEventSource({
      sqs,
      queueUrl: queue,
      queueArn: arn,
      fn: { functionName: 'worker', timeoutMs: 5000, memoryMiB: 128 },
      handler: async () => {
        calls += 1;
        if (calls === 1) throw new Error('crash');
        return { batchItemFailures: [] };
      },
      batchSize: 10,
      maxBatchingWindowMs: 0,
      waitTimeSeconds: 1,
    });
    source.on('batch', (outcome) => outcomes.push(outcome));
    source.start();
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: 'job' }));
      await until(() => outcomes.some((outcome) => outcome.deleted.length === 1));
      expect(outcomes[0]).toMatchObject({ deleted: [], error: 'Error: crash' });
      expect(outcomes[0]?.retried).toHaveLength(1);
      expect(outcomes.at(-1)?.deleted).toEqual(outcomes[0]?.retried);
      expect(await depth(queue)).toBe(0);
    } finally {
      await source.stop();
    }
  });
});
