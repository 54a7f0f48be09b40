/**
 * `idemkit/sqs`: SQS job dedup on the same store and table as the HTTP middleware (docs/protocol.md section 6).
 *
 * @example
 * import { sqsJobs } from 'idemkit/sqs';
 */
export { DEFAULT_CONCURRENCY } from '../batch/runner.js';
export { REPLAY_ATTRIBUTE } from './replay-marker.js';
export { type SqsJobsHandler, type SqsJobsOptions, sqsJobs } from './sqs-jobs.js';
