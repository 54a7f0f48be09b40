import { Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { expected } from '../../src/core/messages.js';
import {
  bindShardedSource,
  DEFAULT_STREAM_RETENTION,
  type ShardedStreamJobSourceProps,
  StreamJobSource,
} from './stream-job-source.js';

/**
 * Props of {@link DynamoDBStreamJobSource}.
 *
 * @example
 * { table: orders, consumer: worker, idempotencyTable: table }
 */
export interface DynamoDBStreamJobSourceProps extends ShardedStreamJobSourceProps {
  /** The table whose stream the consumer reads (its `stream` must be set); it gets stream read access. */
  readonly table: dynamodb.ITable;
}

/**
 * A DynamoDB table's stream wired to a `dynamodbStreamJobs` consumer: partial batch responses, bisect on
 * error, bounded retries and record age (shorter than the stream's 24 hours), an encrypted on-failure queue
 * with a depth alarm, and the consumer's grants on the idempotency table.
 *
 * @example
 * new DynamoDBStreamJobSource(this, 'OrderChanges', { table: orders, consumer: indexer, idempotencyTable: table });
 */
export class DynamoDBStreamJobSource extends StreamJobSource {
  /** In alarm when the consumer reads records older than `iteratorAgeThreshold` for 5 minutes. */
  readonly iteratorAgeAlarm: cloudwatch.Alarm;
  /** The event source bound to the consumer (its mapping's id and ARN). */
  readonly eventSource: DynamoEventSource;

  constructor(scope: Construct, id: string, props: DynamoDBStreamJobSourceProps) {
    super(scope, id, props, {
      kind: 'DynamoDBStreamJobSource',
      maxBatchSize: 10_000,
      // DynamoDB Streams keeps every record exactly 24 hours.
      retention: DEFAULT_STREAM_RETENTION,
    });
    if (props.table.tableStreamArn === undefined) {
      throw new Error(
        expected(
          `the \`table\` of DynamoDBStreamJobSource '${id}'`,
          'a table with a stream',
          props.table.node.path,
          'set `stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES` (or NEW_IMAGE) on it, or import it with its `tableStreamArn`',
        ),
      );
    }
    ({ eventSource: this.eventSource, iteratorAgeAlarm: this.iteratorAgeAlarm } = bindShardedSource(
      this,
      'DynamoDBStreamJobSource',
      props,
      (parallelizationFactor) =>
        new DynamoEventSource(props.table, { ...this.errorHandling, parallelizationFactor }),
    ));
    const policy = props.consumer.role?.node.tryFindChild('DefaultPolicy');
    if (policy !== undefined) {
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'DynamoEventSource grants dynamodb:ListStreams on *: the action has no resource-level permissions; reading the stream itself is granted on its ARN only.',
      });
    }
  }
}
