import { Duration, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { KinesisEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import {
  bindShardedSource,
  DEFAULT_STREAM_RETENTION,
  type ShardedStreamJobSourceProps,
  StreamJobSource,
} from './stream-job-source.js';

/**
 * Props of {@link KinesisJobSource}.
 *
 * @example
 * { stream, consumer: worker, idempotencyTable: table }
 */
export interface KinesisJobSourceProps extends ShardedStreamJobSourceProps {
  /** The stream the consumer reads; it gets read access (and the stream key's use). */
  readonly stream: kinesis.IStream;
}

/**
 * A Kinesis stream wired to a `kinesisJobs` consumer: partial batch responses, bisect on error, bounded
 * retries and record age (never retry forever), an encrypted on-failure queue with a depth alarm, and the
 * consumer's grants on the idempotency table.
 *
 * @example
 * const orders = new KinesisJobSource(this, 'OrderStream', { stream, consumer: worker, idempotencyTable: table });
 */
export class KinesisJobSource extends StreamJobSource {
  /** In alarm when the consumer reads records older than `iteratorAgeThreshold` for 5 minutes. */
  readonly iteratorAgeAlarm: cloudwatch.Alarm;
  /** The event source bound to the consumer (its mapping's id and ARN). */
  readonly eventSource: KinesisEventSource;

  constructor(scope: Construct, id: string, props: KinesisJobSourceProps) {
    const retention = retentionOf(props.stream);
    super(scope, id, props, {
      kind: 'KinesisJobSource',
      maxBatchSize: 10_000,
      ...(retention === undefined ? {} : { retention }),
    });
    ({ eventSource: this.eventSource, iteratorAgeAlarm: this.iteratorAgeAlarm } = bindShardedSource(
      this,
      'KinesisJobSource',
      props,
      (parallelizationFactor) =>
        new KinesisEventSource(props.stream, { ...this.errorHandling, parallelizationFactor }),
    ));
  }
}

/** A stream built in this app keeps records for its `retentionPeriod`; an imported one's is unknown. */
function retentionOf(stream: kinesis.IStream): Duration | undefined {
  if (!(stream instanceof kinesis.Stream)) return undefined;
  const hours = (stream.node.defaultChild as kinesis.CfnStream).retentionPeriodHours;
  if (hours === undefined) return DEFAULT_STREAM_RETENTION;
  return Token.isUnresolved(hours) ? undefined : Duration.hours(hours);
}
