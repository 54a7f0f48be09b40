import type { Message } from '@aws-sdk/client-sqs';
import type { Command } from '@commander-js/extra-typings';
import { keyDigest } from '../../core/keys.js';
import { resolveQueue, withSqs } from '../aws.js';
import { ExitCode } from '../errors.js';
import { formatDuration, type Io } from '../io.js';
import { common, integer } from '../options.js';
import { compileKeyReader, DEFAULT_KEY_FROM } from '../query.js';
import { redactKey, shownBody } from './dlq-shared.js';

const PEEK_HELP = `
SQS cannot read a message without receiving it: each peek raises every shown message's receive count by one
(ApproximateReceiveCount), and a message past its source queue's maxReceiveCount is not moved again by SQS;
it stays in this DLQ. Messages are made visible again right after they are read.

--key-from is a JMESPath expression over the message view (see \`idemkit dlq replay --help\`); the key is shown
only as its digest. Bodies are hidden unless --show-bodies is given, and the key never appears in them.`;

/** One shown message: the job key only as its digest, the body hidden unless `--show-bodies`. */
interface PeekRow {
  readonly id: string;
  readonly receiveCount: number;
  readonly ageMs: number;
  readonly group?: string;
  readonly attributes: Record<string, string>;
  readonly jobKeyDigest?: string;
  readonly bodyBytes: number;
  readonly body: string;
}

/**
 * `idemkit dlq peek`: shows messages without consuming them. Each received message is made visible again
 * (`VisibilityTimeout` 0) as soon as the peek has read what it shows.
 *
 * @example
 * dlqPeek(dlq, io, done); // idemkit dlq peek orders-dlq --max 5 --key-from attr.jobId
 */
export function dlqPeek(parent: Command, io: Io, done: (code: number) => void) {
  return common(
    parent
      .command('peek')
      .description('Show messages without consuming them (this raises their receive count; see below).')
      .argument('<dlq>', 'the queue (URL or name)'),
  )
    .option('--max <n>', 'messages to show, 1 to 100', integer('--max', 1, 100), 10)
    .option(
      '--key-from <expr>',
      `JMESPath expression for the job key, shown as its digest (default: ${DEFAULT_KEY_FROM})`,
    )
    .option('--show-bodies', 'print a preview of each body (the job key replaced); hidden by default', false)
    .addHelpText(
      'after',
      `${PEEK_HELP}\n\nExample:\n  $ idemkit dlq peek orders-dlq --max 5 --key-from attr.jobId\n`,
    )
    .action(async (dlq, flags) => {
      const keyOf = compileKeyReader(flags.keyFrom);
      const { queue, rows } = await withSqs('dlq peek', flags, async (sqs, sdk) => {
        const queue = await resolveQueue(sqs, dlq, '<dlq>', flags);
        const seen = new Map<string, Message>();
        const handles: string[] = [];
        try {
          let empty = 0;
          while (seen.size < flags.max && empty < 2) {
            const { Messages = [] } = await sqs.send(
              new sdk.ReceiveMessageCommand({
                QueueUrl: queue.url,
                MaxNumberOfMessages: Math.min(10, flags.max - seen.size),
                // Short: the messages are released right after the peek.
                VisibilityTimeout: 30,
                WaitTimeSeconds: 1,
                MessageAttributeNames: ['All'],
                MessageSystemAttributeNames: ['All'],
              }),
            );
            const fresh = Messages.filter((message) => !seen.has(message.MessageId ?? ''));
            for (const message of Messages) handles.push(message.ReceiptHandle ?? '');
            for (const message of fresh) seen.set(message.MessageId ?? '', message);
            empty = fresh.length === 0 ? empty + 1 : 0;
          }
        } finally {
          for (let i = 0; i < handles.length; i += 10) {
            await sqs
              .send(
                new sdk.ChangeMessageVisibilityBatchCommand({
                  QueueUrl: queue.url,
                  Entries: handles.slice(i, i + 10).map((handle, index) => ({
                    Id: String(index),
                    ReceiptHandle: handle,
                    VisibilityTimeout: 0,
                  })),
                }),
              )
              .catch(() => undefined);
          }
        }
        const now = Date.now();
        return {
          queue,
          rows: [...seen.values()].map((message) => row(message, keyOf(message), now, flags.showBodies)),
        };
      });
      for (const line of renderPeek(queue, rows, flags.json)) io.out(line);
      done(ExitCode.Ok);
    });
}

function row(message: Message, key: string | undefined, now: number, showBodies: boolean): PeekRow {
  const sent = Number(message.Attributes?.SentTimestamp ?? now);
  // The raw job key is never printed (docs/protocol.md section 2): it is replaced wherever it appears.
  return {
    id: message.MessageId ?? '',
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? '0'),
    ageMs: now - sent,
    ...(message.Attributes?.MessageGroupId === undefined ? {} : { group: message.Attributes.MessageGroupId }),
    attributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        value.StringValue === undefined
          ? `<${value.BinaryValue?.byteLength ?? 0} bytes ${value.DataType}>`
          : redactKey(value.StringValue, key),
      ]),
    ),
    ...(key === undefined ? {} : { jobKeyDigest: keyDigest(key) }),
    bodyBytes: Buffer.byteLength(message.Body ?? ''),
    body: shownBody(message, { showBodies, key, length: 120 }),
  };
}

function renderPeek(queue: { url: string; name: string }, rows: readonly PeekRow[], json: boolean): string[] {
  if (json) return [JSON.stringify({ queue: queue.url, messages: rows })];
  if (rows.length === 0) return [`${queue.name} has no visible messages.`];
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(
      `${r.id}  received ${r.receiveCount}x  age ${formatDuration(r.ageMs)}${r.group === undefined ? '' : `  group ${r.group}`}  job key digest ${r.jobKeyDigest ?? '(not found)'}`,
    );
    const attributes = Object.entries(r.attributes).map(([name, value]) => `${name}=${value}`);
    if (attributes.length > 0) lines.push(`  attributes: ${attributes.join(', ')}`);
    lines.push(`  body: ${r.body}`);
  }
  lines.push(
    `${rows.length} message(s) shown from ${queue.name}; all are visible again (each receive count raised by one).`,
  );
  return lines;
}
