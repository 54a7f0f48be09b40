import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { type Signal, type SignalFacts, silentTelemetry, type Telemetry } from '../../src/core/telemetry.js';
import type { Store } from '../../src/core/types.js';
import { type SqsJobsHandler, sqsJobs } from '../../src/sqs/index.js';

/** The realistic events in `events/`. */
export type EventName = 'sqs-standard-batch' | 'sqs-fifo-batch' | 'sqs-message-attributes';

/** Loads a fresh copy of an event from `events/`, so a test may change it freely. */
export function loadEvent(name: EventName): SQSEvent {
  return JSON.parse(readFileSync(new URL(`../../events/${name}.json`, import.meta.url), 'utf8')) as SQSEvent;
}

/** The invoice id a record's body carries: the job key of every test here. */
export function invoiceIdOf(record: SQSRecord): string {
  return (JSON.parse(record.body) as { invoiceId: string }).invoiceId;
}

/** The same message delivered again (visibility timeout ran out): same `messageId`, one more receive. */
export function redelivered(record: SQSRecord): SQSRecord {
  const count = Number(record.attributes.ApproximateReceiveCount) + 1;
  return {
    ...record,
    receiptHandle: `AQEB${randomUUID().replaceAll('-', '')}`,
    attributes: { ...record.attributes, ApproximateReceiveCount: String(count) },
  };
}

/** The same job sent again as a new message (a producer retry or a DLQ redrive): a new `messageId`. */
export function resent(record: SQSRecord): SQSRecord {
  return { ...redelivered(record), messageId: randomUUID() };
}

/** The same job sent back by `idemkit dlq replay`: a new message carrying the replay attribute. */
export function replayed(record: SQSRecord, replayAttribute: string): SQSRecord {
  const copy = resent(record);
  return {
    ...copy,
    messageAttributes: {
      ...copy.messageAttributes,
      [replayAttribute]: {
        stringValue: `2026-11-22T20:10:00Z/${randomUUID()}`,
        stringListValues: [],
        binaryListValues: [],
        dataType: 'String',
      },
    },
  };
}

/** A record of the standard batch with another invoice in its body. */
export function withInvoice(record: SQSRecord, invoiceId: string): SQSRecord {
  const body = { ...(JSON.parse(record.body) as Record<string, unknown>), invoiceId };
  return { ...record, messageId: randomUUID(), body: JSON.stringify(body) };
}

/** An SQS event of these records. */
export function eventOf(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/**
 * A Lambda context as the runtime builds it, with a real deadline: `getRemainingTimeInMillis` counts
 * down from `timeoutMs`.
 */
export function fakeContext(timeoutMs = 60_000): Context {
  const deadline = Date.now() + timeoutMs;
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'send-invoice-email',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:send-invoice-email',
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/send-invoice-email',
    logStreamName: `2026/11/22/[$LATEST]${requestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A telemetry that keeps every signal and warning, to count them and to search them for raw data. */
export function recordingTelemetry(): {
  telemetry: Telemetry;
  signals: { signal: Signal; facts: SignalFacts }[];
  warnings: string[];
  count(signal: Signal): number;
  /** Everything logged, as one string. */
  text(): string;
} {
  const signals: { signal: Signal; facts: SignalFacts }[] = [];
  const warnings: string[] = [];
  return {
    telemetry: {
      emit: (signal, facts) => signals.push({ signal, facts }),
      warn: (message) => warnings.push(message),
    },
    signals,
    warnings,
    count: (signal) => signals.filter((entry) => entry.signal === signal).length,
    text: () => JSON.stringify({ signals, warnings }),
  };
}

/** A promise to hold a job open until the test lets it go. */
export function gate(): { wait: Promise<void>; open(): void } {
  let open: () => void = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** Polls `condition` every 5 ms until it holds; throws after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The messageIds a batch response reports, in order. */
export function reported(response: { batchItemFailures: { itemIdentifier: string }[] }): string[] {
  return response.batchItemFailures.map((failure) => failure.itemIdentifier);
}

/**
 * The invoice job runner that the durable-guard test and its child processes share, so both run the same
 * configuration; only the store and the side effect differ.
 */
export function invoiceJobs(store: Store, sideEffect: (record: SQSRecord) => Promise<void>): SqsJobsHandler {
  return sqsJobs({
    store,
    scope: 'send-invoice-email',
    environment: 'test',
    mode: 'enforce',
    telemetry: silentTelemetry,
    org: (record) => record.messageAttributes.orgId?.stringValue,
    jobKey: (record) => invoiceIdOf(record),
    processRecord: sideEffect,
  });
}
