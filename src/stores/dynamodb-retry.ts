import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How a claim meets `ReplicatedWriteConflictException`, which a multi-Region strongly consistent (MRSC) table
 * returns when another Region writes the same item at the same moment (often: a duplicate claiming it there).
 * The write was not applied, so the claim is sent again, with backoff like a throttle, beyond the SDK's own
 * retries; the retried claim then meets the other Region's record and decides from it (docs/protocol.md
 * section 11). Writes after the side effect are not retried here: the engine settles them like any store error.
 */
export const CONFLICT_RETRY = {
  /** Attempts after the first. */
  retries: 5,
  /** The first backoff; it doubles, with full jitter, up to `maxDelayMs`. */
  baseDelayMs: 50,
  maxDelayMs: 1000,
} as const;

/** Whether `error` is MRSC's replicated write conflict (by name: the class may come from another SDK copy). */
export function isReplicatedWriteConflict(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'ReplicatedWriteConflictException';
}

/** How a retry waits between attempts: the pause, and the jitter source in [0, 1). Tests pin both. */
export interface RetryTiming {
  readonly sleep: (ms: number) => Promise<unknown>;
  readonly random: () => number;
}

const SYSTEM_TIMING: RetryTiming = { sleep, random: Math.random };

/**
 * Runs `write`, again after a replicated write conflict, up to {@link CONFLICT_RETRY}`.retries` times; any other
 * error, or the last conflict, is thrown.
 *
 * @example
 * await retryOnReplicatedWriteConflict(() => client.send(new PutItemCommand(claim)));
 */
export async function retryOnReplicatedWriteConflict<T>(
  write: () => Promise<T>,
  retry: {
    readonly retries: number;
    readonly baseDelayMs: number;
    readonly maxDelayMs: number;
  } = CONFLICT_RETRY,
  timing: RetryTiming = SYSTEM_TIMING,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!isReplicatedWriteConflict(error) || attempt >= retry.retries) throw error;
      await timing.sleep(timing.random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt));
    }
  }
}
