import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordCache } from './cache.js';
import { type CodecLimits, DEFAULT_CODEC_LIMITS, decodeResult, encodeResult } from './codec.js';
import { Durations } from './durations.js';
import { IdempotencyStoreError } from './errors.js';
import { digestOf, recordKey } from './keys.js';
import {
  checkLargeResult,
  decodeLargeResult,
  largeResultBody,
  largeResultName,
  sha256Hex,
} from './large-result.js';
import type { Mode } from './options.js';
import { isClaimable, isReopenable, RecordState, recordState } from './record-state.js';
import type { Settings } from './settings.js';
import { Signal, type SignalFacts, type Telemetry } from './telemetry.js';
import {
  type EncodedResult,
  type IdempotencyRecord,
  type LargeResultStore,
  RECORD_VERSION,
  RecordStatus,
  type ResultDroppedReason,
  type ResultRef,
  type Store,
} from './types.js';

/** The right of one invocation to run the operation for a key, until `leaseUntil` (epoch ms). */
export interface Lease {
  readonly pk: string;
  readonly token: string;
  readonly leaseUntil: number;
  readonly org: string;
  readonly scope: string;
  /** As the claim wrote it: the meaning, or the provisional `raw:<rawDigest>` until {@link Lease.meaning} is written. */
  readonly fingerprint: string;
  readonly rawDigest?: string;
  /** The request's meaning, computed once when the record is completed; set only while `fingerprint` is provisional. */
  readonly meaning?: () => string;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly attempt: number;
  readonly owner?: string;
}

/** What the engine decided for one request (docs/protocol.md section 3). */
export type Decision =
  /** `resumed`: the owner took up its own live lease again (a durable execution replaying itself). */
  | { readonly kind: 'execute'; readonly lease: Lease; readonly resumed?: boolean }
  | {
      readonly kind: 'replay';
      readonly record: IdempotencyRecord;
      readonly result: unknown;
      readonly fromCache: boolean;
      /**
       * Why the replay carries no body although the operation returned one: the record's `resultDropped`, unless
       * its whole result was read back from the large-result store.
       */
      readonly dropped?: ResultDroppedReason;
    }
  | { readonly kind: 'mismatch'; readonly record: IdempotencyRecord }
  | { readonly kind: 'in_progress'; readonly record: IdempotencyRecord; readonly retryAfterSeconds: number }
  | { readonly kind: 'failed'; readonly record: IdempotencyRecord };

/** One request to the engine. */
export interface BeginInput {
  readonly org: string;
  readonly scope: string;
  /** The raw key; only its digest leaves this call. */
  readonly key: string;
  /**
   * What the request means; a function when it costs something to compute (a canonical JSON body) and a
   * `rawDigest` may make it unneeded: it is then called at most once, only when the raw digests differ.
   */
  readonly fingerprint: string | (() => string);
  /**
   * The digest of the request's raw bytes (docs/protocol.md section 2, "The raw digest"): equal digests are the same
   * request, whatever the meaning costs to compute. It must cover everything the fingerprint is computed from.
   */
  readonly rawDigest?: string;
  /** The Lambda's remaining time when known; 0 is a real value, not "unknown". */
  readonly remainingTimeMs?: number;
  /** Who claims (an SQS message id), stored so a later reader can tell redeliveries apart. */
  readonly owner?: string;
  /**
   * Run a `FAILED` record again (a DLQ replay after a fix), once: only a record that another owner failed is
   * reopened, so redeliveries of the replayed message that failed it themselves do not run it again.
   */
  readonly reclaimFailed?: boolean;
  /**
   * Take up a live lease that this same `owner` holds instead of waiting on it: a durable execution's replay
   * is its own earlier invocation, not a duplicate (docs/protocol.md section 10). Fenced by the record's token.
   */
  readonly resumeOwnLease?: boolean;
  /** Overrides the configured wait budget (jobs never wait). */
  readonly waitBudgetMs?: number;
  /**
   * The record as a batch read (`prefetch`) just found it: a completed one is decided from it with no further
   * round trip; anything else is claimed as usual.
   */
  readonly known?: IdempotencyRecord;
  readonly correlationId?: string;
}

/** How the engine is built; doors make one per handler at cold start. */
export interface EngineOptions {
  readonly store: Store;
  readonly settings: Settings;
  readonly telemetry: Telemetry;
  /** `undefined` for no cache. */
  readonly cache?: RecordCache;
  readonly clock?: () => number;
  /** Where the jitter of polls and retries comes from, in [0, 1): tests pin it to assert the backoff. */
  readonly random?: () => number;
  /** How the engine waits between polls and retries: tests record the waits instead of sleeping. */
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly codecLimits?: CodecLimits;
  /** Where results too large for a record are kept whole; `undefined` to complete such a record without its body. */
  readonly largeResults?: LargeResultStore;
}

const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 500;
// Store errors on complete and release are retried this often (after the SDK's own retries), from 25 ms
// doubling: a record left IN_PROGRESS after the side effect would let a later retry run it again.
const SETTLE_RETRIES = 3;
const SETTLE_BACKOFF_MS = 25;
// Keep this much of the Lambda's remaining time for answering after a wait.
const WAIT_SAFETY_MS = 500;
// A large result's object write ends this long before the lease does (the keeper no longer renews it then), so the
// complete that follows lands while the lease still holds.
const LARGE_RESULT_SAFETY_MS = 1000;

/**
 * The protocol engine: claim, decide, complete, release, renew. No AWS or Middy import; the HTTP middleware,
 * the job runner and the generic wrapper are doors onto it.
 *
 * @example
 * const engine = new IdempotencyEngine({ store, settings, telemetry: createTelemetry() });
 * const decision = await engine.begin({ org, scope, key, fingerprint });
 */
export class IdempotencyEngine {
  readonly store: Store;
  readonly settings: Settings;
  readonly telemetry: Telemetry;
  readonly #cache: RecordCache | undefined;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #sleep: (ms: number) => Promise<unknown>;
  readonly #codecLimits: CodecLimits;
  readonly #largeResults: LargeResultStore | undefined;
  readonly #durations = new Durations();

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.settings = options.settings;
    this.telemetry = options.telemetry;
    this.#cache = options.cache;
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? ((ms) => sleep(ms));
    this.#codecLimits = options.codecLimits ?? DEFAULT_CODEC_LIMITS;
    this.#largeResults = options.largeResults;
  }

  get mode(): Mode {
    return this.settings.mode;
  }

  now(): number {
    return this.#clock();
  }

  /**
   * Claims the key or decides from the record that blocks the claim: one `PutItem` on the first execution,
   * replay, mismatch and in-progress; none on a cache hit. A live lease is waited on (consistent reads with
   * backoff and jitter) within the wait budget, except in `observe` mode, which never blocks.
   * Throws {@link IdempotencyStoreError} when the store fails.
   */
  async begin(input: BeginInput): Promise<Decision> {
    const pk = recordKey(input.org, input.scope, input.key);
    const facts = this.#facts(input.org, input.scope, pk, input.correlationId);
    const request = requestOf(input);
    const startedAt = this.now();
    const cached = this.#cache?.get(pk, startedAt);
    if (cached !== undefined) return this.#report(await this.#decide(cached, request, true, facts), facts, 0);
    const { known } = input;
    if (known?.pk === pk && recordState(known, startedAt) === RecordState.Completed)
      return this.#report(await this.#decide(known, request, false, facts), facts, 0);

    const observing = this.mode === 'observe';
    const budget = observing ? 0 : this.#waitBudget(input);
    const deadline = startedAt + budget;
    let lastSeen: IdempotencyRecord | undefined;
    let pollMs = FIRST_POLL_MS;
    // Only time spent polling a live lease is a wait: the claim's own latency is not (docs/protocol.md section 7).
    let polled = false;
    const waitedMs = () => (polled ? this.now() - startedAt : 0);
    for (;;) {
      const nowMs = this.now();
      const lease = this.#newLease(pk, input, request, nowMs, lastSeen);
      // A replay reopens exactly the FAILED record it saw, fenced by that record's token.
      const failedToken = lastSeen?.status === RecordStatus.Failed ? lastSeen.leaseToken : undefined;
      const claim = await this.#call('claim', facts, () =>
        this.store.claim(this.#claimRecord(lease), { nowMs, failedToken }),
      ).catch(async (error: unknown) => {
        // The claim may have been applied behind a timeout: withdraw it, fenced by this lease's token, so
        // no orphan lease makes retries wait (409) until it expires. Best effort: the store is failing.
        await this.store.release(pk, lease.token).catch(() => {});
        throw error;
      });
      if (claim.claimed) return this.#report({ kind: 'execute', lease }, facts, waitedMs());
      // The blocking record vanished between the condition check and the read: claim again.
      let record = claim.existing;
      while (record !== undefined) {
        if (this.#reopens(record, input, request)) {
          lastSeen = record;
          break;
        }
        if (this.#resumes(record, input, request)) {
          const resumed = await this.#resume(record, input, request, facts);
          if (resumed !== undefined)
            return this.#report({ kind: 'execute', lease: resumed, resumed: true }, facts, waitedMs());
          // The lease changed between the claim and the renewal: claim again.
          break;
        }
        const decision = await this.#decide(record, request, false, facts);
        if (decision.kind !== 'in_progress') return this.#report(decision, facts, waitedMs());
        lastSeen = record;
        const waitNow = this.now();
        if (waitNow >= deadline) return this.#report(decision, facts, waitedMs());
        const leaseLeft = (record.leaseUntil ?? 0) - waitNow;
        await this.#sleep(
          Math.max(
            1,
            Math.min(pollMs + this.#random() * this.settings.jitterMs, deadline - waitNow, leaseLeft + 1),
          ),
        );
        polled = true;
        pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
        record = await this.#call('get', facts, () => this.store.get(pk));
        // An expired record or lease is claimable (and one gone since is too): leave the inner loop and claim.
        if (isClaimable(record, { nowMs: this.now() })) break;
      }
    }
  }

  /**
   * Decides from the stored record without claiming, for a door that never runs the operation (the edge, in
   * front of an origin that claims): `undefined` when there is nothing to answer (no record, or an expired or
   * stuck one, which only a claim may take). One read, never a wait; none on a cache hit.
   * Throws {@link IdempotencyStoreError} when the store fails.
   */
  async peek(
    input: Pick<BeginInput, 'org' | 'scope' | 'key' | 'fingerprint' | 'rawDigest' | 'correlationId'>,
  ): Promise<Exclude<Decision, { kind: 'execute' }> | undefined> {
    const pk = recordKey(input.org, input.scope, input.key);
    const facts = this.#facts(input.org, input.scope, pk, input.correlationId);
    const cached = this.#cache?.get(pk, this.now());
    const record = cached ?? (await this.#call('get', facts, () => this.store.get(pk)));
    if (record === undefined || isClaimable(record, { nowMs: this.now() })) return undefined;
    const decision = await this.#decide(record, requestOf(input), cached !== undefined, facts);
    return this.#report(decision, facts, 0) as Exclude<Decision, { kind: 'execute' }>;
  }

  /**
   * A replay meets a FAILED record with the same meaning that another owner failed: run it again, once. (One that
   * expired since the claim saw it is claimable anyway: the claim that follows takes it.)
   */
  #reopens(record: IdempotencyRecord, input: BeginInput, request: RequestIdentity): boolean {
    return (
      input.reclaimFailed === true &&
      matchOf(record, request) === Match.Same &&
      isReopenable(record, input.owner)
    );
  }

  /** The same owner meets its own live lease with the same meaning, and its door lets it take the lease up. */
  #resumes(record: IdempotencyRecord, input: BeginInput, request: RequestIdentity): boolean {
    return (
      input.resumeOwnLease === true &&
      input.owner !== undefined &&
      record.owner === input.owner &&
      record.leaseToken !== undefined &&
      matchOf(record, request) === Match.Same &&
      recordState(record, this.now()) === RecordState.Live
    );
  }

  /** Takes up the owner's own lease with one renewal fenced by its token; `undefined` if the token changed. */
  async #resume(
    record: IdempotencyRecord,
    input: BeginInput,
    request: RequestIdentity,
    facts: SignalFacts,
  ): Promise<Lease | undefined> {
    const token = record.leaseToken as string;
    const nowMs = this.now();
    const leaseUntil = nowMs + this.#leaseMs(input.remainingTimeMs);
    const expiresAt = Math.max(record.expiresAt, this.#expiresAt(nowMs));
    const renewed = await this.#call('renew', facts, () =>
      this.store.renew(record.pk, token, leaseUntil, expiresAt),
    );
    if (!renewed) return undefined;
    return {
      pk: record.pk,
      token,
      leaseUntil,
      org: record.org,
      scope: record.scope,
      fingerprint: record.fingerprint,
      rawDigest: record.rawDigest,
      ...(isProvisional(record.fingerprint) ? { meaning: request.meaning } : {}),
      expiresAt,
      createdAt: record.createdAt,
      attempt: record.attempt,
      owner: record.owner,
    };
  }

  /**
   * Reads the records of many requests in one batch read where the store can (`Store.getMany`), so a batch that
   * comes back (a redelivery) is decided without a write per completed job. An empty map when the store cannot,
   * or when the read fails (the claims then decide as usual).
   */
  async prefetch(
    requests: readonly { readonly org: string; readonly scope: string; readonly key: string }[],
  ): Promise<ReadonlyMap<string, IdempotencyRecord>> {
    const [first] = requests;
    const getMany = this.store.getMany?.bind(this.store);
    if (getMany === undefined || first === undefined) return new Map();
    const facts: SignalFacts = { mode: this.mode, scope: first.scope };
    const pks = requests.map((request) => recordKey(request.org, request.scope, request.key));
    return this.#call('getMany', facts, () => getMany(pks)).catch(() => new Map());
  }

  /**
   * Completes the record with the operation's result (or marks it `FAILED` for a permanent job failure),
   * fenced by the lease token. A result that does not fit is kept whole in the large-result store when there is one
   * (the object first, then the record with the fallback and a `resultRef`), else dropped, never retried: the record
   * must not stay `IN_PROGRESS` after the side effect. Returns `false` when the lease was lost (counted as `lease_lost`).
   */
  async complete(
    lease: Lease,
    value: unknown,
    options: {
      readonly status?: 'COMPLETED' | 'FAILED';
      readonly correlationId?: string;
      /** A smaller value stored instead when `value` does not fit or cannot be encoded (HTTP: status and headers). */
      readonly fallback?: unknown;
      /** The door already knows `value` does not fit (a stream that outgrew the limit): store `fallback`. */
      readonly dropped?: ResultDroppedReason;
    } = {},
  ): Promise<boolean> {
    const facts = this.#leaseFacts(lease, options.correlationId);
    let encoded =
      options.dropped === undefined
        ? encodeResult(value, this.#codecLimits)
        : { dropped: options.dropped, bytes: 0 };
    const status = options.status ?? RecordStatus.Completed;
    const resultRef =
      encoded.oversized === undefined || status !== RecordStatus.Completed
        ? undefined
        : await this.#keepLargeResult(lease, encoded.oversized, facts);
    if (encoded.dropped !== undefined) {
      if (resultRef === undefined)
        this.telemetry.emit(Signal.ResultTooLarge, {
          ...facts,
          detail: { reason: encoded.dropped, bytes: encoded.bytes },
        });
      // The fallback is the body stored instead; none, or one that does not fit either, leaves no body.
      encoded = { ...encodeResult(options.fallback, this.#codecLimits), dropped: encoded.dropped };
    }
    const completedAt = this.now();
    // The meaning a claim left provisional is computed now, once, and written with the outcome.
    const meaning = lease.meaning?.();
    const update = {
      status,
      result: encoded.result,
      resultDropped: encoded.dropped,
      resultRef,
      fingerprint: meaning,
      completedAt,
      expiresAt: lease.expiresAt,
    };
    const completed = await this.#settle(
      'complete',
      facts,
      lease,
      () => this.store.complete(lease.pk, lease.token, update),
      (record) => record?.leaseToken === lease.token && record.status === status,
      // A complete that finds its own completed record (a second complete by the same owner) is no lost lease.
      true,
    );
    if (!completed) {
      this.telemetry.emit(Signal.LeaseLost, { ...facts, detail: { during: 'complete' } });
      return false;
    }
    if (status === RecordStatus.Completed) {
      this.#durations.learn({ pk: lease.pk, scope: lease.scope, createdAt: lease.createdAt, completedAt });
      this.#cache?.set({
        pk: lease.pk,
        org: lease.org,
        scope: lease.scope,
        status,
        expiresAt: lease.expiresAt,
        fingerprint: meaning ?? lease.fingerprint,
        rawDigest: lease.rawDigest,
        result: encoded.result,
        resultDropped: encoded.dropped,
        resultRef,
        createdAt: lease.createdAt,
        completedAt,
        attempt: lease.attempt,
        v: RECORD_VERSION,
      });
    }
    return true;
  }

  /**
   * Deletes the record so a retry runs again, only if this lease still owns it. Returns `false` when the
   * lease was lost (counted as `lease_lost`): a late failure never deletes someone else's record.
   */
  async release(lease: Lease, options: { readonly correlationId?: string } = {}): Promise<boolean> {
    const facts = this.#leaseFacts(lease, options.correlationId);
    const released = await this.#settle(
      'release',
      facts,
      lease,
      () => this.store.release(lease.pk, lease.token),
      (record) => record?.leaseToken !== lease.token,
    );
    this.telemetry.emit(released ? Signal.Released : Signal.LeaseLost, {
      ...facts,
      detail: { during: 'release' },
    });
    return released;
  }

  /**
   * Pushes the lease's end to now + lock TTL (bounded by the remaining Lambda time when known), fenced.
   * Returns the renewed lease, or `undefined` when it was lost (counted as `lease_lost`).
   */
  async renew(lease: Lease, remainingTimeMs?: number): Promise<Lease | undefined> {
    const facts = this.#leaseFacts(lease);
    const nowMs = this.now();
    const leaseUntil = nowMs + this.#leaseMs(remainingTimeMs);
    // The record's lifetime moves with the lease, so a live lease never outlives it: an expired record is
    // claimable, and a TTL would delete it under its running owner (found by the model-based test).
    const expiresAt = Math.max(lease.expiresAt, this.#expiresAt(nowMs));
    const renewed = await this.#call('renew', facts, () =>
      this.store.renew(lease.pk, lease.token, leaseUntil, expiresAt),
    );
    if (!renewed) {
      this.telemetry.emit(Signal.LeaseLost, { ...facts, detail: { during: 'renew' } });
      return undefined;
    }
    return { ...lease, leaseUntil, expiresAt };
  }

  /** A record's end of life, epoch seconds, counted from `nowMs`. */
  #expiresAt(nowMs: number): number {
    return Math.floor(nowMs / 1000) + this.settings.expiresAfterSeconds;
  }

  /** The lease length of docs/protocol.md section 3: `min(lockTtl, remaining time)`; 0 ms left is a value. */
  #leaseMs(remainingTimeMs: number | undefined): number {
    const ttlMs = this.settings.lockTtlSeconds * 1000;
    return remainingTimeMs === undefined ? ttlMs : Math.max(0, Math.min(ttlMs, remainingTimeMs));
  }

  #waitBudget(input: BeginInput): number {
    const budget = input.waitBudgetMs ?? this.settings.waitBudgetMs;
    if (input.remainingTimeMs === undefined) return budget;
    return Math.max(0, Math.min(budget, input.remainingTimeMs - WAIT_SAFETY_MS));
  }

  #newLease(
    pk: string,
    input: BeginInput,
    request: RequestIdentity,
    nowMs: number,
    lastSeen: IdempotencyRecord | undefined,
  ): Lease {
    // With a raw digest, a costly meaning is left for the complete: a replay then never computes it.
    const provisional = request.rawDigest !== undefined && typeof input.fingerprint === 'function';
    return {
      pk,
      token: randomUUID(),
      leaseUntil: nowMs + this.#leaseMs(input.remainingTimeMs),
      org: input.org,
      scope: input.scope,
      fingerprint: provisional ? `${PROVISIONAL_PREFIX}${request.rawDigest}` : request.meaning(),
      rawDigest: request.rawDigest,
      ...(provisional ? { meaning: request.meaning } : {}),
      expiresAt: this.#expiresAt(nowMs),
      createdAt: nowMs,
      attempt: (lastSeen?.attempt ?? 0) + 1,
      owner: input.owner,
    };
  }

  #claimRecord(lease: Lease): IdempotencyRecord {
    return {
      pk: lease.pk,
      org: lease.org,
      scope: lease.scope,
      status: RecordStatus.InProgress,
      expiresAt: lease.expiresAt,
      leaseUntil: lease.leaseUntil,
      leaseToken: lease.token,
      owner: lease.owner,
      fingerprint: lease.fingerprint,
      rawDigest: lease.rawDigest,
      createdAt: lease.createdAt,
      attempt: lease.attempt,
      v: RECORD_VERSION,
    };
  }

  async #decide(
    record: IdempotencyRecord,
    request: RequestIdentity,
    fromCache: boolean,
    facts: SignalFacts,
  ): Promise<Decision> {
    const match = matchOf(record, request);
    const state = recordState(record, this.now());
    // A meaning not written yet is known only once the owner completes: until then the request waits or gets 409.
    if (match === Match.Different || (match === Match.Unknown && state !== RecordState.Live))
      return { kind: 'mismatch', record };
    if (state === RecordState.Completed) {
      if (!fromCache) this.#durations.learn(record);
      // Observe mode runs the request anyway: no object is read for a replay nobody sends.
      const whole =
        record.resultRef === undefined || this.mode === 'observe'
          ? undefined
          : await this.#fetchLargeResult(record.resultRef, facts);
      if (whole !== undefined) return { kind: 'replay', record, result: whole.value, fromCache };
      return {
        kind: 'replay',
        record,
        result: decodeResult(record.result),
        fromCache,
        dropped: record.resultDropped,
      };
    }
    if (state === RecordState.Failed) return { kind: 'failed', record };
    return {
      kind: 'in_progress',
      record,
      retryAfterSeconds: this.#durations.retryAfterSeconds(record, this.now()),
    };
  }

  #report(decision: Decision, facts: SignalFacts, waitedMs: number): Decision {
    // Observe mode never waits (its budget is 0), so it never counts a wait.
    if (waitedMs > 0 && decision.kind !== 'execute') {
      this.telemetry.emit(Signal.Waited, { ...facts, detail: { waitedMs, outcome: decision.kind } });
    }
    this.telemetry.emit(signalOf(decision, this.mode), {
      ...facts,
      detail: {
        attempt: decision.kind === 'execute' ? decision.lease.attempt : undefined,
        fromCache: decision.kind === 'replay' ? decision.fromCache : undefined,
        // docs/protocol.md section 3: a replay of a result that did not fit says so.
        resultDropped: decision.kind === 'replay' ? decision.dropped : undefined,
        retryAfterSeconds: decision.kind === 'in_progress' ? decision.retryAfterSeconds : undefined,
      },
    });
    if (decision.kind === 'replay' && !decision.fromCache) this.#cache?.set(decision.record);
    return decision;
  }

  /**
   * Writes a result too large for the record to the large-result store, before the record completes; its pointer, or
   * `undefined` (no store, no time left on the lease, or a failed write: counted as a `store_error`), and the record
   * then completes without the body as it would without a store. The write ends before the lease does.
   */
  async #keepLargeResult(
    lease: Lease,
    encoded: EncodedResult,
    facts: SignalFacts,
  ): Promise<ResultRef | undefined> {
    const largeResults = this.#largeResults;
    if (largeResults === undefined) return undefined;
    const { body, form } = largeResultBody(encoded);
    const sha256 = sha256Hex(body);
    const timeLeftMs = lease.leaseUntil - this.now() - LARGE_RESULT_SAFETY_MS;
    const detail = { operation: 'putLargeResult', bytes: body.byteLength };
    if (timeLeftMs <= 0) {
      this.telemetry.emit(Signal.StoreError, { ...facts, detail: { ...detail, error: 'LeaseEnding' } });
      return undefined;
    }
    // A store that does not stop on the signal is not waited for past it: the complete must land inside the lease.
    const key = await this.#call('putLargeResult', facts, () =>
      withinMs(timeLeftMs, (signal) =>
        largeResults.put({ name: largeResultName(lease.pk, sha256), body, sha256 }, signal),
      ),
    ).catch(() => undefined);
    return key === undefined ? undefined : { key, sha256, size: body.byteLength, form };
  }

  /**
   * The whole result a record points at, read and verified (size and SHA-256); `undefined` when it is missing,
   * corrupt or unreadable (counted as a `store_error`): the replay then answers without the body, and the operation
   * never runs again.
   */
  async #fetchLargeResult(
    ref: ResultRef,
    facts: SignalFacts,
  ): Promise<{ readonly value: unknown } | undefined> {
    const largeResults = this.#largeResults;
    if (largeResults === undefined) return undefined;
    let bytes: Uint8Array | undefined;
    try {
      // No more than the record's size (and one byte to tell a longer object) is read.
      bytes = await this.#call('getLargeResult', facts, () => largeResults.get(ref.key, undefined, ref.size));
    } catch {
      return undefined;
    }
    const problem = checkLargeResult(ref, bytes);
    if (problem === undefined && bytes !== undefined) {
      try {
        return { value: decodeLargeResult(ref, bytes) };
      } catch {
        // Bytes of the record's size and digest that do not decode: corrupt, counted as a digest mismatch is.
      }
    }
    this.telemetry.emit(Signal.StoreError, {
      ...facts,
      detail: {
        operation: 'getLargeResult',
        error: problem === 'missing' ? 'NoSuchObject' : 'DigestMismatch',
      },
    });
    return undefined;
  }

  #leaseFacts(lease: Lease, correlationId?: string): SignalFacts {
    return this.#facts(lease.org, lease.scope, lease.pk, correlationId);
  }

  /** What every signal about one record carries: never the raw key, only its digest. */
  #facts(org: string, scope: string, pk: string, correlationId: string | undefined): SignalFacts {
    return { mode: this.mode, scope, org, keyDigest: digestOf(pk), correlationId };
  }

  /**
   * A fenced write after the side effect (complete, release), retried on store errors: the record must not
   * stay `IN_PROGRESS` once the operation ran (docs/protocol.md section 3). When a retry's condition fails after an
   * attempt that errored, one consistent read tells whether that attempt was applied behind a timeout.
   */
  async #settle(
    operation: string,
    facts: SignalFacts,
    lease: Lease,
    write: () => Promise<boolean>,
    applied: (record: IdempotencyRecord | undefined) => boolean,
    checkFirstAttempt = false,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        const written = await this.#call(operation, facts, write);
        if (written || (attempt === 0 && !checkFirstAttempt)) return written;
        return applied(await this.#call('get', facts, () => this.store.get(lease.pk)));
      } catch (error) {
        if (attempt >= SETTLE_RETRIES) throw error;
        await this.#sleep(SETTLE_BACKOFF_MS * 2 ** attempt + this.#random() * this.settings.jitterMs);
      }
    }
  }

  async #call<T>(operation: string, facts: SignalFacts, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const storeError = new IdempotencyStoreError(operation, error);
      this.telemetry.emit(Signal.StoreError, {
        ...facts,
        detail: { operation, error: error instanceof Error ? error.name : 'unknown' },
      });
      throw storeError;
    }
  }
}

function signalOf(decision: Decision, mode: Mode): Signal {
  if (decision.kind === 'execute') return decision.resumed === true ? Signal.Resumed : Signal.FirstExecution;
  if (mode === 'observe') return decision.kind === 'replay' ? Signal.WouldReplay : Signal.WouldReject;
  switch (decision.kind) {
    case 'replay':
      return Signal.Replay;
    case 'mismatch':
      return Signal.Mismatch;
    case 'in_progress':
      return Signal.InProgress;
    case 'failed':
      return Signal.PreviouslyFailed;
  }
}

/**
 * `start(signal)`, or a rejection with a `TimeoutError` once `ms` have passed, whichever comes first; `signal` aborts
 * then, so a store that listens stops its work.
 */
function withinMs<T>(ms: number, start: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const signal = AbortSignal.timeout(ms);
  // Started first: a store that throws at once leaves no deadline behind to reject unhandled.
  const work = start(signal);
  // A late rejection of the loser, either one, is handled by the race.
  return Promise.race([
    work,
    new Promise<never>((_resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason));
    }),
  ]);
}

/** A claim that carried a raw digest writes this before the digest as the fingerprint, until the meaning is written. */
const PROVISIONAL_PREFIX = 'raw:';

function isProvisional(fingerprint: string): boolean {
  return fingerprint.startsWith(PROVISIONAL_PREFIX);
}

/** How one request is compared with records: its raw digest, and its meaning computed at most once. */
interface RequestIdentity {
  readonly rawDigest?: string;
  readonly meaning: () => string;
}

function requestOf(input: Pick<BeginInput, 'fingerprint' | 'rawDigest'>): RequestIdentity {
  const { fingerprint } = input;
  if (typeof fingerprint === 'string') return { rawDigest: input.rawDigest, meaning: () => fingerprint };
  let meaning: string | undefined;
  return { rawDigest: input.rawDigest, meaning: () => (meaning ??= fingerprint()) };
}

const Match = { Same: 'same', Different: 'different', Unknown: 'unknown' } as const;
type Match = (typeof Match)[keyof typeof Match];

/**
 * Whether a record was written for this request (docs/protocol.md section 2): equal raw digests say yes at once;
 * otherwise the meanings decide, `unknown` while the record's is still provisional (its owner has not completed).
 */
function matchOf(record: IdempotencyRecord, request: RequestIdentity): Match {
  if (request.rawDigest !== undefined && record.rawDigest === request.rawDigest) return Match.Same;
  if (isProvisional(record.fingerprint)) return Match.Unknown;
  return record.fingerprint === request.meaning() ? Match.Same : Match.Different;
}
