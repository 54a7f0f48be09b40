import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { expected } from '../../src/core/messages.js';
import type { IIdempotencyTable } from './idempotency-table.js';
import { DEAD_LETTER_RETENTION } from './job-queue.js';

/** The most retries Lambda accepts short of `-1`, which means "until the record expires". */
export const MAX_STREAM_RETRY_ATTEMPTS = 10_000;
/** The shortest and longest `maxRecordAge` Lambda accepts short of `-1` (never discard). */
export const MIN_RECORD_AGE = Duration.seconds(60);
export const MAX_RECORD_AGE = Duration.days(7);
/** What Kinesis keeps by default and DynamoDB Streams always keeps: records older than this are gone. */
export const DEFAULT_STREAM_RETENTION = Duration.hours(24);

/**
 * Props every stream job source takes ({@link KinesisJobSource}, {@link DynamoDBStreamJobSource},
 * {@link KafkaJobSource}).
 *
 * @example
 * { consumer: worker, idempotencyTable: table, retryAttempts: 5, maxRecordAge: Duration.hours(6) }
 */
export interface StreamJobSourceProps {
  /** The function that runs `kinesisJobs`, `dynamodbStreamJobs` or `kafkaJobs`. */
  readonly consumer: lambda.IFunction;
  /** The table of the consumer's records; the consumer gets `grantRecords` on it. */
  readonly idempotencyTable: IIdempotencyTable;
  /**
   * Where a new mapping starts reading.
   * @default lambda.StartingPosition.TRIM_HORIZON - every record the stream still holds is delivered;
   *   jobs already completed under the same scope are skipped by their records, not run again
   */
  readonly startingPosition?: lambda.StartingPosition;
  /**
   * Records per invocation (1 to the source's limit: 10000).
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * How long Lambda gathers records before invoking (at most 5 minutes).
   * @default - none on Kinesis and DynamoDB Streams, 500 ms on Kafka (Lambda's defaults)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Retries of a failed batch before its failed records go to the on-failure queue (0 to 10000). Lambda's
   * own `-1` (retry until the record expires) is refused: one bad record would stop its shard or partition
   * for the stream's whole retention.
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this are not retried but sent to the on-failure queue (60 seconds to 7 days, and
   * shorter than the stream's retention, so the queue learns of a record before the stream drops it).
   * @default Duration.hours(6) - leaves 18 hours of a 24-hour stream to read the failed records back
   */
  readonly maxRecordAge?: Duration;
  /**
   * The on-failure queue's name.
   * @default - a name CloudFormation generates
   */
  readonly failureQueueName?: string;
  /**
   * Messages in the on-failure queue that raise its alarm.
   * @default 1 - every discarded batch needs an operator
   */
  readonly failureDepthThreshold?: number;
}

/** What a source tells the shared part: its name in messages, its batch limit and its retention. */
export interface StreamSourceLimits {
  /** `KinesisJobSource`, for messages. */
  readonly kind: string;
  readonly maxBatchSize: number;
  /** How long the source keeps a record, when known: `maxRecordAge` must be shorter. */
  readonly retention?: Duration;
}

/**
 * Props of a source read shard by shard (Kinesis, DynamoDB Streams): how many batches of a shard run at once,
 * and when the consumer falls behind.
 */
export interface ShardedStreamJobSourceProps extends StreamJobSourceProps {
  /**
   * Batches of one shard processed at once (1 to 10). Lambda keeps the order of each partition key (Kinesis)
   * or item (DynamoDB Streams) at any factor, which is the order the job runner keeps.
   * @default 1
   */
  readonly parallelizationFactor?: number;
  /**
   * The age of the last record the consumer read (`IteratorAge`, per function) that raises the alarm, over
   * 5 minutes; shorter than `maxRecordAge`, so it fires before records are discarded.
   * @default - half of `maxRecordAge` (3 hours by default)
   */
  readonly iteratorAgeThreshold?: Duration;
}

/**
 * Binds a sharded stream's event source to the consumer, with a validated `parallelizationFactor`, and adds
 * the `IteratorAge` alarm.
 *
 * @example
 * ({ eventSource: this.eventSource, iteratorAgeAlarm: this.iteratorAgeAlarm } = bindShardedSource(
 *   this, 'KinesisJobSource', props, (parallelizationFactor) =>
 *     new KinesisEventSource(props.stream, { ...this.errorHandling, parallelizationFactor })));
 */
export function bindShardedSource<Source extends lambda.IEventSource>(
  source: StreamJobSource,
  kind: string,
  props: ShardedStreamJobSourceProps,
  create: (parallelizationFactor: number) => Source,
): { eventSource: Source; iteratorAgeAlarm: cloudwatch.Alarm } {
  const eventSource = create(parallelizationFactorOf(kind, source.node.id, props.parallelizationFactor));
  props.consumer.addEventSource(eventSource);
  return {
    eventSource,
    iteratorAgeAlarm: iteratorAgeAlarm(source, kind, props.consumer, props.iteratorAgeThreshold),
  };
}

/** A validated `parallelizationFactor` (1 to 10) for Kinesis and DynamoDB Streams sources. */
function parallelizationFactorOf(kind: string, id: string, value: number | undefined): number {
  const factor = value ?? 1;
  if (!Number.isInteger(factor) || factor < 1 || factor > 10) {
    throw new Error(
      expected(`\`parallelizationFactor\` of ${kind} '${id}'`, 'a whole number from 1 to 10', factor),
    );
  }
  return factor;
}

/**
 * An alarm on the consumer's `IteratorAge` (Kinesis and DynamoDB Streams): the age of the last record it
 * read. It fires while records can still be processed, before `maxRecordAge` discards them.
 */
function iteratorAgeAlarm(
  source: StreamJobSource,
  kind: string,
  consumer: lambda.IFunction,
  threshold: Duration | undefined,
): cloudwatch.Alarm {
  const id = source.node.id;
  const age = threshold ?? Duration.seconds(Math.floor(source.maxRecordAge.toSeconds() / 2));
  if (age.toSeconds() < 1 || age.toSeconds() >= source.maxRecordAge.toSeconds()) {
    throw new Error(
      `Expected \`iteratorAgeThreshold\` of ${kind} '${id}' to be at least 1 second and shorter than \`maxRecordAge\` (${source.maxRecordAge.toHumanString()}), got ${age.toHumanString()}; records would be discarded before the alarm.`,
    );
  }
  return new cloudwatch.Alarm(source, 'IteratorAgeAlarm', {
    alarmDescription: `The consumer of ${source.node.path} reads records older than ${age.toHumanString()}: it is failing, throttled or too slow, and records older than ${source.maxRecordAge.toHumanString()} go to the on-failure queue.`,
    metric: new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: 'IteratorAge',
      dimensionsMap: { FunctionName: consumer.functionName },
      period: Duration.minutes(1),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    // IteratorAge is in milliseconds.
    threshold: age.toMilliseconds(),
    evaluationPeriods: 5,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/** The error-handling part of an event source's props, the same for every stream source. */
export interface StreamErrorHandling {
  readonly startingPosition: lambda.StartingPosition;
  readonly batchSize: number;
  readonly maxBatchingWindow?: Duration;
  readonly reportBatchItemFailures: true;
  readonly bisectBatchOnError: true;
  readonly retryAttempts: number;
  readonly maxRecordAge: Duration;
  readonly onFailure: lambda.IEventSourceDlq;
}

/**
 * What every stream job source shares: validated retry settings, an encrypted on-failure queue with a depth
 * alarm, and the consumer's grants on the idempotency table. Each source adds its event source.
 *
 * @example
 * class MyJobSource extends StreamJobSource { ... }
 */
export abstract class StreamJobSource extends Construct {
  /** Where Lambda sends what it discards: an invocation record naming the batch and why it was dropped. */
  readonly failureQueue: sqs.Queue;
  /** In alarm when the on-failure queue holds `failureDepthThreshold` messages or more. */
  readonly failureDepthAlarm: cloudwatch.Alarm;
  /** The retries of a failed batch (never infinite). */
  readonly retryAttempts: number;
  /** The age past which a record is discarded to the on-failure queue. */
  readonly maxRecordAge: Duration;
  /** The settings every source passes to its event source. */
  protected readonly errorHandling: StreamErrorHandling;

  protected constructor(
    scope: Construct,
    id: string,
    props: StreamJobSourceProps,
    limits: StreamSourceLimits,
  ) {
    super(scope, id);
    const subject = (name: string) => `\`${name}\` of ${limits.kind} '${id}'`;
    const batchSize = props.batchSize ?? 100;
    this.retryAttempts = props.retryAttempts ?? 5;
    this.maxRecordAge = props.maxRecordAge ?? Duration.hours(6);
    const failureDepthThreshold = props.failureDepthThreshold ?? 1;

    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > limits.maxBatchSize) {
      throw new Error(
        expected(subject('batchSize'), `a whole number from 1 to ${limits.maxBatchSize}`, batchSize),
      );
    }
    if (this.retryAttempts === -1) {
      throw new Error(
        expected(
          subject('retryAttempts'),
          `a whole number from 0 to ${MAX_STREAM_RETRY_ATTEMPTS}`,
          -1,
          'Lambda would retry until the record expires and hold up its shard or partition all that time; give a bound',
        ),
      );
    }
    if (
      !Number.isInteger(this.retryAttempts) ||
      this.retryAttempts < 0 ||
      this.retryAttempts > MAX_STREAM_RETRY_ATTEMPTS
    ) {
      throw new Error(
        expected(
          subject('retryAttempts'),
          `a whole number from 0 to ${MAX_STREAM_RETRY_ATTEMPTS}`,
          this.retryAttempts,
        ),
      );
    }
    const age = this.maxRecordAge.toSeconds();
    if (age < MIN_RECORD_AGE.toSeconds() || age > MAX_RECORD_AGE.toSeconds()) {
      throw new Error(
        `Expected ${subject('maxRecordAge')} to be from 60 seconds to 7 days, got ${this.maxRecordAge.toHumanString()}; Lambda's own -1 (never discard) is not offered, because records would then wait until the stream drops them.`,
      );
    }
    if (limits.retention !== undefined && age >= limits.retention.toSeconds()) {
      throw new Error(
        `Expected ${subject('maxRecordAge')} to be shorter than the stream's retention (${limits.retention.toHumanString()}), got ${this.maxRecordAge.toHumanString()}; a failing record would expire from the stream without ever reaching the on-failure queue.`,
      );
    }
    if (!Number.isInteger(failureDepthThreshold) || failureDepthThreshold < 1) {
      throw new Error(
        expected(subject('failureDepthThreshold'), 'a whole number of at least 1', failureDepthThreshold),
      );
    }

    this.failureQueue = new sqs.Queue(this, 'FailureQueue', {
      ...(props.failureQueueName === undefined ? {} : { queueName: props.failureQueueName }),
      retentionPeriod: DEAD_LETTER_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(this.failureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "The on-failure queue is the stream source's dead-letter queue: Lambda sends it what it discards, and nothing reads it but an operator, so a queue behind it would only hold the same notice again.",
    });
    this.failureDepthAlarm = new cloudwatch.Alarm(this, 'FailureDepthAlarm', {
      alarmDescription: `Stream jobs of ${this.node.path} were discarded after their retries or their age: read the records the message names back from the stream, fix the cause, and put them again (completed jobs are skipped).`,
      metric: this.failureQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: failureDepthThreshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.errorHandling = {
      startingPosition: props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      batchSize,
      ...(props.maxBatchingWindow === undefined ? {} : { maxBatchingWindow: props.maxBatchingWindow }),
      // The job runners answer with the first failed record of each ordering unit (docs/protocol.md
      // section 6); bisecting isolates a record that makes the whole invocation throw.
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: this.retryAttempts,
      maxRecordAge: this.maxRecordAge,
      onFailure: new SqsDlq(this.failureQueue),
    };
    props.idempotencyTable.grantRecords(props.consumer);
  }
}
