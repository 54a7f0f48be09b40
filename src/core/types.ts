import type { ClaimOptions } from './record-state.js';

export type { ClaimOptions } from './record-state.js';

/**
 * Record statuses stored in the table (docs/protocol.md section 2). A record is never stored as `EXPIRED`:
 * expiry is a comparison of `expiresAt` with now.
 */
export const RecordStatus = {
  InProgress: 'IN_PROGRESS',
  Completed: 'COMPLETED',
  Failed: 'FAILED',
} as const;

/** One of {@link RecordStatus}. */
export type RecordStatus = (typeof RecordStatus)[keyof typeof RecordStatus];

/** Current schema version written in the `v` attribute. */
export const RECORD_VERSION = 1;

/**
 * The stored outcome of an operation, already encoded by the engine: JSON text, or brotli-compressed
 * JSON bytes when large. Stores move it as an opaque `S` or `B` attribute.
 */
export type EncodedResult = string | Uint8Array;

/**
 * One record per (org, scope, key), exactly as a store persists it (docs/protocol.md section 2).
 *
 * @example
 * const record: IdempotencyRecord = { pk: 'acme#charge#3q2...', org: 'acme', scope: 'charge', ... };
 */
export interface IdempotencyRecord {
  /** `<org>#<scope>#<digest(key)>`. */
  readonly pk: string;
  readonly org: string;
  readonly scope: string;
  readonly status: RecordStatus;
  /** Epoch seconds; the table's TTL attribute. */
  readonly expiresAt: number;
  /** Epoch milliseconds; only while `IN_PROGRESS`. */
  readonly leaseUntil?: number;
  /** Random per claim; every later write by the owner is conditional on it. */
  readonly leaseToken?: string;
  /** Who holds or held the lease (an SQS message id for jobs); lets a door tell redeliveries apart. */
  readonly owner?: string;
  /**
   * What the request means (docs/protocol.md section 2). While `IN_PROGRESS` after a claim that carried a
   * {@link IdempotencyRecord.rawDigest}, the provisional `raw:<rawDigest>`: the meaning is written on completion.
   */
  readonly fingerprint: string;
  /**
   * The digest of the request's raw bytes, when the door has them (HTTP bodies): a retry with the same digest is
   * the same request without canonicalizing its body again. Absent on records written before it existed.
   */
  readonly rawDigest?: string;
  /** The encoded outcome; absent when the operation returned `undefined` or the result was dropped. */
  readonly result?: EncodedResult;
  /** Why a completed record has no body although the operation returned one. */
  readonly resultDropped?: ResultDroppedReason;
  /** Where the whole result is kept when it did not fit (a large-result store); `result` is then the fallback. */
  readonly resultRef?: ResultRef;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Epoch milliseconds. */
  readonly completedAt?: number;
  /** How many claims this record has seen (1 on the first execution). */
  readonly attempt: number;
  readonly v: number;
}

/** Why a completed record carries no result body. */
export const ResultDroppedReason = {
  TooLarge: 'too_large',
  Unserializable: 'unserializable',
} as const;

/** One of {@link ResultDroppedReason}. */
export type ResultDroppedReason = (typeof ResultDroppedReason)[keyof typeof ResultDroppedReason];

/**
 * A pointer from a record to the whole result, kept in a {@link LargeResultStore} because it did not fit the record
 * (docs/protocol.md section 3, "Results that do not fit"). The object is written before the record completes and
 * verified against `sha256` and `size` on every replay.
 *
 * @example
 * { key: 'results/acme#charge#3q2.../9f86d0...', sha256: '9f86d0...', size: 2_097_152, form: 'bytes' }
 */
export interface ResultRef {
  /** The object's key in the large-result store. */
  readonly key: string;
  /** SHA-256 of the object's bytes, lower-case hex. */
  readonly sha256: string;
  /** The object's length in bytes. */
  readonly size: number;
  /** How the bytes encode the result: UTF-8 JSON text (`text`) or the codec's compressed bytes (`bytes`). */
  readonly form: 'text' | 'bytes';
}

/**
 * Where results too large for a record are kept whole (S3: `S3ResultStore` from `idemkit/s3`). I/O only: the engine
 * names the object, computes its digest and verifies it on read.
 *
 * @example
 * const largeResults: LargeResultStore = new S3ResultStore({ bucket: 'idemkit-results' });
 */
export interface LargeResultStore {
  /**
   * Writes `body` under a key derived from `name` (the store may prefix it) and resolves that key once the object is
   * durable. `sha256` (hex) lets the store ask the server to verify the upload. Stops when `signal` aborts.
   */
  put(
    object: { readonly name: string; readonly body: Uint8Array; readonly sha256: string },
    signal?: AbortSignal,
  ): Promise<string>;
  /**
   * The bytes under `key`, or `undefined` when there is no such object. With `maxBytes`, no more than `maxBytes + 1`
   * bytes are read: an object longer than `maxBytes` resolves to its first `maxBytes + 1`.
   */
  get(key: string, signal?: AbortSignal, maxBytes?: number): Promise<Uint8Array | undefined>;
}

/** The answer to a claim. */
export type ClaimResult =
  | { readonly claimed: true }
  /** `existing` is the record that blocked the claim; `undefined` only if it vanished in between. */
  | { readonly claimed: false; readonly existing: IdempotencyRecord | undefined };

/** The fields a fenced complete writes. */
export interface CompletionUpdate {
  readonly status: typeof RecordStatus.Completed | typeof RecordStatus.Failed;
  readonly result?: EncodedResult;
  readonly resultDropped?: ResultDroppedReason;
  readonly resultRef?: ResultRef;
  /** The request's meaning, replacing the provisional fingerprint a claim with a raw digest wrote. */
  readonly fingerprint?: string;
  readonly completedAt: number;
  readonly expiresAt: number;
}

/**
 * The port every store implements: I/O only. Key digests, expiry rules and fingerprint checks live in
 * the engine; a store only evaluates the claim condition atomically (see `isClaimable` in `record-state.ts`).
 *
 * Every fenced write resolves `false` when the lease token no longer matches (the lease was lost).
 *
 * @example
 * class MyStore implements Store { ... }
 */
export interface Store {
  /**
   * Writes `record` (an `IN_PROGRESS` claim) when `isClaimable` holds for the current item,
   * in one atomic step; otherwise returns the current item.
   */
  claim(record: IdempotencyRecord, options: ClaimOptions): Promise<ClaimResult>;
  /** A strongly consistent read. */
  get(pk: string): Promise<IdempotencyRecord | undefined>;
  /**
   * Strongly consistent reads of many records in as few round trips as the store allows (DynamoDB:
   * `BatchGetItem`, 100 keys a call); the records that exist, by `pk`. A record the store could not read in a
   * few tries may be left out: the caller claims its job as usual. Optional: a redelivered batch is then read
   * before it is claimed, so completed jobs cost no write.
   */
  getMany?(pks: readonly string[]): Promise<ReadonlyMap<string, IdempotencyRecord>>;
  /** Sets the final status and result, conditional on `leaseToken`. */
  complete(pk: string, leaseToken: string, update: CompletionUpdate): Promise<boolean>;
  /** Deletes the record, conditional on `leaseToken`. */
  release(pk: string, leaseToken: string): Promise<boolean>;
  /**
   * Pushes `leaseUntil` (epoch ms), conditional on `leaseToken`; with `expiresAt` (epoch s), also the record's
   * lifetime (and the server's TTL where the store keeps one), so a live lease never outlives its record.
   */
  renew(pk: string, leaseToken: string, leaseUntil: number, expiresAt?: number): Promise<boolean>;
}
