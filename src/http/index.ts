export { EventKind, type HttpRequestView, readHttpEvent } from './event.js';
export { httpFingerprint } from './fingerprint.js';
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
export { PROBLEM_BASE, Problem, type ProblemKind, type ProxyResponse, problemResponse } from './problem.js';
