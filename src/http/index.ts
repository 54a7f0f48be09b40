/**
 * `idemkit/middy`: the Middy middleware for HTTP (API Gateway REST and HTTP APIs, Function URLs, ALB), what its
 * answers carry, and the lease signal a handler can read (docs/protocol.md section 4).
 *
 * @example
 * import { httpIdempotency } from 'idemkit/middy';
 */
export { IDEMPOTENCY_KEY_HEADER, type KeyReading, readIdempotencyKey } from './key.js';
export {
  CORRELATION_HEADER,
  type HttpIdempotencyOptions,
  httpIdempotency,
  httpLeaseSignal,
  REPLAYED_HEADER,
  RESULT_OMITTED_HEADER,
  type StoreResponseOptions,
} from './middleware.js';
export { PROBLEM_BASE, Problem, type ProblemKind, type ProxyResponse } from './problem.js';
