import { Duration, Names, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { expected } from '../../src/core/messages.js';

/** Lambda's guidance: a visibility timeout of at least six times the consumer's timeout. */
export const VISIBILITY_TO_TIMEOUT_RATIO = 6;
/** The longest SQS keeps a message, and so the dead-letter queue's retention. */
export const DEAD_LETTER_RETENTION = Duration.days(14);
const MAX_VISIBILITY_TIMEOUT = Duration.hours(12);
/** What Lambda uses when a function sets no timeout. */
const LAMBDA_DEFAULT_TIMEOUT = Duration.seconds(3);

/**
 * Props of {@link JobQueue}.
 *
 * @example
 * { queueName: 'invoice-jobs', consumerTimeout: Duration.seconds(30) }
 */
export interface JobQueueProps {
  /**
   * The source queue's name (ending in `.fifo` for a FIFO queue).
   * @default - a name derived from the construct path, so the dead-letter queue's redrive-allow policy can
   *   name its source without a circular reference
   */
  readonly queueName?: string;
  /**
   * The dead-letter queue's name.
   * @default - a name CloudFormation generates
   */
  readonly deadLetterQueueName?: string;
  /**
   * FIFO queues (both the source and its dead-letter queue).
   * @default false
   */
  readonly fifo?: boolean;
  /**
   * Receives before a message moves to the dead-letter queue (1 to 1000).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * The timeout of the function that will consume the queue; sets the visibility timeout's floor.
   * @default Duration.seconds(30)
   */
  readonly consumerTimeout?: Duration;
  /**
   * How long a received message stays hidden. Must be at least six times every consumer's timeout, so
   * Lambda can retry a throttled batch before the message reappears (checked here and in `addConsumer`).
   * @default - six times `consumerTimeout`
   */
  readonly visibilityTimeout?: Duration;
  /**
   * How long the source queue keeps a message. Shorter than the dead-letter queue's 14 days, because a
   * moved message keeps its first enqueue time and would otherwise expire on arrival.
   * @default Duration.days(4)
   */
  readonly retentionPeriod?: Duration;
  /**
   * The age of the oldest message in the source queue that raises the backlog alarm.
   * @default Duration.minutes(15)
   */
  readonly oldestMessageAgeThreshold?: Duration;
  /**
   * The number of messages in the dead-letter queue that raises its alarm.
   * @default 1 - any job that gave up needs an operator
   */
  readonly deadLetterDepthThreshold?: number;
}

/**
 * Options of {@link JobQueue.addConsumer}.
 *
 * @example
 * { batchSize: 10, maxBatchingWindow: Duration.seconds(1) }
 */
export interface JobConsumerOptions {
  /**
   * Records per invocation (1 to 10 for FIFO, 1 to 10000 otherwise).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * How long Lambda gathers records before invoking (standard queues only).
   * @default - no batching window
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * The most concurrent invocations this source may cause (2 to 1000).
   * @default - no limit beyond the function's
   */
  readonly maxConcurrency?: number;
}

/**
 * A job queue and its dead-letter queue, provisioned for idemkit's `sqsJobs`: partial batch responses on,
 * visibility timeout at least six times the consumer's timeout, dead-letter retention of 14 days,
 * SQS-managed encryption and TLS-only policies on both, a redrive-allow policy naming only the source,
 * and alarms on the dead-letter depth and the oldest message's age.
 *
 * @example
 * const jobs = new JobQueue(this, 'InvoiceJobs', { consumerTimeout: worker.timeout });
 * jobs.addConsumer(worker, { batchSize: 10 });
 */
export class JobQueue extends Construct {
  /** The source queue producers send jobs to. */
  readonly queue: sqs.Queue;
  /** Where a job lands after `maxReceiveCount` receives or a permanent failure. */
  readonly deadLetterQueue: sqs.Queue;
  /** In alarm when the dead-letter queue holds `deadLetterDepthThreshold` messages or more. */
  readonly deadLetterDepthAlarm: cloudwatch.Alarm;
  /** In alarm when the oldest message in the source queue is older than `oldestMessageAgeThreshold`. */
  readonly oldestMessageAgeAlarm: cloudwatch.Alarm;
  /** The source queue's visibility timeout. */
  readonly visibilityTimeout: Duration;

  constructor(scope: Construct, id: string, props: JobQueueProps = {}) {
    super(scope, id);
    const fifo = props.fifo ?? false;
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    const consumerTimeout = props.consumerTimeout ?? Duration.seconds(30);
    const retentionPeriod = props.retentionPeriod ?? Duration.days(4);
    const oldestMessageAgeThreshold = props.oldestMessageAgeThreshold ?? Duration.minutes(15);
    const deadLetterDepthThreshold = props.deadLetterDepthThreshold ?? 1;

    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
      throw new Error(
        expected(`\`maxReceiveCount\` of JobQueue '${id}'`, 'a whole number from 1 to 1000', maxReceiveCount),
      );
    }
    const floor = Duration.seconds(consumerTimeout.toSeconds() * VISIBILITY_TO_TIMEOUT_RATIO);
    this.visibilityTimeout = props.visibilityTimeout ?? floor;
    if (this.visibilityTimeout.toSeconds() < floor.toSeconds()) {
      throw new Error(
        `Expected \`visibilityTimeout\` of JobQueue '${id}' to be at least ${VISIBILITY_TO_TIMEOUT_RATIO} times \`consumerTimeout\` (${floor.toSeconds()} s), got ${this.visibilityTimeout.toSeconds()} s; raise it or leave it out to derive it.`,
      );
    }
    if (this.visibilityTimeout.toSeconds() > MAX_VISIBILITY_TIMEOUT.toSeconds()) {
      throw new Error(
        `Expected \`visibilityTimeout\` of JobQueue '${id}' to be at most 12 hours (SQS's limit), got ${this.visibilityTimeout.toSeconds()} s; shorten \`consumerTimeout\` or \`visibilityTimeout\`.`,
      );
    }
    if (retentionPeriod.toSeconds() >= DEAD_LETTER_RETENTION.toSeconds()) {
      throw new Error(
        `Expected \`retentionPeriod\` of JobQueue '${id}' to be shorter than the dead-letter queue's 14 days, got ${retentionPeriod.toHumanString()}; a moved message keeps its enqueue time and would expire on arrival.`,
      );
    }
    if (oldestMessageAgeThreshold.toSeconds() >= retentionPeriod.toSeconds()) {
      throw new Error(
        `Expected \`oldestMessageAgeThreshold\` of JobQueue '${id}' to be shorter than \`retentionPeriod\` (${retentionPeriod.toHumanString()}), got ${oldestMessageAgeThreshold.toHumanString()}; messages would be lost before the alarm.`,
      );
    }
    if (!Number.isInteger(deadLetterDepthThreshold) || deadLetterDepthThreshold < 1) {
      throw new Error(
        expected(
          `\`deadLetterDepthThreshold\` of JobQueue '${id}'`,
          'a whole number of at least 1',
          deadLetterDepthThreshold,
        ),
      );
    }

    // The source's name is known at synth time so the DLQ's redrive-allow policy can name its ARN
    // without a Ref to the source, which would be a cycle (the source's redrive policy refs the DLQ).
    const queueName = props.queueName ?? generatedQueueName(this, fifo);
    if (!Token.isUnresolved(queueName) && fifo !== queueName.endsWith('.fifo')) {
      throw new Error(
        expected(
          `\`queueName\` of JobQueue '${id}'`,
          `a name ${fifo ? 'ending' : 'not ending'} with '.fifo' ${fifo ? 'for' : 'unless it is'} a FIFO queue`,
          queueName,
        ),
      );
    }
    const sourceArn = Stack.of(this).formatArn({ service: 'sqs', resource: queueName });

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...(props.deadLetterQueueName === undefined ? {} : { queueName: props.deadLetterQueueName }),
      ...(fifo ? { fifo: true } : {}),
      retentionPeriod: DEAD_LETTER_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      redriveAllowPolicy: {
        redrivePermission: sqs.RedrivePermission.BY_QUEUE,
        sourceQueues: [sqs.Queue.fromQueueArn(this, 'SourceRef', sourceArn)],
      },
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName,
      ...(fifo ? { fifo: true } : {}),
      visibilityTimeout: this.visibilityTimeout,
      retentionPeriod,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    this.deadLetterDepthAlarm = new cloudwatch.Alarm(this, 'DeadLetterDepthAlarm', {
      alarmDescription: `Jobs of ${this.node.path} gave up and wait in the dead-letter queue: fix the cause, then replay them (completed jobs are skipped).`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: deadLetterDepthThreshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.oldestMessageAgeAlarm = new cloudwatch.Alarm(this, 'OldestMessageAgeAlarm', {
      alarmDescription: `Jobs of ${this.node.path} wait longer than ${oldestMessageAgeThreshold.toHumanString()}: the consumer is failing, throttled or too slow.`,
      metric: this.queue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: oldestMessageAgeThreshold.toSeconds(),
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * Lets `fn` consume the queue with partial batch responses (`ReportBatchItemFailures`), which
   * `sqsJobs` returns. Throws when the function's timeout breaks the visibility rule.
   *
   * @example
   * jobs.addConsumer(worker, { batchSize: 10, maxBatchingWindow: Duration.seconds(1) });
   */
  addConsumer(fn: lambda.IFunction, options: JobConsumerOptions = {}): SqsEventSource {
    const timeout = fn instanceof lambda.Function ? (fn.timeout ?? LAMBDA_DEFAULT_TIMEOUT) : undefined;
    if (timeout !== undefined) {
      const needed = timeout.toSeconds() * VISIBILITY_TO_TIMEOUT_RATIO;
      if (this.visibilityTimeout.toSeconds() < needed) {
        throw new Error(
          `Expected the visibility timeout of JobQueue '${this.node.id}' (${this.visibilityTimeout.toSeconds()} s) to be at least ${VISIBILITY_TO_TIMEOUT_RATIO} times the timeout of consumer '${fn.node.id}' (${timeout.toSeconds()} s), that is ${needed} s; pass \`consumerTimeout: ${fn.node.id}.timeout\` to the JobQueue.`,
        );
      }
    }
    const source = new SqsEventSource(this.queue, {
      batchSize: options.batchSize ?? 10,
      reportBatchItemFailures: true,
      ...(options.maxBatchingWindow === undefined ? {} : { maxBatchingWindow: options.maxBatchingWindow }),
      ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }),
    });
    fn.addEventSource(source);
    return source;
  }

  /**
   * Lets `grantee` send jobs: `sqs:SendMessage`, `sqs:GetQueueAttributes`, `sqs:GetQueueUrl`.
   *
   * @example
   * jobs.grantSendMessages(ordersFunction);
   */
  grantSendMessages(grantee: iam.IGrantable): iam.Grant {
    return this.queue.grantSendMessages(grantee);
  }
}

function generatedQueueName(scope: Construct, fifo: boolean): string {
  const suffix = fifo ? '.fifo' : '';
  return `${Names.uniqueResourceName(scope, { maxLength: 80 - suffix.length, separator: '-' })}${suffix}`;
}
