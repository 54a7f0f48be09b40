/** Runs a task when a slot is free; at most `concurrency` tasks run at once. */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/**
 * A limiter for one batch: tasks beyond `concurrency` wait for a running one to settle, roughly in the order
 * they asked.
 *
 * @example
 * const limit = createLimiter(4);
 * await Promise.all(records.map((record) => limit(() => run(record))));
 */
export function createLimiter(concurrency: number): Limiter {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async function limited<T>(task: () => Promise<T>): Promise<T> {
    while (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
