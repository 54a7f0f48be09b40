/**
 * `idemkit`: the generic wrapper, the in-memory store, the errors and what a custom store or telemetry needs.
 * The doors and the DynamoDB store have their own subpaths (`idemkit/middy`, `idemkit/sqs`, `idemkit/dynamodb`)
 * so a Lambda bundles only what it uses.
 *
 * @example
 * import { makeIdempotent, MemoryStore } from 'idemkit';
 */
export type { CacheOptions } from './core/cache.js';
export { idempotent } from './core/decorator.js';
export { type DurableExecutionContext, durableStepKey } from './core/durable.js';
export {
  IdempotencyConfigError,
  IdempotencyCorruptRecordError,
  IdempotencyError,
  IdempotencyInProgressError,
  IdempotencyKeyMismatchError,
  IdempotencyLeaseLostError,
  IdempotencyPreviouslyFailedError,
  IdempotencyResultOmittedError,
  IdempotencyStoreError,
  IdempotencyValidationError,
} from './core/errors.js';
export { leaseSignal } from './core/guard.js';
export { keyDigest, recordKey } from './core/keys.js';
export { type MakeIdempotentOptions, makeIdempotent } from './core/make-idempotent.js';
export { type CommonOptions, Environment, Mode } from './core/options.js';
export { type ClaimOptions, isClaimable, isExpired, RecordState, recordState } from './core/record-state.js';
export { DEFAULTS, ENVIRONMENT_DEFAULTS, VARIABLES } from './core/settings.js';
export {
  createTelemetry,
  Signal,
  type SignalFacts,
  silentTelemetry,
  type Telemetry,
  type TelemetryOptions,
} from './core/telemetry.js';
export {
  type ClaimResult,
  type CompletionUpdate,
  type EncodedResult,
  type IdempotencyRecord,
  RecordStatus,
  ResultDroppedReason,
  type Store,
} from './core/types.js';
export { MemoryStore } from './stores/memory.js';
