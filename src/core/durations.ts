import type { IdempotencyRecord } from './types.js';

// How many recent first executions per scope the estimate reads, and how many scopes one process keeps.
const SAMPLES = 32;
const MAX_SCOPES = 256;

/**
 * How long one process has seen each scope's first executions take (claim to completion), learned from its
 * own completions and from every completed record it reads, so an instance that only ever answers
 * duplicates learns too. It turns a running record into an honest `Retry-After` (docs/protocol.md section 3).
 *
 * @example
 * durations.learn(record);
 * durations.retryAfterSeconds(runningRecord, Date.now()); // 3, not the 28 s left on the lease
 */
export class Durations {
  readonly #byScope = new Map<string, number[]>();
  // The last record learned per scope: a hot key replayed again and again counts once.
  readonly #last = new Map<string, string>();

  /** Keeps a completed record's duration; others are ignored. */
  learn(record: Pick<IdempotencyRecord, 'pk' | 'scope' | 'createdAt' | 'completedAt'>): void {
    if (record.completedAt === undefined || record.completedAt < record.createdAt) return;
    const identity = `${record.pk}@${record.createdAt}`;
    if (this.#last.get(record.scope) === identity) return;
    this.#last.set(record.scope, identity);
    let samples = this.#byScope.get(record.scope);
    if (samples === undefined) {
      if (this.#byScope.size >= MAX_SCOPES) {
        const oldest = this.#byScope.keys().next().value as string;
        this.#byScope.delete(oldest);
        this.#last.delete(oldest);
      }
      samples = [];
      this.#byScope.set(record.scope, samples);
    }
    samples.push(record.completedAt - record.createdAt);
    if (samples.length > SAMPLES) samples.shift();
  }

  /**
   * When to retry a duplicate of this running record, in whole seconds: the scope's usual duration (its 90th
   * percentile) minus how long this one has run; with nothing learned, or once it runs longer than usual, half
   * its time so far. At least 1 s, and never more than the seconds left on its lease, which bounds it.
   */
  retryAfterSeconds(
    record: Pick<IdempotencyRecord, 'scope' | 'createdAt' | 'leaseUntil'>,
    nowMs: number,
  ): number {
    const leaseLeftS = Math.max(1, Math.ceil(((record.leaseUntil ?? 0) - nowMs) / 1000));
    const elapsed = Math.max(0, nowMs - record.createdAt);
    const usual = this.#p90(record.scope);
    const remaining = usual !== undefined && usual > elapsed ? usual - elapsed : elapsed / 2;
    return Math.min(leaseLeftS, Math.max(1, Math.ceil(remaining / 1000)));
  }

  #p90(scope: string): number | undefined {
    // A scope's samples are never empty: it is added with its first one.
    const samples = this.#byScope.get(scope);
    if (samples === undefined) return undefined;
    const sorted = [...samples].sort((a, b) => a - b);
    // floor(0.9 n) is at most n - 1 for every n >= 1.
    return sorted[Math.floor(sorted.length * 0.9)];
  }
}
