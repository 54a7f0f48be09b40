import type { ListMessageMoveTasksResultEntry, SQSClient } from '@aws-sdk/client-sqs';
import { type Command, Option } from '@commander-js/extra-typings';
import { REPLAY_ATTRIBUTE } from '../../sqs/replay-marker.js';
import { type QueueRef, resolveQueue, withSqs } from '../aws.js';
import { CliError, ExitCode } from '../errors.js';
import { confirm, type Io, table } from '../io.js';
import { common } from '../options.js';

type Sqs = typeof import('@aws-sdk/client-sqs');

/**
 * `idemkit dlq replay --native`: starts AWS's message move task (StartMessageMoveTask), which moves every message
 * unmarked; `--rate` is AWS's MaxNumberOfMessagesPerSecond (1 to 500).
 *
 * @example
 * if (flags.native) return startNativeMove(sqs, sdk, from, flags, io);
 */
export async function startNativeMove(
  sqs: SQSClient,
  sdk: Sqs,
  from: QueueRef,
  flags: {
    to?: string;
    rate?: number;
    yes: boolean;
    json: boolean;
    region?: string;
    endpoint?: string;
    profile?: string;
  },
  io: Io,
): Promise<number> {
  const to = flags.to === undefined ? undefined : await resolveQueue(sqs, flags.to, '--to', flags);
  const { rate } = flags;
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
    new sdk.StartMessageMoveTaskCommand({
      SourceArn: from.arn,
      ...(to === undefined ? {} : { DestinationArn: to.arn }),
      ...(rate === undefined ? {} : { MaxNumberOfMessagesPerSecond: rate }),
    }),
  );
  io.out(
    flags.json
      ? JSON.stringify({ taskHandle: output.TaskHandle, source: from.arn, destination: to?.arn ?? null })
      : `Started a move task from ${from.name} to ${to?.name ?? 'the source queues'}: task handle ${output.TaskHandle}. Follow it with \`idemkit dlq status --from ${from.name}\`; native moves carry no \`${REPLAY_ATTRIBUTE}\` marker, so FAILED jobs stay failed.`,
  );
  return ExitCode.Ok;
}

/**
 * `idemkit dlq status`: AWS's move tasks on a DLQ (ListMessageMoveTasks).
 *
 * @example
 * dlqStatus(dlq, io, done); // idemkit dlq status --from orders-dlq
 */
export function dlqStatus(parent: Command, io: Io, done: (code: number) => void) {
  return common(
    parent.command('status').description("List AWS's message move tasks on a DLQ (ListMessageMoveTasks)."),
  )
    .requiredOption('--from <dlq>', 'the dead-letter queue (URL or name)')
    .addHelpText('after', '\nExample:\n  $ idemkit dlq status --from orders-dlq\n')
    .action(async (flags) => {
      const { from, tasks } = await withSqs('dlq status', flags, async (sqs, sdk) => {
        const from = await resolveQueue(sqs, flags.from, '--from', flags);
        const { Results = [] } = await sqs.send(
          new sdk.ListMessageMoveTasksCommand({ SourceArn: from.arn, MaxResults: 10 }),
        );
        return { from, tasks: Results };
      });
      for (const line of renderStatus(from, tasks, flags.json)) io.out(line);
      done(ExitCode.Ok);
    });
}

function renderStatus(
  from: QueueRef,
  tasks: readonly ListMessageMoveTasksResultEntry[],
  json: boolean,
): string[] {
  if (json) return [JSON.stringify({ source: from.arn, tasks })];
  if (tasks.length === 0) return [`No move tasks on ${from.name} in the last 14 days.`];
  return [
    table([
      ['STATUS', 'MOVED', 'TO MOVE', 'STARTED', 'DESTINATION', 'TASK HANDLE / FAILURE'],
      ...tasks.map((task) => [
        task.Status ?? '',
        String(task.ApproximateNumberOfMessagesMoved ?? 0),
        String(task.ApproximateNumberOfMessagesToMove ?? '?'),
        task.StartedTimestamp === undefined ? '' : new Date(task.StartedTimestamp).toISOString(),
        task.DestinationArn?.split(':').pop() ?? 'source queues',
        task.FailureReason ?? task.TaskHandle ?? '',
      ]),
    ]).join('\n'),
  ];
}

/**
 * `idemkit dlq cancel`: cancels the running move task of a DLQ, or the one `--task-handle` names.
 *
 * @example
 * dlqCancel(dlq, io, done); // idemkit dlq cancel --from orders-dlq
 */
export function dlqCancel(parent: Command, io: Io, done: (code: number) => void) {
  return common(
    parent.command('cancel').description("Cancel AWS's running message move task (CancelMessageMoveTask)."),
  )
    .option('--from <dlq>', 'cancel the running task of this DLQ')
    .addOption(new Option('--task-handle <handle>', 'cancel this task (from `dlq status`)').conflicts('from'))
    .addHelpText('after', '\nExample:\n  $ idemkit dlq cancel --from orders-dlq\n')
    .action(async (flags) => {
      if (flags.from === undefined && flags.taskHandle === undefined) {
        throw new CliError(
          'Expected one of `--from <dlq>` or `--task-handle <handle>`; pass the DLQ whose running task to cancel.',
        );
      }
      const { handle, moved } = await withSqs('dlq cancel', flags, async (sqs, sdk) => {
        let handle = flags.taskHandle;
        if (handle === undefined) {
          const from = await resolveQueue(sqs, flags.from as string, '--from', flags);
          const { Results = [] } = await sqs.send(
            new sdk.ListMessageMoveTasksCommand({ SourceArn: from.arn, MaxResults: 10 }),
          );
          handle = Results.find((task) => task.Status === 'RUNNING')?.TaskHandle;
          if (handle === undefined) {
            throw new CliError(
              `No move task is running on ${from.name}; see \`idemkit dlq status --from ${from.name}\`.`,
              { exitCode: ExitCode.Incomplete },
            );
          }
        }
        const output = await sqs.send(new sdk.CancelMessageMoveTaskCommand({ TaskHandle: handle }));
        return { handle, moved: output.ApproximateNumberOfMessagesMoved ?? 0 };
      });
      io.out(
        flags.json
          ? JSON.stringify({ taskHandle: handle, cancelled: true, moved })
          : `Cancelled move task ${handle}; about ${moved} messages had moved.`,
      );
      done(ExitCode.Ok);
    });
}

/**
 * `idemkit dlq status` and `idemkit dlq cancel`: AWS's message move tasks (started by `dlq replay --native`).
 *
 * @example
 * dlqMoveTasks(dlq, io, done);
 */
export function dlqMoveTasks(parent: Command, io: Io, done: (code: number) => void): void {
  dlqStatus(parent, io, done);
  dlqCancel(parent, io, done);
}
