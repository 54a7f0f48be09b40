/**
 * `idemkit/versioning`: optimistic locking for DynamoDB writes and the HTTP preconditions (`ETag`, `If-Match`,
 * 412, 428) that go with it, designed to sit behind `httpIdempotency` (docs/consistency.md).
 *
 * @example
 * import { versionedWrite, httpPreconditions, ifMatchVersion, etagOf } from 'idemkit/versioning';
 */
export { etagOf, type HttpPreconditionsOptions, httpPreconditions, ifMatchVersion } from './preconditions.js';
export {
  type ExpectedVersion,
  VersionConflictError,
  type VersionedWriteInput,
  versionedWrite,
} from './versioned-write.js';
