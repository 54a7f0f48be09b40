import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { JobQueue } from '../../infra/constructs/index.js';

function worker(stack: Stack, timeout: Duration): lambda.Function {
  return new lambda.Function(stack, 'Worker', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
    timeout,
  });
}

/** The logical id of the source queue (the one with a redrive policy) and of its dead-letter queue. */
function queueIds(template: Template): { source: string; dlq: string } {
  const queues = template.findResources('AWS::SQS::Queue');
  const source = Object.keys(queues).find((id) => queues[id]?.Properties.RedrivePolicy !== undefined);
  const dlq = Object.keys(queues).find((id) => queues[id]?.Properties.RedrivePolicy === undefined);
  if (source === undefined || dlq === undefined) throw new Error('expected a source queue and a DLQ');
  return { source, dlq };
}

describe('JobQueue provisions a queue and its dead-letter queue', () => {
  const stack = new Stack(new App(), 'Test');
  new JobQueue(stack, 'Jobs', { queueName: 'invoice-jobs', consumerTimeout: Duration.seconds(30) });
  const template = Template.fromStack(stack);
  const { source, dlq } = queueIds(template);

  it('makes exactly two queues', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2);
  });

  it('moves a message to the DLQ after 5 receives by default', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'invoice-jobs',
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
    });
  });

  it('derives the visibility timeout as six times the consumer timeout', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'invoice-jobs', VisibilityTimeout: 180 });
  });

  it('keeps DLQ messages 14 days, longer than the source keeps them (4 days)', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'invoice-jobs',
      MessageRetentionPeriod: 4 * 86_400,
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.absent(),
      MessageRetentionPeriod: 14 * 86_400,
    });
  });

  it('encrypts both queues with SQS-managed keys', () => {
    const queues = Object.values(template.findResources('AWS::SQS::Queue'));
    expect(queues.map((queue) => queue.Properties.SqsManagedSseEnabled)).toEqual([true, true]);
  });

  it('denies every request without TLS on both queues', () => {
    for (const id of [source, dlq]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: [
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              Resource: { 'Fn::GetAtt': [id, 'Arn'] },
            }),
          ],
        },
      });
    }
  });

  it('lets only its own source queue redrive into the DLQ, named by ARN', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.absent(),
      RedriveAllowPolicy: {
        redrivePermission: 'byQueue',
        sourceQueueArns: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':sqs:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':invoice-jobs',
              ],
            ],
          },
        ],
      },
    });
  });

  it('alarms as soon as one message is in the DLQ', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('alarms when the oldest message in the source is 15 minutes old', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [source, 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 900,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });
});

describe('JobQueue options', () => {
  it('names its source queue without a cycle when no name is given', () => {
    const stack = new Stack(new App(), 'Named');
    new JobQueue(stack, 'Jobs');
    const template = Template.fromStack(stack);
    const { source } = queueIds(template);
    const name = template.findResources('AWS::SQS::Queue')[source]?.Properties.QueueName as string;
    expect(name).toMatch(/^Named-Jobs-[A-Za-z0-9]+$/);
    expect(JSON.stringify(template.toJSON())).toContain(`:${name}"`);
  });

  it('takes maxReceiveCount, visibility timeout and retention as given', () => {
    const stack = new Stack(new App(), 'Test');
    new JobQueue(stack, 'Jobs', {
      maxReceiveCount: 3,
      consumerTimeout: Duration.seconds(10),
      visibilityTimeout: Duration.minutes(2),
      retentionPeriod: Duration.days(7),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }),
      VisibilityTimeout: 120,
      MessageRetentionPeriod: 7 * 86_400,
    });
  });

  it('makes both queues FIFO when asked', () => {
    const stack = new Stack(new App(), 'Test');
    new JobQueue(stack, 'Jobs', { fifo: true });
    const queues = Object.values(Template.fromStack(stack).findResources('AWS::SQS::Queue'));
    expect(queues.map((queue) => queue.Properties.FifoQueue)).toEqual([true, true]);
    expect(queues.some((queue) => String(queue.Properties.QueueName).endsWith('.fifo'))).toBe(true);
  });
});

describe('JobQueue rejects settings that lose or duplicate jobs', () => {
  const make = (props: ConstructorParameters<typeof JobQueue>[2]) => () =>
    new JobQueue(new Stack(new App(), 'Test'), 'Jobs', props);

  it('rejects a visibility timeout under six times the consumer timeout', () => {
    expect(make({ consumerTimeout: Duration.seconds(60), visibilityTimeout: Duration.seconds(300) })).toThrow(
      /Expected `visibilityTimeout` of JobQueue 'Jobs' to be at least 6 times `consumerTimeout` \(360 s\), got 300 s/,
    );
  });

  it('rejects a visibility timeout over SQS’s 12 hours', () => {
    expect(make({ consumerTimeout: Duration.hours(3) })).toThrow(/to be at most 12 hours.*got 64800 s/);
  });

  it('rejects a maxReceiveCount outside 1 to 1000', () => {
    expect(make({ maxReceiveCount: 0 })).toThrow(/Expected `maxReceiveCount` .* from 1 to 1000, got 0/);
    expect(make({ maxReceiveCount: 2.5 })).toThrow(/got 2.5/);
  });

  it('rejects a source retention as long as the DLQ’s 14 days', () => {
    expect(make({ retentionPeriod: Duration.days(14) })).toThrow(
      /Expected `retentionPeriod` .* shorter than the dead-letter queue's 14 days, got 14 days/,
    );
  });

  it('rejects an age alarm that would fire only after messages expired', () => {
    expect(
      make({ retentionPeriod: Duration.hours(1), oldestMessageAgeThreshold: Duration.hours(2) }),
    ).toThrow(/Expected `oldestMessageAgeThreshold` .* shorter than `retentionPeriod`/);
  });

  it('rejects a FIFO flag that does not match the name', () => {
    expect(make({ fifo: true, queueName: 'jobs' })).toThrow(
      /to be a name ending with '.fifo' for a FIFO queue, got 'jobs'/,
    );
    expect(make({ queueName: 'jobs.fifo' })).toThrow(
      /to be a name not ending with '.fifo' unless it is a FIFO queue/,
    );
  });
});

describe('JobQueue consumers and producers', () => {
  it('addConsumer wires an event source that reports batch item failures', () => {
    const stack = new Stack(new App(), 'Test');
    const jobs = new JobQueue(stack, 'Jobs', { consumerTimeout: Duration.seconds(30) });
    jobs.addConsumer(worker(stack, Duration.seconds(30)), {
      batchSize: 5,
      maxBatchingWindow: Duration.seconds(2),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueIds(template).source, 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 2,
    });
  });

  it('addConsumer grants the consumer exactly the receive and delete actions on the source', () => {
    const stack = new Stack(new App(), 'Test');
    const jobs = new JobQueue(stack, 'Jobs');
    jobs.addConsumer(worker(stack, Duration.seconds(30)));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'sqs:ReceiveMessage',
              'sqs:ChangeMessageVisibility',
              'sqs:GetQueueUrl',
              'sqs:DeleteMessage',
              'sqs:GetQueueAttributes',
            ],
            Resource: { 'Fn::GetAtt': [queueIds(template).source, 'Arn'] },
          },
        ],
      },
    });
  });

  it('addConsumer rejects a function whose timeout breaks the visibility rule', () => {
    const stack = new Stack(new App(), 'Test');
    const jobs = new JobQueue(stack, 'Jobs', { consumerTimeout: Duration.seconds(30) });
    expect(() => jobs.addConsumer(worker(stack, Duration.seconds(60)))).toThrow(
      /visibility timeout of JobQueue 'Jobs' \(180 s\) to be at least 6 times the timeout of consumer 'Worker' \(60 s\), that is 360 s; pass `consumerTimeout/,
    );
  });

  it('grantSendMessages lets a producer send, and nothing else', () => {
    const stack = new Stack(new App(), 'Test');
    const jobs = new JobQueue(stack, 'Jobs');
    jobs.grantSendMessages(new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() }));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
            Resource: { 'Fn::GetAtt': [queueIds(template).source, 'Arn'] },
          },
        ],
      },
    });
  });
});
