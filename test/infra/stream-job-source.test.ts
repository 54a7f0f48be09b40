import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import {
  DynamoDBStreamJobSource,
  type DynamoDBStreamJobSourceProps,
  IdempotencyTable,
  KafkaJobSource,
  type KafkaJobSourceProps,
  KinesisJobSource,
  type KinesisJobSourceProps,
  RECORD_ACTIONS,
} from '../../infra/constructs/index.js';

const CLUSTER_ARN =
  'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/abcd1234-abcd-cafe-abab-9876543210ab-4';

interface Fixture {
  readonly stack: Stack;
  readonly worker: lambda.Function;
  readonly table: IdempotencyTable;
}

function fixture(): Fixture {
  const stack = new Stack(new App(), 'Test');
  const worker = new lambda.Function(stack, 'Worker', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
    timeout: Duration.seconds(30),
  });
  return { stack, worker, table: new IdempotencyTable(stack, 'Idempotency') };
}

function kinesisSource(
  props: Partial<KinesisJobSourceProps> = {},
  streamProps: kinesis.StreamProps = {},
): Fixture & { template: Template; stream: kinesis.Stream } {
  const base = fixture();
  const stream = new kinesis.Stream(base.stack, 'Orders', {
    encryption: kinesis.StreamEncryption.MANAGED,
    ...streamProps,
  });
  new KinesisJobSource(base.stack, 'OrderStream', {
    stream,
    consumer: base.worker,
    idempotencyTable: base.table,
    ...props,
  });
  return { ...base, stream, template: Template.fromStack(base.stack) };
}

function ordersTable(stack: Stack, stream?: dynamodb.StreamViewType): dynamodb.Table {
  return new dynamodb.Table(stack, 'Orders', {
    partitionKey: { name: 'orderId', type: dynamodb.AttributeType.STRING },
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(stream === undefined ? {} : { stream }),
  });
}

function dynamodbSource(
  props: Partial<DynamoDBStreamJobSourceProps> = {},
): Fixture & { template: Template; orders: dynamodb.Table } {
  const base = fixture();
  const orders = ordersTable(base.stack, dynamodb.StreamViewType.NEW_AND_OLD_IMAGES);
  new DynamoDBStreamJobSource(base.stack, 'OrderChanges', {
    table: orders,
    consumer: base.worker,
    idempotencyTable: base.table,
    ...props,
  });
  return { ...base, orders, template: Template.fromStack(base.stack) };
}

function kafkaSource(props: Partial<KafkaJobSourceProps> = { clusterArn: CLUSTER_ARN }): Fixture & {
  template: Template;
} {
  const base = fixture();
  new KafkaJobSource(base.stack, 'OrderTopic', {
    topic: 'orders',
    consumer: base.worker,
    idempotencyTable: base.table,
    ...props,
  });
  return { ...base, template: Template.fromStack(base.stack) };
}

/** The logical id of the only SQS queue in the stack (the on-failure queue). */
function failureQueueId(template: Template): string {
  const ids = Object.keys(template.findResources('AWS::SQS::Queue'));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

/** The logical id of the idempotency table. */
function tableId(stack: Stack, table: IdempotencyTable): string {
  return stack.getLogicalId(table.table.node.defaultChild as dynamodb.CfnTable);
}

/** The statements of every IAM policy in the stack. */
function statements(template: Template): Record<string, unknown>[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement,
  );
}

describe('KinesisJobSource wires the stream so that no record is retried forever', () => {
  const { template, stack, stream, table, worker } = kinesisSource();
  const streamId = stack.getLogicalId(stream.node.defaultChild as kinesis.CfnStream);

  it('maps the stream to the consumer with partial batch responses', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [streamId, 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('bisects a batch whose invocation throws', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BisectBatchOnFunctionError: true });
  });

  it('retries a failed batch 5 times by default, never -1', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: 5 });
  });

  it('discards records older than 6 hours by default, never -1', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRecordAgeInSeconds: 21_600 });
  });

  it('sends what it discards to its own on-failure queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [failureQueueId(template), 'Arn'] } } },
    });
  });

  it('starts at the oldest record the stream holds, 100 records a batch, one batch a shard', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      ParallelizationFactor: 1,
    });
  });

  it('encrypts the on-failure queue with SQS-managed keys and keeps messages 14 days', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
  });

  it('denies every request to the on-failure queue without TLS', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: failureQueueId(template) }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      },
    });
  });

  it('alarms as soon as one message is in the on-failure queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [failureQueueId(template), 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('alarms when the consumer has read records 3 hours old (half the record age) for 5 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Namespace: 'AWS/Lambda',
      Dimensions: [
        {
          Name: 'FunctionName',
          Value: { Ref: stack.getLogicalId(worker.node.defaultChild as lambda.CfnFunction) },
        },
      ],
      Statistic: 'Maximum',
      Threshold: 3 * 3600 * 1000,
      EvaluationPeriods: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('grants the consumer exactly the record actions on the idempotency table', () => {
    expect(statements(template)).toContainEqual({
      Effect: 'Allow',
      Action: [...RECORD_ACTIONS],
      Resource: { 'Fn::GetAtt': [tableId(stack, table), 'Arn'] },
    });
  });

  it('lets the consumer send to the on-failure queue (Lambda sends with the function’s role)', () => {
    expect(statements(template)).toContainEqual({
      Effect: 'Allow',
      Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      Resource: { 'Fn::GetAtt': [failureQueueId(template), 'Arn'] },
    });
  });

  it('lets the consumer read the stream, on the stream only', () => {
    const read = statements(template).find((statement) =>
      (statement.Action as string[]).includes('kinesis:GetRecords'),
    );
    expect(read?.Resource).toEqual({ 'Fn::GetAtt': [streamId, 'Arn'] });
  });
});

describe('KinesisJobSource options', () => {
  it('takes retries, record age, batch size, parallelization and start as given', () => {
    kinesisSource({
      retryAttempts: 0,
      maxRecordAge: Duration.minutes(30),
      batchSize: 10,
      parallelizationFactor: 4,
      startingPosition: lambda.StartingPosition.LATEST,
      maxBatchingWindow: Duration.seconds(2),
    }).template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MaximumRetryAttempts: 0,
      MaximumRecordAgeInSeconds: 1800,
      BatchSize: 10,
      ParallelizationFactor: 4,
      StartingPosition: 'LATEST',
      MaximumBatchingWindowInSeconds: 2,
    });
  });

  it('accepts a record age up to a longer stream retention', () => {
    kinesisSource(
      { maxRecordAge: Duration.hours(30) },
      { retentionPeriod: Duration.hours(48) },
    ).template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MaximumRecordAgeInSeconds: 30 * 3600,
    });
  });

  it('takes the iterator-age threshold as given', () => {
    kinesisSource({ iteratorAgeThreshold: Duration.minutes(10) }).template.hasResourceProperties(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'IteratorAge', Threshold: 600_000 },
    );
  });

  it('names the on-failure queue and sets the alarm threshold when asked', () => {
    const { template } = kinesisSource({ failureQueueName: 'orders-failures', failureDepthThreshold: 5 });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'orders-failures' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 5 });
  });
});

describe('KinesisJobSource rejects settings that retry forever or lose records', () => {
  const make = (props: Partial<KinesisJobSourceProps>) => () => kinesisSource(props);

  it('rejects -1 retries, Lambda’s "until the record expires"', () => {
    expect(make({ retryAttempts: -1 })).toThrow(
      /Expected `retryAttempts` of KinesisJobSource 'OrderStream' to be a whole number from 0 to 10000, got -1; Lambda would retry until the record expires/,
    );
  });

  it('rejects retries outside 0 to 10000 or not whole', () => {
    expect(make({ retryAttempts: 10_001 })).toThrow(/from 0 to 10000, got 10001/);
    expect(make({ retryAttempts: 2.5 })).toThrow(/from 0 to 10000, got 2.5/);
  });

  it('rejects a record age under 60 seconds or over 7 days', () => {
    expect(make({ maxRecordAge: Duration.seconds(30) })).toThrow(
      /Expected `maxRecordAge` of KinesisJobSource 'OrderStream' to be from 60 seconds to 7 days, got 30 seconds/,
    );
    expect(make({ maxRecordAge: Duration.days(8) })).toThrow(/from 60 seconds to 7 days, got 8 days/);
  });

  it('rejects a record age as long as the stream’s retention', () => {
    expect(make({ maxRecordAge: Duration.hours(24) })).toThrow(
      /Expected `maxRecordAge` .* shorter than the stream's retention \(1 day\), got 1 day; a failing record would expire/,
    );
  });

  it('rejects a batch size outside 1 to 10000', () => {
    expect(make({ batchSize: 0 })).toThrow(/Expected `batchSize` .* from 1 to 10000, got 0/);
    expect(make({ batchSize: 10_001 })).toThrow(/got 10001/);
  });

  it('rejects a parallelization factor outside 1 to 10', () => {
    expect(make({ parallelizationFactor: 11 })).toThrow(
      /Expected `parallelizationFactor` of KinesisJobSource 'OrderStream' to be a whole number from 1 to 10, got 11/,
    );
  });

  it('rejects an iterator-age alarm that would fire only after records were discarded', () => {
    expect(make({ maxRecordAge: Duration.hours(1), iteratorAgeThreshold: Duration.hours(1) })).toThrow(
      /Expected `iteratorAgeThreshold` of KinesisJobSource 'OrderStream' to be at least 1 second and shorter than `maxRecordAge` \(1 hour\), got 1 hour/,
    );
  });

  it('rejects an alarm threshold under 1', () => {
    expect(make({ failureDepthThreshold: 0 })).toThrow(
      /Expected `failureDepthThreshold` .* at least 1, got 0/,
    );
  });
});

describe('DynamoDBStreamJobSource wires a table’s stream the same way', () => {
  const { template, stack, orders, table } = dynamodbSource();
  const ordersId = stack.getLogicalId(orders.node.defaultChild as dynamodb.CfnTable);

  it('maps the table’s stream with partial batch responses, bisect, 5 retries and 6 hours', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [ordersId, 'StreamArn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 21_600,
      StartingPosition: 'TRIM_HORIZON',
    });
  });

  it('sends what it discards to its own encrypted on-failure queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [failureQueueId(template), 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  it('alarms on the consumer’s iterator age at half the record age', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Threshold: 3 * 3600 * 1000,
    });
  });

  it('lets the consumer read the stream, on the stream’s ARN', () => {
    expect(statements(template)).toContainEqual({
      Effect: 'Allow',
      Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
      Resource: { 'Fn::GetAtt': [ordersId, 'StreamArn'] },
    });
  });

  it('grants the consumer the record actions on the idempotency table', () => {
    expect(statements(template)).toContainEqual({
      Effect: 'Allow',
      Action: [...RECORD_ACTIONS],
      Resource: { 'Fn::GetAtt': [tableId(stack, table), 'Arn'] },
    });
  });

  it('rejects a record age as long as the stream’s 24 hours', () => {
    expect(() => dynamodbSource({ maxRecordAge: Duration.hours(24) })).toThrow(
      /Expected `maxRecordAge` of DynamoDBStreamJobSource 'OrderChanges' to be shorter than the stream's retention \(1 day\)/,
    );
  });

  it('rejects a table without a stream, saying how to add one', () => {
    const base = fixture();
    const orders = ordersTable(base.stack);
    expect(
      () =>
        new DynamoDBStreamJobSource(base.stack, 'OrderChanges', {
          table: orders,
          consumer: base.worker,
          idempotencyTable: base.table,
        }),
    ).toThrow(
      /Expected the `table` of DynamoDBStreamJobSource 'OrderChanges' to be a table with a stream, got 'Test\/Orders'; set `stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES`/,
    );
  });

  it('rejects -1 retries', () => {
    expect(() => dynamodbSource({ retryAttempts: -1 })).toThrow(/`retryAttempts` .* got -1/);
  });
});

describe('KafkaJobSource wires a topic in provisioned mode', () => {
  const { template } = kafkaSource();

  it('maps the MSK topic with partial batch responses, bisect, 5 retries and 6 hours', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: CLUSTER_ARN,
      Topics: ['orders'],
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 21_600,
    });
  });

  it('provisions pollers, which Lambda requires for Kafka’s error handling', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 200 },
    });
  });

  it('sends what it discards to its own encrypted on-failure queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [failureQueueId(template), 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  it('takes the pollers as given', () => {
    kafkaSource({
      clusterArn: CLUSTER_ARN,
      provisionedPollers: { minimumPollers: 2, maximumPollers: 10 },
    }).template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 10 },
    });
  });

  it('reads a self-managed cluster by its brokers, with its secret', () => {
    const base = fixture();
    const secret = new secretsmanager.Secret(base.stack, 'KafkaCredentials');
    new KafkaJobSource(base.stack, 'OrderTopic', {
      topic: 'orders',
      bootstrapServers: ['broker-1.example.com:9096'],
      secret,
      consumer: base.worker,
      idempotencyTable: base.table,
    });
    Template.fromStack(base.stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['broker-1.example.com:9096'] } },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 5,
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 200 },
    });
  });

  it('rejects neither or both of clusterArn and bootstrapServers', () => {
    expect(() => kafkaSource({})).toThrow(
      /Expected the cluster of KafkaJobSource 'OrderTopic' to be given by exactly one of `clusterArn` \(MSK\) or `bootstrapServers` \(self-managed\), got 'neither'/,
    );
    expect(() => kafkaSource({ clusterArn: CLUSTER_ARN, bootstrapServers: ['b:9092'] })).toThrow(
      /got 'both'/,
    );
  });

  it('rejects self-managed settings on an MSK cluster', () => {
    const base = fixture();
    expect(
      () =>
        new KafkaJobSource(base.stack, 'OrderTopic', {
          topic: 'orders',
          clusterArn: CLUSTER_ARN,
          consumer: base.worker,
          idempotencyTable: base.table,
          vpcSubnets: {},
        }),
    ).toThrow(/Expected `vpcSubnets` of KafkaJobSource 'OrderTopic' to be left out for an MSK cluster/);
  });

  it('rejects -1 retries and a record age over 7 days', () => {
    expect(() => kafkaSource({ clusterArn: CLUSTER_ARN, retryAttempts: -1 })).toThrow(/got -1/);
    expect(() => kafkaSource({ clusterArn: CLUSTER_ARN, maxRecordAge: Duration.days(8) })).toThrow(
      /from 60 seconds to 7 days, got 8 days/,
    );
  });
});

describe('cdk-nag AwsSolutions over a stack with all three sources', () => {
  const { stack, worker, table } = fixture();
  const stream = new kinesis.Stream(stack, 'OrderEvents', { encryption: kinesis.StreamEncryption.MANAGED });
  new KinesisJobSource(stack, 'OrderStream', { stream, consumer: worker, idempotencyTable: table });
  const orders = ordersTable(stack, dynamodb.StreamViewType.NEW_IMAGE);
  new DynamoDBStreamJobSource(stack, 'OrderChanges', {
    table: orders,
    consumer: worker,
    idempotencyTable: table,
  });
  new KafkaJobSource(stack, 'OrderTopic', {
    clusterArn: CLUSTER_ARN,
    topic: 'orders',
    consumer: worker,
    idempotencyTable: table,
  });
  // The fixture's own function, as the reference stack acknowledges for its functions.
  Validations.of(worker).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'Node.js 22 is the runtime idemkit supports and tests (engines.node >=22).',
  });
  Validations.of(worker).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason: 'The basic execution role only lets the function write its own logs.',
  });
  const report = new AwsSolutionsChecks().validateScope(stack);

  it('finds no error left unacknowledged', () => {
    const errors = report.violations.filter((violation) => violation.severity === 'error');
    expect(errors.map((violation) => `${violation.ruleName}: ${violation.description}`)).toEqual([]);
  });

  it('acknowledges, in the constructs, only what the event sources cause, each with a written reason', () => {
    const own = acknowledgments(stack).filter((ack) => !ack.path.startsWith('Test/Worker/Resource'));
    expect([...new Set(own.map((ack) => `${ack.path} ${ack.id}`))].sort()).toEqual([
      'Test/OrderChanges/FailureQueue AwsSolutions-SQS3',
      'Test/OrderStream/FailureQueue AwsSolutions-SQS3',
      'Test/OrderTopic/FailureQueue AwsSolutions-SQS3',
      'Test/Worker AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'Test/Worker AwsSolutions-L1',
      'Test/Worker/ServiceRole AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole]',
      'Test/Worker/ServiceRole/DefaultPolicy AwsSolutions-IAM5[Resource::*]',
    ]);
    for (const ack of own) expect(ack.reason.length).toBeGreaterThan(40);
  });
});

/** Every `Validations.of(...).acknowledge(...)` in the tree, with the path it was made on. */
function acknowledgments(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .map(([id, reason]) => ({ path: construct.node.path, id: id.replace(/^Annotation::/, ''), reason })),
  );
}
