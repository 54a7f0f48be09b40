import { EventEmitter } from 'node:events';
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { invoke, type LocalFunction } from './lambda.js';

/** Options of {@link SqsEventSource}. */
export interface SqsEventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly fn: LocalFunction;
  readonly handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;
  /** Records per invocation at most, as the event source mapping's `BatchSize`. */
  readonly batchSize: number;
  /** How long to gather records before invoking, as `MaximumBatchingWindowInSeconds`, in ms. */
  readonly maxBatchingWindowMs: number;
  /** Pollers running at once, each invoking the function with its own batches. @default 1 */
  readonly pollers?: number;
  /** Long-poll seconds per receive. @default 20 */
  readonly waitTimeSeconds?: number;
}

/** What happened to one batch: which records were deleted and which were left for redelivery. */
export interface BatchOutcome {
  readonly messageIds: readonly string[];
  readonly deleted: readonly string[];
  readonly retried: readonly string[];
  /** Why the whole batch was retried (the function threw or timed out, or answered malformed). */
  readonly error?: string;
}

/**
 * Lambda's SQS event source mapping, locally: long-polls the queue in batches, invokes the function, and
 * reads its partial batch response (`ReportBatchItemFailures`): it deletes only the records not reported
 * failed. Failed records stay on the queue, reappear after the visibility timeout, and the queue's redrive
 * policy moves them to the DLQ after `maxReceiveCount` receives. A function that throws, times out or
 * answers with an unknown `itemIdentifier` fails the whole batch, as in Lambda.
 *
 * @example
 * const source = new SqsEventSource({ sqs, queueUrl, queueArn, fn, handler, batchSize: 10, maxBatchingWindowMs: 1000 });
 * source.start();
 * await source.stop();
 */
export class SqsEventSource extends EventEmitter<{ batch: [BatchOutcome] }> {
  readonly #options: SqsEventSourceOptions;
  readonly #abort = new AbortController();
  #loops: Promise<void>[] = [];

  constructor(options: SqsEventSourceOptions) {
    super();
    this.#options = options;
  }

  /** Starts the pollers. */
  start(): void {
    const count = this.#options.pollers ?? 1;
    this.#loops = Array.from({ length: count }, () => this.#poll());
  }

  /** Stops polling: in-flight receives are aborted; a running invocation finishes first. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#loops);
  }

  async #poll(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        const messages = await this.#receiveBatch(signal);
        if (messages.length > 0 && !signal.aborted) await this.#deliver(messages);
      } catch (error) {
        if (signal.aborted) return;
        process.stderr.write(
          `playground: polling ${this.#options.fn.functionName} failed: ${String(error)}\n`,
        );
        await sleep(1000, signal);
      }
    }
  }

  async #receiveBatch(signal: AbortSignal): Promise<Message[]> {
    const { batchSize, maxBatchingWindowMs } = this.#options;
    const messages: Message[] = [];
    const first = await this.#receive(Math.min(10, batchSize), this.#options.waitTimeSeconds ?? 20, signal);
    messages.push(...first);
    if (messages.length === 0) return messages;
    // The batching window: gather more records until the batch is full or the window closes.
    const windowEnds = Date.now() + maxBatchingWindowMs;
    while (messages.length < batchSize && Date.now() < windowEnds && !signal.aborted) {
      const waitSeconds = Math.max(0, Math.min(20, Math.floor((windowEnds - Date.now()) / 1000)));
      const more = await this.#receive(Math.min(10, batchSize - messages.length), waitSeconds, signal);
      if (more.length === 0 && waitSeconds === 0) break;
      messages.push(...more);
    }
    return messages;
  }

  async #receive(max: number, waitTimeSeconds: number, signal: AbortSignal): Promise<Message[]> {
    const { Messages = [] } = await this.#options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#options.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitTimeSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    return Messages;
  }

  async #deliver(messages: Message[]): Promise<void> {
    const records = messages.map((message) => toRecord(message, this.#options.queueArn));
    const ids = records.map((record) => record.messageId);
    let retried: Set<string>;
    let error: string | undefined;
    try {
      const response = await invoke(this.#options.fn, this.#options.handler, { Records: records });
      retried = failedIds(response, ids);
    } catch (thrown) {
      error = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
      retried = new Set(ids);
    }
    const deleted = messages.filter((message) => !retried.has(message.MessageId ?? ''));
    for (let start = 0; start < deleted.length; start += 10) {
      await this.#options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.#options.queueUrl,
          Entries: deleted.slice(start, start + 10).map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle ?? '',
          })),
        }),
      );
    }
    this.emit('batch', {
      messageIds: ids,
      deleted: deleted.map((message) => message.MessageId ?? ''),
      retried: [...retried],
      ...(error === undefined ? {} : { error }),
    });
  }
}

/**
 * The records to leave on the queue, read as Lambda reads a partial batch response: none for an empty
 * list or no response; all when an identifier is missing or names no record of the batch.
 */
export function failedIds(
  response: SQSBatchResponse | undefined | null,
  ids: readonly string[],
): Set<string> {
  const failures = response?.batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return new Set(ids);
  const known = new Set(ids);
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = failure?.itemIdentifier;
    if (typeof id !== 'string' || !known.has(id)) return new Set(ids);
    failed.add(id);
  }
  return failed;
}

/** An SQS message as Lambda hands it to the function. */
export function toRecord(message: Message, queueArn: string): SQSRecord {
  const system = message.Attributes ?? {};
  const attributes: Record<string, string> = {
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
    SentTimestamp: system.SentTimestamp ?? String(Date.now()),
    SenderId: system.SenderId ?? 'AIDAPLAYGROUND',
    ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  };
  for (const name of ['MessageGroupId', 'MessageDeduplicationId', 'SequenceNumber'] as const) {
    const value = system[name];
    if (value !== undefined) attributes[name] = value;
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: attributes as unknown as SQSRecord['attributes'],
    messageAttributes: toRecordAttributes(message.MessageAttributes ?? {}),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes === undefined
      ? {}
      : { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? 'us-east-1',
  };
}

function toRecordAttributes(attributes: Record<string, MessageAttributeValue>): SQSMessageAttributes {
  const result: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    result[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined
        ? {}
        : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString('base64')),
    };
  }
  return result;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
