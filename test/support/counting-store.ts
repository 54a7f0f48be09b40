import type { ClaimOptions } from '../../src/core/record-state.js';
import type { CompletionUpdate, IdempotencyRecord } from '../../src/core/types.js';
import { MemoryStore } from '../../src/stores/memory.js';

/** A memory store that lists the store calls a batch made, in order: the round trips a DynamoDB store would make. */
export class CountingStore extends MemoryStore {
  readonly calls: string[] = [];

  count(name?: string): number {
    return name === undefined ? this.calls.length : this.calls.filter((call) => call === name).length;
  }

  override claim(record: IdempotencyRecord, options: ClaimOptions) {
    this.calls.push('claim');
    return super.claim(record, options);
  }

  override get(pk: string) {
    this.calls.push('get');
    return super.get(pk);
  }

  override getMany(pks: readonly string[]) {
    this.calls.push('getMany');
    return super.getMany(pks);
  }

  override complete(pk: string, leaseToken: string, update: CompletionUpdate) {
    this.calls.push('complete');
    return super.complete(pk, leaseToken, update);
  }

  override release(pk: string, leaseToken: string) {
    this.calls.push('release');
    return super.release(pk, leaseToken);
  }

  override renew(pk: string, leaseToken: string, leaseUntil: number, expiresAt?: number) {
    this.calls.push('renew');
    return super.renew(pk, leaseToken, leaseUntil, expiresAt);
  }
}
