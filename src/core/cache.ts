import { encodedSize } from './codec.js';
import type { IdempotencyRecord } from './types.js';

/**
 * Bounds of the in-process cache of completed records (warm Lambda containers replay with 0 round trips).
 *
 * @example
 * { maxEntries: 1000, maxBytes: 8 * 1024 * 1024 }
 */
export interface CacheOptions {
  /**
   * How many records at most.
   * @default 1000
   */
  readonly maxEntries?: number;
  /**
   * How many bytes of stored results at most (estimated from the encoded size).
   * @default 8_388_608 (8 MiB)
   */
  readonly maxBytes?: number;
}

const RECORD_OVERHEAD_BYTES = 256;

/**
 * A least-recently-used map of completed records, bounded by count and by bytes.
 *
 * @example
 * const cache = new RecordCache({ maxEntries: 100 });
 */
export class RecordCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #entries = new Map<string, { record: IdempotencyRecord; bytes: number }>();
  #bytes = 0;

  constructor(options: CacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
  }

  /** The record for `pk` if cached and not expired at `nowMs`; refreshes its recency. */
  get(pk: string, nowMs: number): IdempotencyRecord | undefined {
    const entry = this.#entries.get(pk);
    if (entry === undefined) return undefined;
    this.#entries.delete(pk);
    if (entry.record.expiresAt < Math.floor(nowMs / 1000)) {
      this.#bytes -= entry.bytes;
      return undefined;
    }
    this.#entries.set(pk, entry);
    return entry.record;
  }

  /** Adds a record, evicting the least recently used ones past either bound. */
  set(record: IdempotencyRecord): void {
    const bytes = RECORD_OVERHEAD_BYTES + encodedSize(record.result);
    // Never one larger than the whole bound: it would evict every other record, then itself. (`maxEntries: 0` needs
    // no check of its own: the loop below evicts the record it just added.)
    if (bytes > this.#maxBytes) return;
    this.delete(record.pk);
    this.#entries.set(record.pk, { record, bytes });
    this.#bytes += bytes;
    for (const [pk, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(pk);
      this.#bytes -= entry.bytes;
    }
  }

  delete(pk: string): void {
    const entry = this.#entries.get(pk);
    if (entry === undefined) return;
    this.#entries.delete(pk);
    this.#bytes -= entry.bytes;
  }

  /** How many records and bytes are held. */
  get size(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.#entries.size, bytes: this.#bytes };
  }
}
