import { AsyncLocalStorage } from 'node:async_hooks';
import type { BeginInput, Decision, IdempotencyEngine, Lease } from './engine.js';
import { IdempotencyConfigError, IdempotencyStoreError } from './errors.js';
import { LeaseKeeper } from './lease-keeper.js';
import { RecordStatus, type ResultDroppedReason } from './types.js';

/** What a door asks the guard for one operation; `remainingTimeMs` is read again at every renewal. */
export interface GuardInput extends Omit<BeginInput, 'remainingTimeMs'> {
  readonly remainingTimeMs: () => number | undefined;
}

/** A decision about a duplicate: what the door answers instead of running the operation. */
export type Duplicate = Exclude<Decision, { kind: 'execute' }>;

/**
 * What the guard decided for one operation; a door only translates it into its own answer.
 * - `owner`: the first execution. Run it under `ownership` (its lease is kept alive), then settle.
 * - `unguarded`: run it without a record: mode `off`, a duplicate in `observe`, or a store error with fail-open.
 * - `refused`: a store error under strict fail-closed; do not run (HTTP 503, a reported record, a throw).
 * - `duplicate`: `enforce` mode, another invocation ran or runs it: replay, reject or report.
 */
export type Entry =
  | { readonly kind: 'owner'; readonly ownership: Ownership }
  | { readonly kind: 'unguarded'; readonly reason: 'off' | 'observe' | 'fail_open' }
  | { readonly kind: 'refused'; readonly error: IdempotencyStoreError }
  | { readonly kind: 'duplicate'; readonly decision: Duplicate };

/**
 * How an owned operation settled: `done` (its outcome is stored, or the key released), `lost` (another
 * invocation took the lease over, nothing was written) or `unsettled` (the store kept failing after the side
 * effect; logged and counted, never thrown at the caller).
 */
export type Settled = 'done' | 'lost' | 'unsettled';

/** What an operation run by {@link Ownership.run} ended with. */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: unknown };

const running = new AsyncLocalStorage<AbortSignal>();

/**
 * The abort signal of the lease the calling code runs under: it aborts when the lease is taken over, so long
 * work can stop early (its outcome would not be stored). Inside a function wrapped by `makeIdempotent` or a
 * job's `processRecord`; `undefined` outside one. HTTP handlers read theirs with `httpLeaseSignal(context)`.
 *
 * @example
 * const charge = makeIdempotent(async (payment: Payment) => {
 *   for (const step of steps) { leaseSignal()?.throwIfAborted(); await step(payment); }
 * }, options);
 */
export function leaseSignal(): AbortSignal | undefined {
  return running.getStore();
}

/**
 * A first execution's right to run, with its lease kept alive until it settles. Settles once: a second
 * `complete`, `fail` or `release` answers what the first one did and writes nothing.
 */
export class Ownership {
  readonly #engine: IdempotencyEngine;
  readonly #keeper: LeaseKeeper;
  readonly #correlationId: string | undefined;
  #settled: Promise<Settled> | undefined;

  /** @internal Built by {@link Guard.enter}. */
  constructor(engine: IdempotencyEngine, keeper: LeaseKeeper, correlationId: string | undefined) {
    this.#engine = engine;
    this.#keeper = keeper;
    this.#correlationId = correlationId;
  }

  /** Aborts when another invocation takes the lease over. */
  get signal(): AbortSignal {
    return this.#keeper.signal;
  }

  /** Runs `operation` with {@link leaseSignal} set to this lease's signal; never throws. */
  async run<T>(operation: (signal: AbortSignal) => Promise<T> | T): Promise<Outcome<T>> {
    try {
      return { ok: true, value: await running.run(this.signal, () => operation(this.signal)) };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /**
   * Stores the outcome (`fallback` when it does not fit), fenced by the lease: replays answer it from now on.
   * `audit` (a door's `onFirstCompletion`) runs once, only when this completion stored it; a throw from it is
   * logged, never thrown, because the operation is done.
   */
  async complete(
    value: unknown,
    options: {
      readonly fallback?: unknown;
      readonly dropped?: ResultDroppedReason;
      readonly audit?: () => unknown;
    } = {},
  ): Promise<Settled> {
    // Only the call that settles may audit: a second complete answers the first one's outcome, stores nothing.
    const settles = this.#settled === undefined;
    const settled = await this.#settle((lease) =>
      this.#engine.complete(lease, value, {
        correlationId: this.#correlationId,
        fallback: options.fallback,
        dropped: options.dropped,
      }),
    );
    if (settles && settled === 'done' && options.audit !== undefined) {
      try {
        await options.audit();
      } catch (error) {
        this.#engine.telemetry.warn(
          `\`onFirstCompletion\` threw ${error instanceof Error ? error.name : typeof error} for ${this.#correlationId ?? 'an operation'}; the operation is done and will not run it again.`,
        );
      }
    }
    return settled;
  }

  /** Marks the operation `FAILED` (a permanent failure): duplicates are refused until a replay reopens it. */
  fail(value: unknown): Promise<Settled> {
    return this.#settle((lease) =>
      this.#engine.complete(lease, value, {
        status: RecordStatus.Failed,
        correlationId: this.#correlationId,
      }),
    );
  }

  /** Deletes the record so a retry runs again (a retryable failure). */
  release(): Promise<Settled> {
    return this.#settle((lease) => this.#engine.release(lease, { correlationId: this.#correlationId }));
  }

  #settle(write: (lease: Lease) => Promise<boolean>): Promise<Settled> {
    this.#settled ??= (async () => {
      const kept = await this.#keeper.stop();
      // Someone else owns the operation now (counted as `lease_lost` when the renewal found out): write nothing.
      if (kept.lost) return 'lost';
      try {
        return (await write(kept.lease)) ? 'done' : 'lost';
      } catch (error) {
        // The side effect happened; the engine logged and counted the store error after its retries.
        if (error instanceof IdempotencyStoreError) return 'unsettled';
        throw error;
      }
    })();
    return this.#settled;
  }
}

/** Options of {@link Guard}. */
export interface GuardOptions {
  /** The door's name, for messages (`httpIdempotency`, `sqsJobs`, `makeIdempotent`). */
  readonly door: string;
  /**
   * How often a running operation renews its lease, in ms; shorter than the lock TTL.
   * @default a third of the lock TTL, so two renewals can be late before the lease could lapse
   */
  readonly renewEveryMs?: number;
}

/**
 * The one guard every door calls (docs/protocol.md sections 3 to 6): it enters (mode, claim, wait, fail-open
 * or strict fail-closed), keeps the owner's lease alive while it runs, and settles after the side effect. Doors
 * only translate its answers: problem+json for HTTP, ack/report for jobs, return/throw for `makeIdempotent`.
 *
 * @example
 * const guard = new Guard(buildEngine(options), { door: 'myDoor' });
 * const entry = await guard.enter({ org, scope, key, fingerprint, remainingTimeMs: () => undefined });
 * if (entry.kind === 'owner') {
 *   const outcome = await entry.ownership.run(operation);
 *   await (outcome.ok ? entry.ownership.complete(outcome.value) : entry.ownership.release());
 * }
 */
export class Guard {
  readonly engine: IdempotencyEngine;
  /** The renewal period in ms. */
  readonly renewEveryMs: number;

  constructor(engine: IdempotencyEngine, options: GuardOptions) {
    this.engine = engine;
    const lockTtlMs = engine.settings.lockTtlSeconds * 1000;
    this.renewEveryMs = options.renewEveryMs ?? Math.floor(lockTtlMs / 3);
    if (this.renewEveryMs >= lockTtlMs) {
      throw new IdempotencyConfigError([
        `Expected \`renewEvery\` of \`${options.door}\` to be shorter than the lock TTL (${lockTtlMs} ms), got ${this.renewEveryMs}; renew at most every third of the lock TTL, or leave it unset.`,
      ]);
    }
  }

  /**
   * What a door that never runs the operation may answer from the stored record alone (the edge, in front of
   * an origin that claims): a duplicate in `enforce` mode, else `undefined`, which means "let the authority
   * decide". A store error is `undefined` too, whatever `strictFailClosed` says: the authority still guards.
   */
  async inspect(input: Omit<GuardInput, 'remainingTimeMs'>): Promise<Duplicate | undefined> {
    const { engine } = this;
    if (engine.mode === 'off') return undefined;
    let decision: Duplicate | undefined;
    try {
      decision = await engine.peek(input);
    } catch (error) {
      if (!(error instanceof IdempotencyStoreError)) throw error;
      return undefined;
    }
    // Observe measures duplicates (would_replay, would_reject) but never answers.
    return engine.mode === 'enforce' ? decision : undefined;
  }

  /** Decides whether and how the operation runs; throws only what is not a store error (a bug). */
  async enter(input: GuardInput): Promise<Entry> {
    const { engine } = this;
    if (engine.mode === 'off') return { kind: 'unguarded', reason: 'off' };
    let decision: Decision;
    try {
      decision = await engine.begin({ ...input, remainingTimeMs: input.remainingTimeMs() });
    } catch (error) {
      if (!(error instanceof IdempotencyStoreError)) throw error;
      // The engine has logged and counted the store error.
      return engine.settings.strictFailClosed
        ? { kind: 'refused', error }
        : { kind: 'unguarded', reason: 'fail_open' };
    }
    if (decision.kind === 'execute') {
      const keeper = LeaseKeeper.start(engine, decision.lease, this.renewEveryMs, input.remainingTimeMs);
      return { kind: 'owner', ownership: new Ownership(engine, keeper, input.correlationId) };
    }
    // Observe measures duplicates (would_replay, would_reject) but never blocks.
    if (engine.mode === 'observe') return { kind: 'unguarded', reason: 'observe' };
    return { kind: 'duplicate', decision };
  }
}
