/**
 * idemkit's CDK constructs (`idemkit/cdk`): the table the DynamoDB store expects, job queues for
 * `sqsJobs`, and stream sources for `kinesisJobs`, `dynamodbStreamJobs` and `kafkaJobs`. `aws-cdk-lib` and
 * `constructs` are peer dependencies.
 *
 * @example
 * import { IdempotencyTable, JobQueue } from 'idemkit/cdk';
 */

export {
  DynamoDBStreamJobSource,
  type DynamoDBStreamJobSourceProps,
} from './dynamodb-stream-job-source.js';
export {
  type GlobalTableProps,
  MRSC_REGION_SETS,
  type MultiRegionConsistencyMode,
} from './global-table.js';
export {
  type DashboardMode,
  IdempotencyDashboard,
  type IdempotencyDashboardProps,
} from './idempotency-dashboard.js';
export {
  EDGE_FUNCTION_LIMITS,
  EDGE_RECORD_ACTIONS,
  IdempotencyEdgeFunction,
  type IdempotencyEdgeFunctionProps,
} from './idempotency-edge-function.js';
export {
  IdempotencyResultBucket,
  type IdempotencyResultBucketProps,
  RESULT_ACTIONS,
  RESULT_KEY_ACTIONS,
} from './idempotency-result-bucket.js';
export { IdempotencySweep, type IdempotencySweepProps, SWEEP_ACTIONS } from './idempotency-sweep.js';
export {
  IdempotencyTable,
  type IdempotencyTableProps,
  type IIdempotencyTable,
  RECORD_ACTIONS,
  RECORD_KEY_ACTIONS,
} from './idempotency-table.js';
export {
  DEAD_LETTER_RETENTION,
  type JobConsumerOptions,
  JobQueue,
  type JobQueueProps,
  VISIBILITY_TO_TIMEOUT_RATIO,
} from './job-queue.js';
export { DEFAULT_KAFKA_POLLERS, KafkaJobSource, type KafkaJobSourceProps } from './kafka-job-source.js';
export { KinesisJobSource, type KinesisJobSourceProps } from './kinesis-job-source.js';
export {
  MAX_RECORD_AGE,
  MAX_STREAM_RETRY_ATTEMPTS,
  MIN_RECORD_AGE,
  StreamJobSource,
  type StreamJobSourceProps,
} from './stream-job-source.js';
