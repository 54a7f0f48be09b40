import { randomUUID } from 'node:crypto';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { type Command, Option } from '@commander-js/extra-typings';
import { type CommonOptions, loadCommand, type QueueRef, resolveQueue, withSqs } from '../aws.js';
import { CliError, ExitCode } from '../errors.js';
import { confirm, type Io, startProgress } from '../io.js';
import { common, integer, positive } from '../options.js';
import { compileFilter, compileKeyReader, QUERY_EXAMPLES } from '../query.js';
import type { ReplayEvent, ReplayStats } from '../replay.js';
import { startNativeMove } from './dlq-move-tasks.js';
import { parseRedrive, shownBody } from './dlq-shared.js';

/** The `--query` help: the message view and the examples, each of them tested (test/cli/query.test.ts). */
export const QUERY_HELP = `
Selecting messages (--query): a JMESPath expression, the language of the AWS CLI's --query, over this view
of each message; a message is selected when the expression is true (not false, null, '', [] or {}):
  id            the message id
  body          the body, parsed when it is JSON, else its text
  attr.<name>   message attributes: Number types as numbers, String as text, Binary as base64
  sys.<name>    system attributes: MessageGroupId, SenderId, ...; ApproximateReceiveCount and
                SentTimestamp as numbers
Text is quoted 'text', numbers and JSON \`42\`; compare with == != < <= > >=, join with && || ! ( ).
${QUERY_EXAMPLES.map((example) => `  ${example}`).join('\n')}`;

/**
 * `idemkit dlq replay`: moves messages from a DLQ back to their queue (or `--native`: AWS's move task).
 *
 * @example
 * dlqReplay(dlq, io, done); // idemkit dlq replay --from orders-dlq --query "body.type == 'refund'" --yes
 */
export function dlqReplay(parent: Command, io: Io, done: (code: number) => void) {
  return common(
    parent
      .command('replay')
      .description(
        'Move messages from a DLQ back to a queue: send first, delete only what was sent, keep attributes and FIFO order, mark each with the replay attribute.',
      ),
  )
    .requiredOption('--from <dlq>', 'the dead-letter queue (URL or name)')
    .option('--to <queue>', "destination (URL or name) (default: the DLQ's only source queue)")
    .option('--query <expr>', 'move only messages this JMESPath expression selects (default: all); see below')
    .option(
      '--max <n>',
      'move exactly this many selected messages at most (default: no limit)',
      integer('--max', 1),
    )
    .option(
      '--rate <msgs/s>',
      'send at most this many messages per second (default: no limit)',
      positive('--rate'),
    )
    .option('--dry-run', 'show what would move (bodies hidden unless --show-bodies); move nothing', false)
    .option('--show-bodies', 'with --dry-run, print a preview of each body', false)
    .option('--keep', 'copy without deleting from the DLQ', false)
    .addOption(
      new Option('--native', "use AWS's StartMessageMoveTask (it moves every message, unmarked)")
        .default(false)
        .conflicts(['query', 'max', 'keep', 'dryRun']),
    )
    .option(
      '--wait <s>',
      'long-poll seconds per receive; an empty receive ends the run',
      integer('--wait', 0, 20),
      2,
    )
    .option(
      '--visibility-timeout <s>',
      'seconds a received message stays hidden while it is moved',
      integer('--visibility-timeout', 10, 43_200),
      120,
    )
    .option(
      '--attempts <n>',
      'attempts per message for retryable send failures',
      integer('--attempts', 1, 20),
      6,
    )
    .option('--replay-id <id>', 'value of the idemkit-replay attribute (default: timestamp/random)')
    .addHelpText(
      'after',
      `${QUERY_HELP}\n\nExample:\n  $ idemkit dlq replay --from orders-dlq --query "body.type == 'order.created'" --max 100 --rate 50 --yes\n`,
    )
    .action(async (flags) => {
      const filter = flags.query === undefined ? undefined : compileFilter(flags.query);
      const code = await withSqs('dlq replay', flags, async (sqs, sdk) => {
        const from = await resolveQueue(sqs, flags.from, '--from', flags, ['ApproximateNumberOfMessages']);
        if (flags.native) return startNativeMove(sqs, sdk, from, flags, io);
        const to =
          flags.to === undefined
            ? await discoverDestination(sqs, sdk, from, flags)
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
        if (!flags.dryRun && !flags.keep) {
          const what =
            flags.max === undefined ? 'the selected messages' : `up to ${flags.max} selected messages`;
          await confirm(
            io,
            flags.yes,
            `Move ${what} from ${from.name} to ${to.name}, deleting each from the DLQ once sent?`,
            `delete messages from ${from.name}`,
          );
        }
        const replayId =
          flags.replayId ?? `${new Date().toISOString().slice(0, 19)}Z/${randomUUID().slice(0, 8)}`;
        const { replay } = await loadCommand('dlq replay', () => import('../replay.js'));
        const depth = Number(from.attributes.ApproximateNumberOfMessages ?? '0');
        const progress = startProgress(
          io,
          flags.max === undefined ? depth : Math.min(flags.max, depth || flags.max),
          flags.json,
        );
        const wouldMove: Message[] = [];
        const problems: Problem[] = [];
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
              max: flags.max,
              rate: flags.rate,
              dryRun: flags.dryRun,
              keep: flags.keep,
              replayId,
              waitSeconds: flags.wait,
              visibilityTimeout: flags.visibilityTimeout,
              attempts: flags.attempts,
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
          flags.dryRun || (stats.moved === stats.selected && stats.failed === 0 && stats.notDeleted === 0);
        const output = renderReplay({ from, to, replayId, stats, wouldMove, problems, complete }, flags);
        for (const line of output.out) io.out(line);
        for (const line of output.err) io.err(line);
        return complete ? ExitCode.Ok : ExitCode.Incomplete;
      });
      done(code);
    });
}

interface Problem {
  readonly messageId: string;
  readonly problem: 'failed' | 'not-deleted';
  readonly reason: string;
}

/** Where a dry run looks for the job key it replaces in a shown body (`dlq peek`'s default `--key-from`). */
const jobKeyOf = compileKeyReader();

/** A message a dry run would move, with its body hidden unless `--show-bodies`, and the raw job key never shown. */
function described(message: Message, showBodies: boolean) {
  return {
    id: message.MessageId ?? '',
    ...(message.Attributes?.MessageGroupId === undefined ? {} : { group: message.Attributes.MessageGroupId }),
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? '0'),
    preview: shownBody(message, { showBodies, ...(showBodies ? { key: jobKeyOf(message) } : {}) }),
  };
}

function renderReplay(
  run: {
    from: QueueRef;
    to: QueueRef;
    replayId: string;
    stats: ReplayStats;
    wouldMove: readonly Message[];
    problems: readonly Problem[];
    complete: boolean;
  },
  flags: { json: boolean; dryRun: boolean; keep: boolean; showBodies: boolean },
): { out: string[]; err: string[] } {
  const { from, to, stats, replayId } = run;
  if (flags.json) {
    return {
      out: [
        JSON.stringify({
          from: from.url,
          to: to.url,
          replayId,
          dryRun: flags.dryRun,
          keep: flags.keep,
          ...stats,
          ...(flags.dryRun ? { wouldMove: run.wouldMove.map((m) => described(m, flags.showBodies)) } : {}),
          problems: run.problems,
          complete: run.complete,
        }),
      ],
      err: [],
    };
  }
  const out: string[] = [];
  const err: string[] = [];
  for (const message of run.wouldMove) {
    const d = described(message, flags.showBodies);
    out.push(`would move ${d.id}${d.group === undefined ? '' : ` group=${d.group}`} ${d.preview}`);
  }
  for (const problem of run.problems) {
    err.push(
      `${problem.problem === 'failed' ? 'not moved' : 'sent but not deleted from the DLQ'}: ${problem.messageId}: ${problem.reason}`,
    );
  }
  const verb = flags.dryRun ? 'Dry run, nothing moved' : flags.keep ? 'Copied (kept in the DLQ)' : 'Replayed';
  out.push(
    `${verb}: ${from.name} -> ${to.name}: ${stats.selected} selected, ${flags.dryRun ? `${stats.selected} would move` : `${stats.moved} moved`}, ${stats.skipped} skipped by the query, ${stats.failed} failed, ${stats.notDeleted} sent but not deleted, ${stats.retries} sends retried; replay id ${replayId}.`,
  );
  if (from.fifo && (flags.keep || flags.dryRun || stats.skipped > 0 || stats.failed > 0)) {
    err.push(
      `note: ${from.name} is FIFO; a message kept, skipped or failed in this run holds back the rest of its group, so those were not reached and stay in the DLQ.`,
    );
  }
  if (!run.complete) {
    err.push(
      'Not everything selected was moved: the messages listed above are still in the DLQ (or in both queues); fix the cause and run the same command again.',
    );
  }
  return { out, err };
}

/**
 * The queue that sends its failures to `dlq`, when exactly one does. Asks `ListDeadLetterSourceQueues`; a server
 * without that API (some emulators) is answered by reading every queue's redrive policy.
 */
async function discoverDestination(
  sqs: SQSClient,
  sdk: typeof import('@aws-sdk/client-sqs'),
  dlq: QueueRef,
  options: CommonOptions,
): Promise<QueueRef> {
  const { GetQueueAttributesCommand, ListDeadLetterSourceQueuesCommand, ListQueuesCommand } = sdk;
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
        if (parseRedrive(Attributes?.RedrivePolicy)?.deadLetterTargetArn === dlq.arn) sources.push(url);
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
