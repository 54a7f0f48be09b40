import { randomUUID } from 'node:crypto';
import {
  CancelMessageMoveTaskCommand,
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  ListQueuesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { keyDigest } from '../../core/keys.js';
import { REPLAY_ATTRIBUTE } from '../../sqs/replay-marker.js';
import { type CommonOptions, clientConfig, type QueueRef, resolveQueue, sqsClient } from '../aws.js';
import { CliError, ExitCode, explainAwsError } from '../errors.js';
import { parseFieldReader, parseFilter } from '../filter.js';
import { confirm, formatDuration, type Io, integerFlag, numberFlag, startProgress, table } from '../io.js';
import { type ReplayEvent, type ReplayStats, replay } from '../replay.js';

/** Flags of `idemkit dlq replay`. */
export interface ReplayFlags extends CommonOptions {
  readonly from: string;
  readonly to?: string;
  readonly filter?: string;
  readonly max?: string;
  readonly rate?: string;
  readonly dryRun?: boolean;
  readonly keep?: boolean;
  readonly native?: boolean;
  readonly wait: string;
  readonly visibilityTimeout: string;
  readonly attempts: string;
  readonly replayId?: string;
}

/** `idemkit dlq replay`: moves messages from a DLQ back to their queue (or `--native`: AWS's move task). */
export async function replayCommand(flags: ReplayFlags, io: Io): Promise<number> {
  const max = integerFlag('--max', flags.max, 1);
  const rate = numberFlag('--rate', flags.rate);
  const waitSeconds = integerFlag('--wait', flags.wait, 0, 20) ?? 2;
  const visibilityTimeout = integerFlag('--visibility-timeout', flags.visibilityTimeout, 10, 43_200) ?? 120;
  const attempts = integerFlag('--attempts', flags.attempts, 1, 20) ?? 6;
  const filter = flags.filter === undefined ? undefined : parseFilter(flags.filter);
  if (flags.native === true) {
    for (const [flag, set] of [
      ['--filter', flags.filter !== undefined],
      ['--max', flags.max !== undefined],
      ['--keep', flags.keep === true],
      ['--dry-run', flags.dryRun === true],
    ] as const) {
      if (set) {
        throw new CliError(
          `\`--native\` cannot be combined with \`${flag}\`: AWS's move task moves every message; drop \`${flag}\` or drop \`--native\`.`,
        );
      }
    }
  }
  const sqs = sqsClient(flags);
  const target = { endpoint: flags.endpoint, region: clientConfig(flags).region };
  try {
    const from = await resolveQueue(sqs, flags.from, '--from', flags, ['ApproximateNumberOfMessages']);
    if (flags.native === true) return await startNativeMove(sqs, from, flags, rate, io);
    const to =
      flags.to === undefined
        ? await discoverDestination(sqs, from, flags)
        : await resolveQueue(sqs, flags.to, '--to', flags);
    if (to.arn === from.arn) {
      throw new CliError(
        `Expected \`--to\` to differ from \`--from\`, got ${from.name} for both; name the queue to replay into.`,
      );
    }
    if (to.fifo && !from.fifo) {
      throw new CliError(
        `\`--to\` ${to.name} is a FIFO queue but \`--from\` ${from.name} is not, so its messages have no group id; replay into a standard queue.`,
      );
    }
    if (flags.dryRun !== true && flags.keep !== true) {
      const what = max === undefined ? 'the selected messages' : `up to ${max} selected messages`;
      await confirm(
        io,
        flags.yes,
        `Move ${what} from ${from.name} to ${to.name}, deleting each from the DLQ once sent?`,
        `delete messages from ${from.name}`,
      );
    }
    const replayId =
      flags.replayId ?? `${new Date().toISOString().slice(0, 19)}Z/${randomUUID().slice(0, 8)}`;
    const depth = Number(from.attributes.ApproximateNumberOfMessages ?? '0');
    const progress = startProgress(
      io,
      max === undefined ? depth : Math.min(max, depth || max),
      flags.json === true,
    );
    const wouldMove: Message[] = [];
    const problems: { messageId: string; problem: string; reason: string }[] = [];
    const abort = new AbortController();
    const onSignal = () => abort.abort();
    process.once('SIGINT', onSignal);
    let stats: ReplayStats;
    try {
      stats = await replay(
        sqs,
        {
          from,
          to,
          filter,
          max,
          rate,
          dryRun: flags.dryRun,
          keep: flags.keep,
          replayId,
          waitSeconds,
          visibilityTimeout,
          attempts,
          signal: abort.signal,
        },
        (event: ReplayEvent) => {
          if (event.type === 'batch') {
            const { received, moved, skipped, failed } = event.stats;
            progress.update({ done: received, moved, skipped, failed });
          } else if (event.type === 'would-move') {
            wouldMove.push(event.message);
          } else {
            problems.push({ messageId: event.messageId, problem: event.type, reason: event.reason });
          }
        },
      );
    } finally {
      process.removeListener('SIGINT', onSignal);
      progress.stop();
    }
    const complete =
      flags.dryRun === true ||
      (stats.moved === stats.selected && stats.failed === 0 && stats.notDeleted === 0);
    if (flags.json === true) {
      io.out(
        JSON.stringify({
          from: from.url,
          to: to.url,
          replayId,
          dryRun: flags.dryRun === true,
          keep: flags.keep === true,
          ...stats,
          ...(flags.dryRun === true ? { wouldMove: wouldMove.map((message) => describe(message)) } : {}),
          problems,
          complete,
        }),
      );
    } else {
      for (const message of wouldMove) {
        const d = describe(message);
        io.out(`would move ${d.id}${d.group === undefined ? '' : ` group=${d.group}`} ${d.preview}`);
      }
      for (const problem of problems) {
        io.err(
          `${problem.problem === 'failed' ? 'not moved' : 'sent but not deleted from the DLQ'}: ${problem.messageId}: ${problem.reason}`,
        );
      }
      const verb =
        flags.dryRun === true
          ? 'Dry run, nothing moved'
          : flags.keep === true
            ? 'Copied (kept in the DLQ)'
            : 'Replayed';
      io.out(
        `${verb}: ${from.name} -> ${to.name}: ${stats.selected} selected, ${flags.dryRun === true ? `${stats.selected} would move` : `${stats.moved} moved`}, ${stats.skipped} skipped by the filter, ${stats.failed} failed, ${stats.notDeleted} sent but not deleted, ${stats.retries} sends retried; replay id ${replayId}.`,
      );
      if (
        from.fifo &&
        (flags.keep === true || flags.dryRun === true || stats.skipped > 0 || stats.failed > 0)
      ) {
        io.err(
          `note: ${from.name} is FIFO; a message kept, skipped or failed in this run holds back the rest of its group, so those were not reached and stay in the DLQ.`,
        );
      }
      if (!complete) {
        io.err(
          'Not everything selected was moved: the messages listed above are still in the DLQ (or in both queues); fix the cause and run the same command again.',
        );
      }
    }
    return complete ? ExitCode.Ok : ExitCode.Incomplete;
  } catch (error) {
    throw explainAwsError(error, target);
  } finally {
    sqs.destroy();
  }
}

function describe(message: Message): { id: string; group?: string; receiveCount: number; preview: string } {
  return {
    id: message.MessageId ?? '',
    ...(message.Attributes?.MessageGroupId === undefined ? {} : { group: message.Attributes.MessageGroupId }),
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? '0'),
    preview: preview(message.Body ?? ''),
  };
}

function preview(body: string, length = 80): string {
  const flat = body.replace(/\s+/g, ' ');
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

/**
 * The queue that sends its failures to `dlq`, when exactly one does. Asks `ListDeadLetterSourceQueues`;
 * a server without that API (some emulators) is answered by reading every queue's redrive policy.
 */
async function discoverDestination(sqs: SQSClient, dlq: QueueRef, options: CommonOptions): Promise<QueueRef> {
  let sources: string[] = [];
  try {
    let NextToken: string | undefined;
    do {
      const page = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq.url, NextToken }));
      sources.push(...(page.queueUrls ?? []));
      NextToken = page.NextToken;
    } while (NextToken !== undefined);
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (!/InvalidAction|UnsupportedOperation|UnknownOperation|NotImplemented/.test(name)) throw error;
    sources = [];
    let NextToken: string | undefined;
    do {
      const page = await sqs.send(new ListQueuesCommand({ NextToken, MaxResults: 1000 }));
      for (const url of page.QueueUrls ?? []) {
        const { Attributes } = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }),
        );
        const policy = parseRedrive(Attributes?.RedrivePolicy);
        if (policy?.deadLetterTargetArn === dlq.arn) sources.push(url);
      }
      NextToken = page.NextToken;
    } while (NextToken !== undefined);
  }
  if (sources.length === 1) return resolveQueue(sqs, sources[0] as string, '--to', options);
  if (sources.length === 0) {
    throw new CliError(
      `No queue has ${dlq.name} as its dead-letter queue, so the destination is unknown; pass \`--to <queue>\`.`,
    );
  }
  const names = sources.map((url) => url.split('/').pop()).join(', ');
  throw new CliError(
    `${dlq.name} is the dead-letter queue of ${sources.length} queues (${names}); pass \`--to <queue>\` to choose one.`,
  );
}

/** Reads a queue's `RedrivePolicy` attribute. */
export function parseRedrive(
  value: string | undefined,
): { deadLetterTargetArn?: string; maxReceiveCount?: number } | undefined {
  if (value === undefined) return undefined;
  try {
    const policy = JSON.parse(value) as { deadLetterTargetArn?: string; maxReceiveCount?: string | number };
    return {
      deadLetterTargetArn: policy.deadLetterTargetArn,
      maxReceiveCount: Number(policy.maxReceiveCount),
    };
  } catch {
    return undefined;
  }
}

async function startNativeMove(
  sqs: SQSClient,
  from: QueueRef,
  flags: ReplayFlags,
  rate: number | undefined,
  io: Io,
): Promise<number> {
  const to = flags.to === undefined ? undefined : await resolveQueue(sqs, flags.to, '--to', flags);
  if (rate !== undefined && (!Number.isInteger(rate) || rate > 500)) {
    throw new CliError(
      `Expected \`--rate\` with \`--native\` to be a whole number from 1 to 500 (AWS's limit), got ${rate}.`,
    );
  }
  await confirm(
    io,
    flags.yes,
    `Start an AWS message move task from ${from.name} to ${to?.name ?? 'each message’s source queue'}?`,
    `start a move task on ${from.name}`,
  );
  const output = await sqs.send(
    new StartMessageMoveTaskCommand({
      SourceArn: from.arn,
      ...(to === undefined ? {} : { DestinationArn: to.arn }),
      ...(rate === undefined ? {} : { MaxNumberOfMessagesPerSecond: rate }),
    }),
  );
  if (flags.json === true)
    io.out(JSON.stringify({ taskHandle: output.TaskHandle, source: from.arn, destination: to?.arn ?? null }));
  else
    io.out(
      `Started a move task from ${from.name} to ${to?.name ?? 'the source queues'}: task handle ${output.TaskHandle}. Follow it with \`idemkit dlq status --from ${from.name}\`; native moves carry no \`${REPLAY_ATTRIBUTE}\` marker, so FAILED jobs stay failed.`,
    );
  return ExitCode.Ok;
}

/** `idemkit dlq status`: AWS's move tasks on a DLQ (`ListMessageMoveTasks`). */
export async function statusCommand(flags: CommonOptions & { from: string }, io: Io): Promise<number> {
  const sqs = sqsClient(flags);
  try {
    const from = await resolveQueue(sqs, flags.from, '--from', flags);
    const { Results = [] } = await sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: from.arn, MaxResults: 10 }),
    );
    if (flags.json === true) {
      io.out(JSON.stringify({ source: from.arn, tasks: Results }));
      return ExitCode.Ok;
    }
    if (Results.length === 0) {
      io.out(`No move tasks on ${from.name} in the last 14 days.`);
      return ExitCode.Ok;
    }
    io.out(
      table([
        ['STATUS', 'MOVED', 'TO MOVE', 'STARTED', 'DESTINATION', 'TASK HANDLE / FAILURE'],
        ...Results.map((task) => [
          task.Status ?? '',
          String(task.ApproximateNumberOfMessagesMoved ?? 0),
          String(task.ApproximateNumberOfMessagesToMove ?? '?'),
          task.StartedTimestamp === undefined ? '' : new Date(task.StartedTimestamp).toISOString(),
          task.DestinationArn?.split(':').pop() ?? 'source queues',
          task.FailureReason ?? task.TaskHandle ?? '',
        ]),
      ]).join('\n'),
    );
    return ExitCode.Ok;
  } catch (error) {
    throw explainAwsError(error, { endpoint: flags.endpoint, region: clientConfig(flags).region });
  } finally {
    sqs.destroy();
  }
}

/** `idemkit dlq cancel`: cancels the running move task of a DLQ, or the one named by `--task-handle`. */
export async function cancelCommand(
  flags: CommonOptions & { from?: string; taskHandle?: string },
  io: Io,
): Promise<number> {
  if ((flags.from === undefined) === (flags.taskHandle === undefined)) {
    throw new CliError(
      'Expected exactly one of `--from <dlq>` or `--task-handle <handle>`; pass the DLQ whose running task to cancel.',
    );
  }
  const sqs = sqsClient(flags);
  try {
    let handle = flags.taskHandle;
    if (handle === undefined) {
      const from = await resolveQueue(sqs, flags.from as string, '--from', flags);
      const { Results = [] } = await sqs.send(
        new ListMessageMoveTasksCommand({ SourceArn: from.arn, MaxResults: 10 }),
      );
      handle = Results.find((task) => task.Status === 'RUNNING')?.TaskHandle;
      if (handle === undefined) {
        throw new CliError(
          `No move task is running on ${from.name}; see \`idemkit dlq status --from ${from.name}\`.`,
          {
            exitCode: ExitCode.Incomplete,
          },
        );
      }
    }
    const output = await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: handle }));
    const moved = output.ApproximateNumberOfMessagesMoved ?? 0;
    io.out(
      flags.json === true
        ? JSON.stringify({ taskHandle: handle, cancelled: true, moved })
        : `Cancelled move task ${handle}; about ${moved} messages had moved.`,
    );
    return ExitCode.Ok;
  } catch (error) {
    throw explainAwsError(error, { endpoint: flags.endpoint, region: clientConfig(flags).region });
  } finally {
    sqs.destroy();
  }
}

/** Flags of `idemkit dlq peek`. */
export interface PeekFlags extends CommonOptions {
  readonly max: string;
  readonly keyFrom?: string;
}

/** Where a job key is looked for when `--key-from` is not given, in order. */
const DEFAULT_KEY_FIELDS = [
  'attr.idempotency-key',
  'attr.idempotencyKey',
  'attr.jobKey',
  'attr.job-key',
  'body.idempotencyKey',
  'body.jobKey',
  'body.jobId',
] as const;

/**
 * `idemkit dlq peek`: shows messages without consuming them. Each received message is made visible again
 * (`VisibilityTimeout` 0) as soon as the peek has read what it shows. Job keys are shown as digests, the
 * form `pk` and the logs use, never raw.
 */
export async function peekCommand(dlq: string, flags: PeekFlags, io: Io): Promise<number> {
  const max = integerFlag('--max', flags.max, 1, 100) ?? 10;
  const readers = (flags.keyFrom === undefined ? [...DEFAULT_KEY_FIELDS] : [flags.keyFrom]).map((field) =>
    parseFieldReader(field),
  );
  const sqs = sqsClient(flags);
  const seen = new Map<string, Message>();
  const handles: string[] = [];
  let queueUrl = '';
  try {
    const queue = await resolveQueue(sqs, dlq, '<dlq>', flags);
    queueUrl = queue.url;
    let empty = 0;
    while (seen.size < max && empty < 2) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queue.url,
          MaxNumberOfMessages: Math.min(10, max - seen.size),
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
    const now = Date.now();
    const rows = [...seen.values()].map((message) => {
      const key = readers
        .map((read) => read(message))
        .find((value) => typeof value === 'string' && value !== '');
      const sent = Number(message.Attributes?.SentTimestamp ?? now);
      // The raw job key is never printed (docs/protocol.md section 2): it is replaced wherever it appears.
      const redact = (text: string) => (typeof key === 'string' ? text.split(key).join('<job key>') : text);
      return {
        id: message.MessageId ?? '',
        receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? '0'),
        ageMs: now - sent,
        group: message.Attributes?.MessageGroupId,
        attributes: Object.fromEntries(
          Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
            name,
            value.StringValue === undefined
              ? `<${value.BinaryValue?.byteLength ?? 0} bytes ${value.DataType}>`
              : redact(value.StringValue),
          ]),
        ),
        jobKeyDigest: typeof key === 'string' ? keyDigest(key) : undefined,
        bodyPreview: preview(redact(message.Body ?? ''), 120),
      };
    });
    if (flags.json === true) {
      io.out(JSON.stringify({ queue: queue.url, messages: rows }));
    } else if (rows.length === 0) {
      io.out(`${queue.name} has no visible messages.`);
    } else {
      for (const row of rows) {
        io.out(
          `${row.id}  received ${row.receiveCount}x  age ${formatDuration(row.ageMs)}${row.group === undefined ? '' : `  group ${row.group}`}  job key digest ${row.jobKeyDigest ?? '(not found)'}`,
        );
        const attributes = Object.entries(row.attributes).map(([name, value]) => `${name}=${value}`);
        if (attributes.length > 0) io.out(`  attributes: ${attributes.join(', ')}`);
        io.out(`  body: ${row.bodyPreview}`);
      }
      io.out(`${rows.length} message(s) shown from ${queue.name}; all are visible again.`);
    }
    return ExitCode.Ok;
  } catch (error) {
    throw explainAwsError(error, { endpoint: flags.endpoint, region: clientConfig(flags).region });
  } finally {
    for (let i = 0; i < handles.length; i += 10) {
      await sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: handles.slice(i, i + 10).map((handle, index) => ({
              Id: String(index),
              ReceiptHandle: handle,
              VisibilityTimeout: 0,
            })),
          }),
        )
        .catch(() => undefined);
    }
    sqs.destroy();
  }
}
