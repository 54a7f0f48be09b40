/**
 * `idemkit/sqs`: SQS job dedup on the same store and table as the HTTP middleware (docs/protocol.md section 6).
 *
 * @example
 * import { sqsJobs } from 'idemkit/sqs';
 */
export { REPLAY_ATTRIBUTE } from './replay-marker.js';
export { DEFAULT_CONCURRENCY, type SqsJobsHandler, type SqsJobsOptions, sqsJobs } from './sqs-jobs.js';
