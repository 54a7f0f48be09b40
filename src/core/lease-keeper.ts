import type { IdempotencyEngine, Lease } from './engine.js';
import { IdempotencyLeaseLostError } from './errors.js';

/** What a {@link LeaseKeeper} knows once the operation has settled. */
export interface KeptLease {
  /** The latest renewed lease: its token still fences `complete` and `release`. */
  readonly lease: Lease;
  /** `true` once a renewal found another token: the operation's outcome must not be written. */
  readonly lost: boolean;
}

/**
 * Keeps a lease alive while its owner runs (docs/protocol.md section 3, step 4): renews it every `everyMs`,
 * fenced by the lease token and bounded by the Lambda's remaining time. The first renewal that finds another
 * token means someone else took the operation over: renewing stops, `signal` aborts with
 * {@link IdempotencyLeaseLostError}, and the door then writes no outcome. The engine counts it as `lease_lost`.
 * A store error during a renewal says nothing about ownership: the next renewal tries again.
 *
 * @example
 * const keeper = LeaseKeeper.start(engine, lease, 20_000, () => context.getRemainingTimeInMillis());
 * await operation(keeper.signal);
 * const { lease: current, lost } = await keeper.stop();
 */
export class LeaseKeeper {
  readonly #engine: IdempotencyEngine;
  readonly #everyMs: number;
  readonly #remainingTimeMs: () => number | undefined;
  readonly #abort = new AbortController();
  #lease: Lease;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #renewal: Promise<void> = Promise.resolve();

  private constructor(
    engine: IdempotencyEngine,
    lease: Lease,
    everyMs: number,
    remainingTimeMs: () => number | undefined,
  ) {
    this.#engine = engine;
    this.#lease = lease;
    this.#everyMs = everyMs;
    this.#remainingTimeMs = remainingTimeMs;
  }

  /** Starts renewing `lease` every `everyMs`. */
  static start(
    engine: IdempotencyEngine,
    lease: Lease,
    everyMs: number,
    remainingTimeMs: () => number | undefined,
  ): LeaseKeeper {
    const keeper = new LeaseKeeper(engine, lease, everyMs, remainingTimeMs);
    keeper.#schedule();
    return keeper;
  }

  /** Aborts when the lease is lost, with an {@link IdempotencyLeaseLostError} as its reason. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * Stops renewing and waits for a renewal in flight, so that no renewal lands after `complete` (it would
   * fail its condition and be miscounted as a lost lease).
   */
  async stop(): Promise<KeptLease> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#renewal;
    return { lease: this.#lease, lost: this.#abort.signal.aborted };
  }

  #schedule(): void {
    // A chain of timeouts rather than an interval: a slow renewal never overlaps the next one. Unref'd, so a
    // lease alone never keeps a process alive.
    this.#timer = setTimeout(() => {
      this.#renewal = this.#renew();
    }, this.#everyMs);
    this.#timer.unref();
  }

  // No check of `#stopped` first: `stop` clears the timer in the same step as it sets `#stopped`, so a renewal
  // only ever starts before `stop`.
  async #renew(): Promise<void> {
    try {
      const renewed = await this.#engine.renew(this.#lease, this.#remainingTimeMs());
      if (renewed === undefined) {
        this.#abort.abort(new IdempotencyLeaseLostError());
        return;
      }
      this.#lease = renewed;
    } catch {
      // Logged and counted by the engine; ownership is unknown, so keep trying.
    }
    if (!this.#stopped) this.#schedule();
  }
}
