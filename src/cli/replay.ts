import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { REPLAY_ATTRIBUTE } from '../sqs/replay-marker.js';
import type { QueueRef } from './aws.js';

/** SQS accepts at most this many message attributes on one message. */
const MAX_MESSAGE_ATTRIBUTES = 10;

/** What one replay does; the CLI flags map onto it one to one. */
export interface ReplayPlan {
  readonly from: QueueRef;
  readonly to: QueueRef;
  /** Selects messages; the rest stay in the DLQ. @default every message */
  readonly filter?: (message: Message) => boolean;
  /** Move exactly this many selected messages at most. @default no limit */
  readonly max?: number;
  /** Messages sent per second at most, retries included. @default no limit */
  readonly rate?: number;
  /** Select and report, move nothing. @default false */
  readonly dryRun?: boolean;
  /** Copy without deleting from the DLQ. @default false */
  readonly keep?: boolean;
  /** The value of {@link REPLAY_ATTRIBUTE} on every sent message. */
  readonly replayId: string;
  /** Long-poll wait of each receive, seconds; an empty receive ends the run. @default 2 */
  readonly waitSeconds?: number;
  /** How long received messages stay invisible while the replay works on them, seconds. @default 120 */
  readonly visibilityTimeout?: number;
  /** Attempts per entry for retryable send or delete failures. @default 6 */
  readonly attempts?: number;
  /** First backoff delay, ms; doubles each attempt, with full jitter, capped at 5 s. @default 100 */
  readonly backoffMs?: number;
  /** Stops the run after the batch in hand. */
  readonly signal?: AbortSignal;
}

/** Running totals of a replay. */
export interface ReplayStats {
  /** Distinct messages received from the DLQ. */
  received: number;
  /** Messages the filter and `--max` selected. */
  selected: number;
  /** Selected messages now in the destination (and deleted from the DLQ unless `--keep`). */
  moved: number;
  /** Messages the filter did not select; they stay in the DLQ. */
  skipped: number;
  /** Selected messages that could not be sent; they stay in the DLQ. */
  failed: number;
  /** Sent, but the DLQ delete failed: the message is in both queues. */
  notDeleted: number;
  /** Send attempts retried after a failed entry or request. */
  retries: number;
}

/** What the replay tells its caller as it goes. */
export type ReplayEvent =
  | { readonly type: 'batch'; readonly stats: Readonly<ReplayStats> }
  | { readonly type: 'would-move'; readonly message: Message }
  | { readonly type: 'failed'; readonly messageId: string; readonly reason: string }
  | { readonly type: 'not-deleted'; readonly messageId: string; readonly reason: string };

interface Held {
  receiptHandle: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The deterministic `MessageDeduplicationId` of a replayed message: the same DLQ message always gets the
 * same id, so running a replay twice inside the FIFO five-minute window does not send it twice. It is
 * derived from the DLQ and the message id, never the original deduplication id, which the destination
 * may still remember from the first delivery and would then drop the replay.
 *
 * @example
 * replayDeduplicationId(dlq.arn, message.MessageId); // 64 hex characters
 */
export function replayDeduplicationId(dlqArn: string, messageId: string): string {
  return createHash('sha256').update(`${dlqArn}\n${messageId}`).digest('hex');
}

/**
 * Moves messages from a DLQ to a queue, safely: each batch is sent first and only entries whose send
 * succeeded are deleted from the DLQ; failed entries are retried with backoff and, if they still fail,
 * left in the DLQ. Messages it does not move are made visible again when the run ends.
 *
 * @example
 * const stats = await replay(sqs, { from, to, replayId }, (event) => console.log(event));
 */
export async function replay(
  sqs: SQSClient,
  plan: ReplayPlan,
  onEvent: (event: ReplayEvent) => void = () => {},
): Promise<ReplayStats> {
  const stats: ReplayStats = {
    received: 0,
    selected: 0,
    moved: 0,
    skipped: 0,
    failed: 0,
    notDeleted: 0,
    retries: 0,
  };
  const held = new Map<string, Held>();
  const handled = new Set<string>();
  const limiter = rateLimiter(plan.rate);
  const backoff = backoffPolicy(plan);
  // FIFO: the groups a message of which stays in the DLQ (skipped, unfit or failed), each with that message's id.
  // Nothing behind it is sent for the rest of the run: SQS can hand out several messages of one group in a receive,
  // and a held message that comes back after its visibility timeout can come back beside the ones behind it.
  const blocked = new Map<string, string>();
  let staleRounds = 0;
  try {
    while (plan.max === undefined || stats.selected < plan.max) {
      if (plan.signal?.aborted) break;
      const remaining = plan.max === undefined ? 10 : plan.max - stats.selected;
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: plan.from.url,
          // With a filter, more than `remaining` may be needed to find `remaining` matches.
          MaxNumberOfMessages: plan.filter === undefined ? Math.min(10, remaining) : 10,
          WaitTimeSeconds: plan.waitSeconds ?? 2,
          VisibilityTimeout: plan.visibilityTimeout ?? 120,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) break;
      const chosen: Message[] = [];
      for (const message of Messages) {
        const id = message.MessageId ?? '';
        if (handled.has(id)) {
          // Seen earlier in this run and made visible again by its timeout: hold it under its new handle.
          if (held.has(id)) held.set(id, { receiptHandle: message.ReceiptHandle ?? '' });
          continue;
        }
        handled.add(id);
        stats.received += 1;
        if (plan.filter !== undefined && !plan.filter(message)) {
          stats.skipped += 1;
          hold(held, message);
          if (plan.to.fifo && !blocked.has(groupOf(message))) blocked.set(groupOf(message), id);
        } else if (plan.max !== undefined && stats.selected + chosen.length >= plan.max) {
          // Received beyond `--max`: not selected, not counted, visible again at the end.
          stats.received -= 1;
          handled.delete(id);
          hold(held, message);
        } else {
          chosen.push(message);
        }
      }
      // Only messages already handled came back: the rest of the DLQ is held by this run (FIFO groups
      // behind a skipped message) or gone. Three such rounds end the run.
      if (chosen.length === 0 && Messages.every((message) => handled.has(message.MessageId ?? ''))) {
        staleRounds += 1;
        onEvent({ type: 'batch', stats: { ...stats } });
        if (staleRounds >= 3) break;
        continue;
      }
      staleRounds = 0;
      stats.selected += chosen.length;
      if (plan.dryRun === true) {
        for (const message of chosen) {
          hold(held, message);
          onEvent({ type: 'would-move', message });
        }
        onEvent({ type: 'batch', stats: { ...stats } });
        continue;
      }
      const sendable: Message[] = [];
      // FIFO: a group whose message cannot be sent sends nothing behind it (the group's order holds).
      for (const message of chosen) {
        const attributes = message.MessageAttributes ?? {};
        const group = groupOf(message);
        const ahead = plan.to.fifo ? blocked.get(group) : undefined;
        const unfit =
          !(REPLAY_ATTRIBUTE in attributes) && Object.keys(attributes).length >= MAX_MESSAGE_ATTRIBUTES;
        if (ahead !== undefined || unfit) {
          stats.failed += 1;
          hold(held, message);
          if (!blocked.has(group)) blocked.set(group, message.MessageId ?? '');
          onEvent({
            type: 'failed',
            messageId: message.MessageId ?? '',
            reason:
              ahead !== undefined
                ? heldBehind(ahead)
                : `it already has ${MAX_MESSAGE_ATTRIBUTES} message attributes, so the \`${REPLAY_ATTRIBUTE}\` marker does not fit; it stays in the DLQ (use \`--native\` to move it unmarked)`,
          });
        } else {
          sendable.push(message);
        }
      }
      const { sent, failed } = plan.to.fifo
        ? await sendInGroupOrder(sqs, plan, sendable, limiter, backoff, stats)
        : await sendAll(sqs, plan, sendable, limiter, backoff, stats);
      for (const { message, reason } of failed) {
        stats.failed += 1;
        hold(held, message);
        if (plan.to.fifo && !blocked.has(groupOf(message)))
          blocked.set(groupOf(message), message.MessageId ?? '');
        onEvent({ type: 'failed', messageId: message.MessageId ?? '', reason });
      }
      if (plan.keep === true) {
        stats.moved += sent.length;
        for (const message of sent) hold(held, message);
      } else {
        const undeleted = await deleteAll(sqs, plan.from.url, sent, backoff);
        stats.moved += sent.length - undeleted.length;
        for (const { message, reason } of undeleted) {
          stats.notDeleted += 1;
          onEvent({ type: 'not-deleted', messageId: message.MessageId ?? '', reason });
        }
      }
      onEvent({ type: 'batch', stats: { ...stats } });
    }
  } finally {
    await release(sqs, plan.from.url, held);
  }
  return stats;
}

function hold(held: Map<string, Held>, message: Message): void {
  held.set(message.MessageId ?? '', { receiptHandle: message.ReceiptHandle ?? '' });
}

/** Makes held messages visible again at once (`VisibilityTimeout` 0); best effort. */
async function release(sqs: SQSClient, queueUrl: string, held: Map<string, Held>): Promise<void> {
  const entries = [...held.values()];
  for (let i = 0; i < entries.length; i += 10) {
    try {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: entries.slice(i, i + 10).map((entry, index) => ({
            Id: String(index),
            ReceiptHandle: entry.receiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    } catch {
      // Their visibility timeout brings them back anyway.
    }
  }
}

/** The entry that sends `message` to `to` with everything it carried, plus the replay marker. */
function replayEntry(
  message: Message,
  plan: Pick<ReplayPlan, 'from' | 'to' | 'replayId'>,
  id: string,
): SendMessageBatchRequestEntry {
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    attributes[name] = {
      DataType: value.DataType,
      ...(value.StringValue === undefined ? {} : { StringValue: value.StringValue }),
      ...(value.BinaryValue === undefined ? {} : { BinaryValue: value.BinaryValue }),
    };
  }
  attributes[REPLAY_ATTRIBUTE] = { DataType: 'String', StringValue: plan.replayId };
  const system = message.Attributes ?? {};
  const entry: SendMessageBatchRequestEntry = {
    Id: id,
    MessageBody: message.Body ?? '',
    MessageAttributes: attributes,
  };
  if (system.AWSTraceHeader !== undefined) {
    entry.MessageSystemAttributes = {
      AWSTraceHeader: { DataType: 'String', StringValue: system.AWSTraceHeader },
    };
  }
  if (plan.to.fifo) {
    entry.MessageGroupId = system.MessageGroupId ?? message.MessageId;
    entry.MessageDeduplicationId = replayDeduplicationId(plan.from.arn, message.MessageId ?? '');
  }
  return entry;
}

interface Outcome {
  readonly sent: Message[];
  readonly failed: { message: Message; reason: string }[];
}

/** The FIFO group a message is sent in (a standard DLQ's message has none: its own id stands alone). */
function groupOf(message: Message): string {
  return message.Attributes?.MessageGroupId ?? message.MessageId ?? '';
}

function heldBehind(messageId: string): string {
  return `an earlier message of its FIFO group (${messageId}) was not sent, so it is not sent past it and stays in the DLQ`;
}

/**
 * Sends to a FIFO queue without reordering a group: each request carries at most one message of a group (the
 * next in line), so a failed entry is retried before anything behind it is sent. Once a message of a group fails
 * for good, the rest of that group in hand is not sent either (and so not deleted): it stays in the DLQ behind it.
 */
async function sendInGroupOrder(
  sqs: SQSClient,
  plan: ReplayPlan,
  messages: Message[],
  limiter: (count: number) => Promise<void>,
  backoff: (attempt: number) => number,
  stats: ReplayStats,
): Promise<Outcome> {
  const groups = new Map<string, Message[]>();
  for (const message of messages) {
    const group = groupOf(message);
    groups.set(group, [...(groups.get(group) ?? []), message]);
  }
  const sent: Message[] = [];
  const failed: { message: Message; reason: string }[] = [];
  while (groups.size > 0) {
    const wave = [...groups.values()].map((queue) => queue.shift() as Message);
    const outcome = await sendAll(sqs, plan, wave, limiter, backoff, stats);
    sent.push(...outcome.sent);
    failed.push(...outcome.failed);
    for (const { message } of outcome.failed) {
      const group = groupOf(message);
      for (const behind of groups.get(group) ?? []) {
        failed.push({ message: behind, reason: heldBehind(message.MessageId ?? '') });
      }
      groups.delete(group);
    }
    for (const [group, queue] of groups) if (queue.length === 0) groups.delete(group);
  }
  return { sent, failed };
}

async function sendAll(
  sqs: SQSClient,
  plan: ReplayPlan,
  messages: Message[],
  limiter: (count: number) => Promise<void>,
  backoff: (attempt: number) => number,
  stats: ReplayStats,
): Promise<Outcome> {
  const sent: Message[] = [];
  const failed: { message: Message; reason: string }[] = [];
  let pending = messages;
  const attempts = plan.attempts ?? 6;
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    if (attempt > 1) {
      stats.retries += pending.length;
      await sleep(backoff(attempt - 1));
    }
    await limiter(pending.length);
    const retry: { message: Message; reason: string }[] = [];
    try {
      const output = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: plan.to.url,
          Entries: pending.map((message, index) => replayEntry(message, plan, String(index))),
        }),
      );
      for (const ok of output.Successful ?? []) sent.push(pending[Number(ok.Id)] as Message);
      for (const entry of output.Failed ?? []) {
        const message = pending[Number(entry.Id)] as Message;
        const reason = `${entry.Code ?? 'error'}: ${entry.Message ?? 'no message'}`;
        (entry.SenderFault === true ? failed : retry).push({ message, reason });
      }
      const answered = (output.Successful?.length ?? 0) + (output.Failed?.length ?? 0);
      if (answered < pending.length) {
        // An entry with no answer is unknown: it is retried; FIFO deduplication absorbs a repeat.
        const known = new Set([...(output.Successful ?? []), ...(output.Failed ?? [])].map((e) => e.Id));
        pending.forEach((message, index) => {
          if (!known.has(String(index))) retry.push({ message, reason: 'no answer for this entry' });
        });
      }
    } catch (error) {
      const e = error as { name?: string; message?: string; $retryable?: unknown; $fault?: string };
      if (e.name === 'BatchRequestTooLong' && pending.length > 1) {
        const half = Math.ceil(pending.length / 2);
        const first = await sendAll(sqs, plan, pending.slice(0, half), limiter, backoff, stats);
        const second = await sendAll(sqs, plan, pending.slice(half), limiter, backoff, stats);
        sent.push(...first.sent, ...second.sent);
        failed.push(...first.failed, ...second.failed);
        return { sent, failed };
      }
      const reason = `${e.name ?? 'Error'}: ${e.message ?? String(error)}`;
      const retryable = e.$fault === 'server' || e.$retryable !== undefined || e.$fault === undefined;
      if (!retryable) throw error;
      for (const message of pending) retry.push({ message, reason });
    }
    if (attempt >= attempts) {
      failed.push(
        ...retry.map(({ message, reason }) => ({
          message,
          reason: `${reason} (after ${attempts} attempts)`,
        })),
      );
      break;
    }
    pending = retry.map(({ message }) => message);
  }
  return { sent, failed };
}

async function deleteAll(
  sqs: SQSClient,
  queueUrl: string,
  messages: Message[],
  backoff: (attempt: number) => number,
): Promise<{ message: Message; reason: string }[]> {
  const undeleted: { message: Message; reason: string }[] = [];
  let pending = messages.map((message) => ({ message, reason: '' }));
  for (let attempt = 1; attempt <= 6 && pending.length > 0; attempt += 1) {
    if (attempt > 1) await sleep(backoff(attempt - 1));
    const batch = pending;
    pending = [];
    try {
      const output = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map(({ message }, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle ?? '',
          })),
        }),
      );
      for (const entry of output.Failed ?? []) {
        const item = {
          message: (batch[Number(entry.Id)] as { message: Message }).message,
          reason: `${entry.Code}: ${entry.Message}`,
        };
        (entry.SenderFault === true ? undeleted : pending).push(item);
      }
    } catch (error) {
      const e = error as { name?: string; message?: string };
      pending = batch.map(({ message }) => ({ message, reason: `${e.name}: ${e.message}` }));
    }
  }
  return [...undeleted, ...pending];
}

function backoffPolicy(plan: ReplayPlan): (attempt: number) => number {
  const base = plan.backoffMs ?? 100;
  return (attempt) => Math.random() * Math.min(5000, base * 2 ** attempt);
}

/** Waits so that no more than `rate` messages a second are sent, on average, over the run. */
function rateLimiter(rate: number | undefined): (count: number) => Promise<void> {
  if (rate === undefined) return async () => {};
  let next = Date.now();
  return async (count) => {
    const now = Date.now();
    if (next > now) await sleep(next - now);
    next = Math.max(next, now) + (count / rate) * 1000;
  };
}
