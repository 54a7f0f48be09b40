import { Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import {
  type AuthenticationMethod,
  ManagedKafkaEventSource,
  type ProvisionedPollerConfig,
  SelfManagedKafkaEventSource,
} from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { expected } from '../../src/core/messages.js';
import { StreamJobSource, type StreamJobSourceProps } from './stream-job-source.js';

/**
 * The pollers a Kafka job source provisions unless told otherwise: the fewest Lambda allows, scaling to its
 * own default ceiling.
 */
export const DEFAULT_KAFKA_POLLERS = { minimumPollers: 1, maximumPollers: 200 } as const;

/**
 * Props of {@link KafkaJobSource}: an MSK cluster (`clusterArn`) or a self-managed one (`bootstrapServers`),
 * never both.
 *
 * @example
 * { clusterArn, topic: 'orders', consumer: worker, idempotencyTable: table }
 */
export interface KafkaJobSourceProps extends StreamJobSourceProps {
  /** The topic the consumer reads. */
  readonly topic: string;
  /**
   * The Amazon MSK cluster's ARN.
   * @default - none: give `bootstrapServers` instead
   */
  readonly clusterArn?: string;
  /**
   * A self-managed cluster's brokers, `host:port`.
   * @default - none: give `clusterArn` instead
   */
  readonly bootstrapServers?: readonly string[];
  /**
   * The secret with the cluster's credentials (required for a self-managed cluster outside a VPC).
   * @default - none (MSK with IAM authentication)
   */
  readonly secret?: secretsmanager.ISecret;
  /**
   * How a self-managed cluster authenticates the poller.
   * @default AuthenticationMethod.SASL_SCRAM_512_AUTH (Lambda's default)
   */
  readonly authenticationMethod?: AuthenticationMethod;
  /**
   * The consumer group the mapping joins (cannot change after creation).
   * @default - the mapping's own id, chosen by Lambda
   */
  readonly consumerGroupId?: string;
  /**
   * The VPC of a self-managed cluster reachable only there; give `vpcSubnets` and `securityGroup` with it.
   * @default - the brokers are reached over the internet
   */
  readonly vpc?: ec2.IVpc;
  /**
   * The subnets of `vpc` the poller uses.
   * @default - none
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * The security group of the poller in `vpc`.
   * @default - none
   */
  readonly securityGroup?: ec2.ISecurityGroup;
  /**
   * Provisioned pollers. Lambda honours partial batch responses, bisect, retry attempts, record age and an
   * SQS on-failure destination on Kafka only in provisioned mode, so the mode is always on.
   * @default DEFAULT_KAFKA_POLLERS - 1 to 200 pollers
   */
  readonly provisionedPollers?: ProvisionedPollerConfig;
}

/**
 * A Kafka topic (MSK or self-managed) wired to a `kafkaJobs` consumer in provisioned mode: partial batch
 * responses, bisect on error, bounded retries and record age (never retry forever), an encrypted on-failure
 * queue with a depth alarm, and the consumer's grants on the idempotency table.
 *
 * @example
 * new KafkaJobSource(this, 'Orders', { clusterArn, topic: 'orders', consumer: worker, idempotencyTable: table });
 */
export class KafkaJobSource extends StreamJobSource {
  /** The event source bound to the consumer. */
  readonly eventSource: ManagedKafkaEventSource | SelfManagedKafkaEventSource;

  constructor(scope: Construct, id: string, props: KafkaJobSourceProps) {
    // Kafka keeps records by its own retention, which CDK cannot see: only Lambda's 7-day ceiling applies.
    super(scope, id, props, { kind: 'KafkaJobSource', maxBatchSize: 10_000 });
    const subject = (name: string) => `\`${name}\` of KafkaJobSource '${id}'`;
    if ((props.clusterArn === undefined) === (props.bootstrapServers === undefined)) {
      throw new Error(
        expected(
          `the cluster of KafkaJobSource '${id}'`,
          'given by exactly one of `clusterArn` (MSK) or `bootstrapServers` (self-managed)',
          props.clusterArn === undefined ? 'neither' : 'both',
        ),
      );
    }
    if (props.topic.length === 0) throw new Error(expected(subject('topic'), 'a topic name', props.topic));
    const provisionedPollerConfig = props.provisionedPollers ?? DEFAULT_KAFKA_POLLERS;
    const common = {
      ...this.errorHandling,
      topic: props.topic,
      provisionedPollerConfig,
      ...(props.secret === undefined ? {} : { secret: props.secret }),
      ...(props.consumerGroupId === undefined ? {} : { consumerGroupId: props.consumerGroupId }),
    };
    if (props.clusterArn !== undefined) {
      for (const name of ['authenticationMethod', 'vpc', 'vpcSubnets', 'securityGroup'] as const) {
        if (props[name] !== undefined) {
          throw new Error(
            expected(
              subject(name),
              'left out for an MSK cluster',
              'a value',
              'it applies to self-managed clusters (`bootstrapServers`) only',
            ),
          );
        }
      }
      this.eventSource = new ManagedKafkaEventSource({ ...common, clusterArn: props.clusterArn });
      if (props.consumer.role !== undefined) {
        Validations.of(props.consumer.role).acknowledge({
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole]',
          reason:
            "ManagedKafkaEventSource attaches AWSLambdaMSKExecutionRole: the poller's network interfaces in the cluster's VPC and MSK's describe calls, which Lambda needs for any MSK cluster.",
        });
      }
    } else {
      this.eventSource = new SelfManagedKafkaEventSource({
        ...common,
        bootstrapServers: [...(props.bootstrapServers ?? [])],
        ...(props.authenticationMethod === undefined
          ? {}
          : { authenticationMethod: props.authenticationMethod }),
        ...(props.vpc === undefined ? {} : { vpc: props.vpc }),
        ...(props.vpcSubnets === undefined ? {} : { vpcSubnets: props.vpcSubnets }),
        ...(props.securityGroup === undefined ? {} : { securityGroup: props.securityGroup }),
      });
    }
    props.consumer.addEventSource(this.eventSource);
  }
}
