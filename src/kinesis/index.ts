/**
 * `idemkit/kinesis`: Kinesis Data Streams job dedup on the same store and table as every door
 * (docs/protocol.md section 6).
 *
 * @example
 * import { kinesisJobs, kinesisJobKeys } from 'idemkit/kinesis';
 */
export {
  type KinesisJobsHandler,
  type KinesisJobsOptions,
  kinesisData,
  kinesisJobKeys,
  kinesisJobs,
} from './kinesis-jobs.js';
