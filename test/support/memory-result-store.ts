import type { LargeResultStore } from '../../src/core/types.js';

/** A fault of `put`: a write that fails, that never ends until aborted, or that ignores the abort. */
export type PutFault = 'fails' | 'hangs' | 'hangs-deaf';

/**
 * A large-result store in memory, for the tests of the engine and the doors: what it holds, what was put and read,
 * and the faults a test chooses (a write that fails or never ends, a read that throws). `S3ResultStore` itself is
 * tested against s3rver.
 */
export class MemoryResultStore implements LargeResultStore {
  readonly objects = new Map<string, Uint8Array>();
  readonly puts: { name: string; sha256: string; body: Uint8Array; signal?: AbortSignal }[] = [];
  readonly reads: { key: string; maxBytes?: number }[] = [];
  putFault?: PutFault;
  getFault?: Error;

  put(
    object: { readonly name: string; readonly body: Uint8Array; readonly sha256: string },
    signal?: AbortSignal,
  ): Promise<string> {
    this.puts.push({ ...object, signal });
    if (this.putFault === 'fails')
      return Promise.reject(Object.assign(new Error('service unavailable'), { name: 'SlowDown' }));
    if (this.putFault === 'hangs-deaf') return new Promise(() => {});
    if (this.putFault === 'hangs')
      return new Promise((_resolve, reject) =>
        signal?.addEventListener('abort', () => reject(signal.reason)),
      );
    const key = `results/${object.name}`;
    this.objects.set(key, Uint8Array.from(object.body));
    return Promise.resolve(key);
  }

  async get(key: string, _signal?: AbortSignal, maxBytes?: number): Promise<Uint8Array | undefined> {
    this.reads.push({ key, maxBytes });
    if (this.getFault !== undefined) throw this.getFault;
    const bytes = this.objects.get(key);
    return maxBytes === undefined ? bytes : bytes?.subarray(0, maxBytes + 1);
  }
}
