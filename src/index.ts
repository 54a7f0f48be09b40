export { type CacheOptions, RecordCache } from './core/cache.js';
export { type CodecLimits, DEFAULT_CODEC_LIMITS, decodeResult, encodeResult } from './core/codec.js';
export {
  type CommonOptions,
  DEFAULTS,
  ENVIRONMENT_DEFAULTS,
  Environment,
  Mode,
  resolveSettings,
  type Settings,
} from './core/config.js';
export { buildEngine } from './core/door.js';
export { type BeginInput, type Decision, IdempotencyEngine, type Lease } from './core/engine.js';
export {
  IdempotencyConfigError,
  IdempotencyError,
  IdempotencyInProgressError,
  IdempotencyKeyMismatchError,
  IdempotencyPreviouslyFailedError,
  IdempotencyStoreError,
  IdempotencyValidationError,
} from './core/errors.js';
export { canonicalJson, fingerprintOf } from './core/fingerprint.js';
export { leaseSignal } from './core/guard.js';
export { assertValidKey, assertValidName, keyDigest, recordKey } from './core/keys.js';
export { type MakeIdempotentOptions, makeIdempotent } from './core/make-idempotent.js';
export { isClaimable, isExpired, RecordState, recordState } from './core/record-state.js';
export {
  createTelemetry,
  Signal,
  type SignalFacts,
  silentTelemetry,
  type Telemetry,
} from './core/telemetry.js';
export {
  type ClaimOptions,
  type ClaimResult,
  type CompletionUpdate,
  type EncodedResult,
  type IdempotencyRecord,
  RecordStatus,
  ResultDroppedReason,
  type Store,
} from './core/types.js';
export { MemoryStore } from './stores/memory.js';
