/**
 * idemkit's CDK constructs (`idemkit/cdk`): the table the DynamoDB store expects and job queues for
 * `sqsJobs`. `aws-cdk-lib` and `constructs` are peer dependencies.
 *
 * @example
 * import { IdempotencyTable, JobQueue } from 'idemkit/cdk';
 */
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
