/**
 * The honest `Retry-After` of docs/protocol.md section 3: a duplicate of a running record is told to come back when
 * the scope's first executions usually end (their 90th percentile), learned from completed records.
 */
import { describe, expect, it } from 'vitest';
import { Durations } from '../../src/core/durations.js';

const NOW = 1_800_000_000_000;
const LONG_LEASE = NOW + 600_000;

/** A completed record of `scope` that took `ms`; `n` tells records of one scope apart. */
const completed = (scope: string, ms: number, n = 0) => ({
  pk: `acme#${scope}#k-${n}`,
  scope,
  createdAt: NOW - 100_000 + n,
  completedAt: NOW - 100_000 + n + ms,
});

/** A record of `scope` that started `elapsedMs` ago and holds its lease until `leaseUntil`. */
const running = (scope: string, elapsedMs = 0, leaseUntil: number | undefined = LONG_LEASE) => ({
  scope,
  createdAt: NOW - elapsedMs,
  leaseUntil,
});

function learned(scope: string, samplesMs: readonly number[]): Durations {
  const durations = new Durations();
  samplesMs.forEach((ms, n) => {
    durations.learn(completed(scope, ms, n));
  });
  return durations;
}

describe('the Retry-After of a running record', () => {
  it('is the scope’s usual duration minus how long this one has run, in whole seconds rounded up', () => {
    const durations = learned('charge', [8000]);
    expect(durations.retryAfterSeconds(running('charge', 0), NOW)).toBe(8);
    expect(durations.retryAfterSeconds(running('charge', 2500), NOW)).toBe(6);
  });

  it('is half the time it has run so far when nothing was learned for the scope', () => {
    const durations = learned('other', [8000]);
    expect(durations.retryAfterSeconds(running('charge', 10_000), NOW)).toBe(5);
  });

  it('is half its time so far once it runs as long as usual or longer', () => {
    const durations = learned('charge', [4000]);
    expect(durations.retryAfterSeconds(running('charge', 4000), NOW)).toBe(2);
    expect(durations.retryAfterSeconds(running('charge', 9000), NOW)).toBe(5);
  });

  it('counts a record created ahead of this clock as just started', () => {
    const durations = learned('charge', [3000]);
    expect(durations.retryAfterSeconds(running('charge', -5000), NOW)).toBe(3);
  });

  it('is at least one second', () => {
    expect(new Durations().retryAfterSeconds(running('charge', 0), NOW)).toBe(1);
    expect(learned('charge', [200]).retryAfterSeconds(running('charge', 0), NOW)).toBe(1);
  });

  it('is never more than the seconds left on the lease, rounded up, and at least one', () => {
    const durations = learned('charge', [30_000]);
    expect(durations.retryAfterSeconds(running('charge', 0, NOW + 2500), NOW)).toBe(3);
    expect(durations.retryAfterSeconds(running('charge', 0, NOW - 5000), NOW)).toBe(1);
    expect(durations.retryAfterSeconds({ scope: 'charge', createdAt: NOW }, NOW)).toBe(1);
  });
});

describe('what the estimate learns', () => {
  it('is the 90th percentile of the scope’s durations, whatever order they came in', () => {
    // Ten samples, 10 s down to 1 s: the 90th percentile of 1..10 s is the tenth smallest.
    const tenDown = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1].map((s) => s * 1000);
    expect(learned('charge', tenDown).retryAfterSeconds(running('charge'), NOW)).toBe(10);
    // Numbers, not text: 9 s is less than 10 s.
    expect(learned('charge', [9000, 10_000]).retryAfterSeconds(running('charge'), NOW)).toBe(10);
  });

  it('keeps the latest 32 durations of a scope', () => {
    // 33 s down to 1 s: the first (33 s) falls out, leaving 1..32 s, whose 90th percentile is 29 s.
    const down = Array.from({ length: 33 }, (_, n) => (33 - n) * 1000);
    expect(learned('charge', down).retryAfterSeconds(running('charge'), NOW)).toBe(29);
  });

  it('learns a record that completed in the millisecond it was created', () => {
    const durations = new Durations();
    durations.learn(completed('charge', 30_000, 0));
    for (let n = 1; n <= 10; n++) durations.learn(completed('charge', 0, n));
    // Ten of eleven took 0 ms: it usually ends at once, so one running 10 s is told half its time so far.
    expect(durations.retryAfterSeconds(running('charge', 10_000), NOW)).toBe(5);
  });

  it('ignores a record that has not completed', () => {
    const durations = learned('charge', [8000]);
    durations.learn({ pk: 'acme#charge#running', scope: 'charge', createdAt: NOW });
    expect(durations.retryAfterSeconds(running('charge'), NOW)).toBe(8);
  });

  it('ignores a record whose completion is before its creation (clocks apart)', () => {
    const durations = learned('charge', [8000]);
    for (let n = 1; n <= 10; n++) {
      durations.learn({
        pk: `acme#charge#skewed-${n}`,
        scope: 'charge',
        createdAt: NOW,
        completedAt: NOW - 1,
      });
    }
    expect(durations.retryAfterSeconds(running('charge'), NOW)).toBe(8);
  });

  it('counts a hot key replayed again and again once, and every other record of the scope', () => {
    const durations = new Durations();
    const hot = completed('charge', 1000, 0);
    for (let n = 0; n < 40; n++) durations.learn(hot);
    for (let n = 1; n <= 3; n++) durations.learn(completed('charge', 20_000, n));
    // 1 s once and 20 s three times: the 90th percentile of four samples is the largest.
    expect(durations.retryAfterSeconds(running('charge'), NOW)).toBe(20);
  });

  it('keeps 256 scopes, forgetting the one learned first, which then learns again from scratch', () => {
    const durations = new Durations();
    for (let n = 0; n < 256; n++) durations.learn(completed(`scope-${n}`, 8000));
    expect(durations.retryAfterSeconds(running('scope-0'), NOW)).toBe(8);
    durations.learn(completed('scope-256', 8000));
    // scope-0 is forgotten (nothing learned: at least one second); scope-1 and the new one are known.
    expect(durations.retryAfterSeconds(running('scope-0'), NOW)).toBe(1);
    expect(durations.retryAfterSeconds(running('scope-1'), NOW)).toBe(8);
    expect(durations.retryAfterSeconds(running('scope-256'), NOW)).toBe(8);
    // The same record of the forgotten scope counts again.
    durations.learn(completed('scope-0', 8000));
    expect(durations.retryAfterSeconds(running('scope-0'), NOW)).toBe(8);
  });
});
