/**
 * `idemkit/kafka`: Amazon MSK and self-managed Kafka job dedup on the same store and table as every door
 * (docs/protocol.md section 6).
 *
 * @example
 * import { kafkaJobs, kafkaJobKeys } from 'idemkit/kafka';
 */
export {
  type KafkaBatchResponse,
  type KafkaEvent,
  type KafkaItemIdentifier,
  type KafkaJobRecord,
  type KafkaJobsHandler,
  type KafkaJobsOptions,
  kafkaJobKeys,
  kafkaJobs,
} from './kafka-jobs.js';
