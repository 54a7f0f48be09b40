/**
 * `idemkit/client`: a fetch-based client for services and browsers that call idempotent APIs (one key per
 * logical operation, retries that are safe, a time budget). It needs only the platform's `fetch` and imports
 * no Node built-in, so it bundles for the browser.
 *
 * @example
 * import { IdempotentClient } from 'idemkit/client';
 */
export { IdempotencyConfigError, IdempotencyError } from '../core/errors.js';
export {
  IdempotentClient,
  type IdempotentClientOptions,
  type IdempotentRequestInit,
  type RetryInfo,
} from './client.js';
export { IdempotencyProblemError, IdempotencyRequestError, type ProblemDetails } from './errors.js';
export { ProblemType } from './problem-type.js';
export { DEFAULT_RETRY_STATUSES, parseRetryAfter, retryDelay } from './retry.js';
