import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { QueueRef } from '../../src/cli/aws.js';
import { replay } from '../../src/cli/replay.js';

// SQS hands out several messages of one FIFO group in one receive, and a SendMessageBatch entry can fail
// while the entries after it succeed. fauxqs gives one message per group per receive, so it cannot show the
// order fault; these tests answer the SQS calls by hand and watch what is sent and deleted.
const sqs = mockClient(SQSClient);
const queue = (name: string): QueueRef => ({
  url: `https://sqs.eu-west-1.amazonaws.com/123456789012/${name}`,
  name,
  arn: `arn:aws:sqs:eu-west-1:123456789012:${name}`,
  fifo: true,
  attributes: {},
});
const from = queue('orders-dlq.fifo');
const to = queue('orders.fifo');

/** One group of `count` messages, `n-1` first, all in one receive. */
function group(count: number, name = 'g'): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    MessageId: `${name}-${i + 1}`,
    ReceiptHandle: `handle-${name}-${i + 1}`,
    Body: `${name}-${i + 1}`,
    Attributes: { MessageGroupId: name },
  }));
}

/** What reached the destination in order, and what was deleted from the DLQ, with `fail` deciding each entry. */
function answer(
  messages: Message[],
  fail: (entry: SendMessageBatchRequestEntry, attempt: number) => 'ok' | 'retry' | 'reject',
) {
  const sent: string[] = [];
  const deleted: string[] = [];
  const attempts = new Map<string, number>();
  sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages }).resolves({ Messages: [] });
  sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => {
    const Successful: { Id: string }[] = [];
    const Failed: { Id: string; SenderFault: boolean; Code: string }[] = [];
    for (const entry of input.Entries) {
      const body = entry.MessageBody ?? '';
      const attempt = (attempts.get(body) ?? 0) + 1;
      attempts.set(body, attempt);
      const outcome = fail(entry, attempt);
      if (outcome === 'ok') {
        sent.push(body);
        Successful.push({ Id: entry.Id as string });
      } else {
        Failed.push({ Id: entry.Id as string, SenderFault: outcome === 'reject', Code: 'InternalError' });
      }
    }
    return { Successful, Failed };
  });
  sqs.on(DeleteMessageBatchCommand).callsFake((input: { Entries: { ReceiptHandle: string }[] }) => {
    deleted.push(...input.Entries.map((entry) => entry.ReceiptHandle.replace('handle-', '')));
    return { Successful: input.Entries.map((_, i) => ({ Id: String(i) })), Failed: [] };
  });
  sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
  return { sent, deleted };
}

beforeEach(() => sqs.reset());
afterAll(() => sqs.restore());

const plan = { from, to, replayId: 'r-1', waitSeconds: 0, backoffMs: 1 };

describe('dlq replay keeps each FIFO group in order when an entry of a batch fails', () => {
  it('retries a failed entry before anything behind it in its group is sent', async () => {
    const { sent, deleted } = answer(group(6), (entry, attempt) =>
      entry.MessageBody === 'g-3' && attempt === 1 ? 'retry' : 'ok',
    );
    const stats = await replay(new SQSClient({ region: 'eu-west-1' }), plan);
    expect(stats).toMatchObject({ selected: 6, moved: 6, failed: 0 });
    expect(sent).toEqual(['g-1', 'g-2', 'g-3', 'g-4', 'g-5', 'g-6']);
    expect(deleted).toEqual(['g-1', 'g-2', 'g-3', 'g-4', 'g-5', 'g-6']);
  });

  it('sends and deletes nothing behind a message that cannot be sent; other groups go on', async () => {
    const { sent, deleted } = answer([...group(5), ...group(2, 'h')], (entry) =>
      entry.MessageBody === 'g-2' ? 'reject' : 'ok',
    );
    const failures: string[] = [];
    const stats = await replay(new SQSClient({ region: 'eu-west-1' }), plan, (event) => {
      if (event.type === 'failed') failures.push(`${event.messageId}: ${event.reason}`);
    });
    expect(stats).toMatchObject({ selected: 7, moved: 3, failed: 4 });
    expect(sent.filter((body) => body.startsWith('g-'))).toEqual(['g-1']);
    expect(sent.filter((body) => body.startsWith('h-'))).toEqual(['h-1', 'h-2']);
    expect(deleted.sort()).toEqual(['g-1', 'h-1', 'h-2']);
    expect(
      failures.filter((line) => line.includes('an earlier message of its FIFO group (g-2)')),
    ).toHaveLength(3);
  });
});

describe('dlq replay sends nothing of a FIFO group past a message that stays in the DLQ', () => {
  it('holds back the rest of a group in the same receive behind a message the query skips', async () => {
    const { sent, deleted } = answer(group(3), () => 'ok');
    const stats = await replay(new SQSClient({ region: 'eu-west-1' }), {
      ...plan,
      filter: (message) => message.Body !== 'g-1',
    });
    expect(sent).toEqual([]);
    expect(deleted).toEqual([]);
    expect(stats).toMatchObject({ skipped: 1, moved: 0, failed: 2 });
  });

  it('holds back a later receive behind a failed message that came back after its visibility timeout', async () => {
    const [first, second] = group(2);
    const { sent, deleted } = answer([first as Message], (entry) =>
      entry.MessageBody === 'g-1' ? 'reject' : 'ok',
    );
    // The failed g-1 becomes visible again and is received beside g-2, the next of its group.
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [first as Message] })
      .resolvesOnce({
        Messages: [{ ...(first as Message), ReceiptHandle: 'handle-g-1-again' }, second as Message],
      })
      .resolves({ Messages: [] });
    const stats = await replay(new SQSClient({ region: 'eu-west-1' }), plan);
    expect(sent).toEqual([]);
    expect(deleted).toEqual([]);
    expect(stats).toMatchObject({ moved: 0, failed: 2 });
  });
});
