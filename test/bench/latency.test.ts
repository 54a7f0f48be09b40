import { describe, expect, inject, it } from 'vitest';
import { LATENCY_PATHS, LATENCY_VARIANTS, measureLatency } from '../../bench/lib/latency.js';
import { captureLogs } from '../support/log-capture.js';

// A few invocations of the bench's added-latency section on the suite's DynamoDB Local: every variant ran, and
// both idempotent sides replayed what their first execution answered. Times are measured by the bench alone.
describe('the added-latency section of the bench', () => {
  it('times every variant on both paths, and both sides replay their first answers', async () => {
    const logs = captureLogs();
    let output: Awaited<ReturnType<typeof measureLatency>>;
    try {
      output = await measureLatency({
        endpoint: inject('dynamoEndpoint'),
        rounds: 1,
        invocations: 3,
        bodyKb: 1,
      });
    } finally {
      logs.stop();
    }
    expect(output.invocations).toBe(3);
    expect(output.replayedAll).toEqual({ bare: true, idemkit: true, powertools: true });
    for (const path of LATENCY_PATHS) {
      for (const variant of LATENCY_VARIANTS) {
        for (const p of ['p50', 'p95', 'p99'])
          expect(output.percentiles[path][variant][p]).toBeGreaterThan(0);
      }
    }
  }, 120_000);
});
