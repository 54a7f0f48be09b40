import type { IdempotencyEngine, Lease } from '../core/engine.js';

/** What a {@link LeaseKeeper} knows once the job has settled. */
export interface KeptLease {
  /** The latest renewed lease: its token still fences `complete` and `release`. */
  readonly lease: Lease;
  /** `true` once a renewal found another token: the job's outcome must not be written. */
  readonly lost: boolean;
}

/**
 * Renews a job's lease every `everyMs` while the job runs (docs/protocol.md section 3, step 4), fenced by the
 * lease token. The first failed renewal means someone else took the job over: renewing stops and the loss
 * is kept for the runner, which then writes no outcome. The engine logs and counts it as `lease_lost`.
 *
 * @example
 * const keeper = LeaseKeeper.start(engine, lease, 20_000, () => context.getRemainingTimeInMillis());
 * await processRecord(record, context);
 * const { lease: current, lost } = await keeper.stop();
 */
export class LeaseKeeper {
  readonly #engine: IdempotencyEngine;
  readonly #everyMs: number;
  readonly #remainingTimeMs: () => number | undefined;
  #lease: Lease;
  #lost = false;
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

  /**
   * Stops renewing and waits for a renewal in flight, so that no renewal lands after `complete` (it would
   * fail its condition and be miscounted as a lost lease).
   */
  async stop(): Promise<KeptLease> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#renewal;
    return { lease: this.#lease, lost: this.#lost };
  }

  #schedule(): void {
    // A chain of timeouts rather than an interval: a slow renewal never overlaps the next one.
    this.#timer = setTimeout(() => {
      this.#renewal = this.#renew();
    }, this.#everyMs);
  }

  async #renew(): Promise<void> {
    try {
      const renewed = await this.#engine.renew(this.#lease, this.#remainingTimeMs());
      if (renewed === undefined) {
        this.#lost = true;
        return;
      }
      this.#lease = renewed;
    } catch {
      // A store error (logged and counted by the engine) says nothing about ownership: try again next time.
    }
    if (!this.#stopped) this.#schedule();
  }
}
