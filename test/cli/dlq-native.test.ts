import {
  CancelMessageMoveTaskCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/program.js';
import { memoryIo } from './support.js';

// fauxqs 1.9.2 does not implement StartMessageMoveTask, ListMessageMoveTasks or CancelMessageMoveTask
// (its README lists them as unsupported), so these tests check the request shapes against a mocked
// client, running the CLI in-process through the same `run` that `src/cli/main.ts` calls.
const sqs = mockClient(SQSClient);
const ARN = 'arn:aws:sqs:eu-west-1:123456789012';
const common = ['--region', 'eu-west-1', '--yes'];

beforeEach(() => {
  sqs.reset();
  sqs.on(GetQueueUrlCommand).callsFake((input: { QueueName: string }) => ({
    QueueUrl: `https://sqs.eu-west-1.amazonaws.com/123456789012/${input.QueueName}`,
  }));
  sqs.on(GetQueueAttributesCommand).callsFake((input: { QueueUrl: string }) => ({
    Attributes: { QueueArn: `${ARN}:${input.QueueUrl.split('/').pop()}` },
  }));
});

afterAll(() => sqs.restore());

describe('dlq replay --native starts an AWS move task', () => {
  it('sends StartMessageMoveTask with the source, destination and rate', async () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-1' });
    const io = memoryIo();
    const code = await run(
      ['dlq', 'replay', '--native', '--from', 'orders-dlq', '--to', 'orders', '--rate', '50', ...common],
      io,
    );
    expect(code).toBe(0);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand).map((call) => call.args[0].input)).toEqual([
      { SourceArn: `${ARN}:orders-dlq`, DestinationArn: `${ARN}:orders`, MaxNumberOfMessagesPerSecond: 50 },
    ]);
    expect(io.stdout.join('\n')).toContain('handle-1');
  });

  it('leaves DestinationArn out without --to, so AWS returns each message to its source queue', async () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-2' });
    const code = await run(['dlq', 'replay', '--native', '--from', 'orders-dlq', ...common], memoryIo());
    expect(code).toBe(0);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]?.args[0].input).toEqual({
      SourceArn: `${ARN}:orders-dlq`,
    });
  });

  it('refuses --native with --query, because a move task moves every message', async () => {
    const io = memoryIo();
    const code = await run(
      ['dlq', 'replay', '--native', '--from', 'orders-dlq', '--query', 'id', ...common],
      io,
    );
    expect(code).toBe(2);
    expect(io.stderrLines).toEqual([
      'idemkit: `--native` cannot be combined with `--query`; drop one of them (run `idemkit dlq replay --help` for what each does).',
    ]);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
  });
});

describe('dlq status and dlq cancel', () => {
  it('lists the move tasks of the DLQ with ListMessageMoveTasks', async () => {
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [
        {
          Status: 'RUNNING',
          TaskHandle: 'handle-3',
          ApproximateNumberOfMessagesMoved: 40,
          ApproximateNumberOfMessagesToMove: 100,
          SourceArn: `${ARN}:orders-dlq`,
        },
      ],
    });
    const io = memoryIo();
    expect(await run(['dlq', 'status', '--from', 'orders-dlq', '--region', 'eu-west-1'], io)).toBe(0);
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)[0]?.args[0].input).toEqual({
      SourceArn: `${ARN}:orders-dlq`,
      MaxResults: 10,
    });
    expect(io.stdout.join('\n')).toMatch(/RUNNING\s+40\s+100/);
  });

  it('cancels the running task of the DLQ by its handle', async () => {
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [
        { Status: 'RUNNING', TaskHandle: 'handle-4' },
        { Status: 'COMPLETED', TaskHandle: 'handle-old' },
      ],
    });
    sqs.on(CancelMessageMoveTaskCommand).resolves({ ApproximateNumberOfMessagesMoved: 12 });
    const io = memoryIo();
    expect(await run(['dlq', 'cancel', '--from', 'orders-dlq', '--region', 'eu-west-1'], io)).toBe(0);
    expect(sqs.commandCalls(CancelMessageMoveTaskCommand).map((call) => call.args[0].input)).toEqual([
      { TaskHandle: 'handle-4' },
    ]);
    expect(io.stdout).toEqual(['Cancelled move task handle-4; about 12 messages had moved.']);
  });

  it('says so and exits 1 when no task is running', async () => {
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolves({ Results: [{ Status: 'COMPLETED', TaskHandle: 'handle-old' }] });
    const io = memoryIo();
    expect(await run(['dlq', 'cancel', '--from', 'orders-dlq', '--region', 'eu-west-1'], io)).toBe(1);
    expect(io.stderrLines).toEqual([
      'idemkit: No move task is running on orders-dlq; see `idemkit dlq status --from orders-dlq`.',
    ]);
    expect(sqs.commandCalls(CancelMessageMoveTaskCommand)).toHaveLength(0);
  });
});
