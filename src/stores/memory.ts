import { type ClaimOptions, isClaimable } from '../core/record-state.js';
import {
  type ClaimResult,
  type CompletionUpdate,
  type IdempotencyRecord,
  RecordStatus,
  type Store,
} from '../core/types.js';

/**
 * A store in this process's memory: for tests, local development and single-process tools. Records are
 * lost when the process ends and are not shared between Lambda instances.
 *
 * @example
 * const store = new MemoryStore();
 */
export class MemoryStore implements Store {
  readonly #records = new Map<string, IdempotencyRecord>();

  async claim(record: IdempotencyRecord, options: ClaimOptions): Promise<ClaimResult> {
    const existing = this.#records.get(record.pk);
    if (!isClaimable(existing, options)) return { claimed: false, existing };
    this.#records.set(record.pk, record);
    return { claimed: true };
  }

  async get(pk: string): Promise<IdempotencyRecord | undefined> {
    return this.#records.get(pk);
  }

  async getMany(pks: readonly string[]): Promise<ReadonlyMap<string, IdempotencyRecord>> {
    const found = new Map<string, IdempotencyRecord>();
    for (const pk of pks) {
      const record = this.#records.get(pk);
      if (record !== undefined) found.set(pk, record);
    }
    return found;
  }

  async complete(pk: string, leaseToken: string, update: CompletionUpdate): Promise<boolean> {
    const existing = this.#owned(pk, leaseToken);
    if (existing === undefined) return false;
    const { leaseUntil: _leaseUntil, ...rest } = existing;
    this.#records.set(pk, { ...rest, ...withoutUndefined(update) });
    return true;
  }

  async release(pk: string, leaseToken: string): Promise<boolean> {
    if (this.#owned(pk, leaseToken) === undefined) return false;
    this.#records.delete(pk);
    return true;
  }

  async renew(pk: string, leaseToken: string, leaseUntil: number, expiresAt?: number): Promise<boolean> {
    const existing = this.#owned(pk, leaseToken);
    if (existing === undefined) return false;
    this.#records.set(pk, { ...existing, leaseUntil, ...(expiresAt === undefined ? {} : { expiresAt }) });
    return true;
  }

  /** Every record held, for tests and tools. */
  records(): IdempotencyRecord[] {
    return [...this.#records.values()];
  }

  #owned(pk: string, leaseToken: string): IdempotencyRecord | undefined {
    const existing = this.#records.get(pk);
    // Fenced writes apply only to the caller's own, still running claim.
    return existing?.leaseToken === leaseToken && existing.status === RecordStatus.InProgress
      ? existing
      : undefined;
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, member]) => member !== undefined)) as Partial<T>;
}
