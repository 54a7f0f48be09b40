/** The median of a list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The p-th percentile (0 to 100), nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** idemkit / Powertools; 0 / 0 is 1 (the same), x / 0 is Infinity. */
export function ratio(idemkit: number, powertools: number): number {
  if (powertools === 0) return idemkit === 0 ? 1 : Number.POSITIVE_INFINITY;
  return idemkit / powertools;
}

/** A / B order for round `round`: alternated so neither side always runs first (warm caches, JIT, GC). */
export function orderFor<T>(round: number, pair: readonly [T, T]): readonly [T, T] {
  return round % 2 === 0 ? pair : [pair[1], pair[0]];
}
