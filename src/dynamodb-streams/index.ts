/**
 * `idemkit/dynamodb-streams`: DynamoDB Streams job dedup on the same store and table as every door
 * (docs/protocol.md section 6).
 *
 * @example
 * import { dynamodbStreamJobs, dynamodbStreamJobKeys } from 'idemkit/dynamodb-streams';
 */
export {
  type DynamodbStreamJobsHandler,
  type DynamodbStreamJobsOptions,
  dynamodbStreamJobKeys,
  dynamodbStreamJobs,
  streamImage,
} from './dynamodb-stream-jobs.js';
