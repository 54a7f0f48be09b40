/**
 * `idemkit/edge`: the Lambda@Edge door (CloudFront viewer-request and origin-request events) and the identity
 * the origin and the edge share, so both name a request's record the same (docs/protocol.md section 11).
 *
 * @example
 * import { edgeIdempotency, httpIdentity } from 'idemkit/edge';
 */
export { EdgeEventType, GENERATED_RESPONSE_LIMIT } from './cloudfront.js';
export {
  type EdgeHandler,
  type EdgeIdempotencyOptions,
  type EdgeOutcome,
  type EdgeTable,
  edgeIdempotency,
  ForwardReason,
} from './edge.js';
export { type HttpIdentity, type HttpIdentityOptions, httpIdentity } from './identity.js';
export { nearestRegion } from './regions.js';
