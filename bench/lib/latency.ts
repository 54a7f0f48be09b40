import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import {
  benchClient,
  createOrderHandler,
  httpHandler,
  type Invoke,
  lambdaContext,
  orderBody,
  orderEvent,
} from './sides.js';
import { percentile } from './stats.js';
import { createSideTable } from './tables.js';

/** The handler alone, and behind each side's idempotency on DynamoDB Local. */
export const LATENCY_VARIANTS = ['bare', 'idemkit', 'powertools'] as const;
export type LatencyVariant = (typeof LATENCY_VARIANTS)[number];
export const LATENCY_PATHS = ['first', 'replay'] as const;
export type LatencyPath = (typeof LATENCY_PATHS)[number];
export const PERCENTILES = [50, 95, 99] as const;

export interface LatencyInput {
  readonly endpoint: string;
  readonly rounds: number;
  /** Invocations per round, variant and path, one at a time. */
  readonly invocations: number;
  readonly bodyKb: number;
}

/** Wall-clock ms per invocation, by path then variant, then percentile (`p50`, `p95`, `p99`). */
export interface LatencyOutput {
  readonly percentiles: Record<LatencyPath, Record<LatencyVariant, Record<string, number>>>;
  readonly invocations: number;
  /** Every replay answered with its first execution's body (the handler did not run again), per variant. */
  readonly replayedAll: Record<LatencyVariant, boolean>;
}

/**
 * Latency of one invocation at a time on DynamoDB Local: the same Middy handler bare, behind idemkit and behind
 * Powertools, first executions (fresh keys) then replays of the same keys, the variants rotated every round. The
 * added latency of a side is its percentile minus the bare handler's.
 */
export async function measureLatency(input: LatencyInput): Promise<LatencyOutput> {
  const clients = [benchClient(input.endpoint), benchClient(input.endpoint)];
  const [idemkitClient, powertoolsClient] = clients as [
    ReturnType<typeof benchClient>,
    ReturnType<typeof benchClient>,
  ];
  const handlers: Record<LatencyVariant, Invoke> = {
    bare: middy(createOrderHandler()) as unknown as Invoke,
    idemkit: httpHandler('idemkit', {
      client: idemkitClient,
      tableName: await createSideTable(idemkitClient, 'idemkit'),
    }),
    powertools: httpHandler('powertools', {
      client: powertoolsClient,
      tableName: await createSideTable(powertoolsClient, 'powertools'),
    }),
  };
  const template = orderEvent('template', orderBody(input.bodyKb * 1024, input.bodyKb)) as Record<
    string,
    unknown
  >;
  const headers = template.headers as Record<string, string>;
  const eventFor = (key: string) => ({ ...template, headers: { ...headers, 'idempotency-key': key } });
  const samples = Object.fromEntries(
    LATENCY_PATHS.map((path) => [path, Object.fromEntries(LATENCY_VARIANTS.map((v) => [v, [] as number[]]))]),
  ) as Record<LatencyPath, Record<LatencyVariant, number[]>>;
  const replayedAll = Object.fromEntries(LATENCY_VARIANTS.map((v) => [v, true])) as Record<
    LatencyVariant,
    boolean
  >;

  const runOnce = async (variant: LatencyVariant, keep: boolean) => {
    const keys = Array.from({ length: input.invocations }, () => randomUUID());
    const bodies = new Map<string, unknown>();
    for (const key of keys) {
      const started = performance.now();
      const response = (await handlers[variant](eventFor(key), lambdaContext())) as { body?: unknown };
      if (keep) samples.first[variant].push(performance.now() - started);
      bodies.set(key, response.body);
    }
    for (const key of keys) {
      const started = performance.now();
      const response = (await handlers[variant](eventFor(key), lambdaContext())) as { body?: unknown };
      if (keep) samples.replay[variant].push(performance.now() - started);
      // The bare handler runs again and answers a new order: only the idempotent sides replay.
      if (variant !== 'bare' && response.body !== bodies.get(key)) replayedAll[variant] = false;
    }
  };
  // Warm every variant (JIT, connection pools, DynamoDB Local's own JIT) before anything is kept.
  for (const variant of LATENCY_VARIANTS) await runOnce(variant, false);
  for (let round = 0; round < input.rounds; round++) {
    for (let index = 0; index < LATENCY_VARIANTS.length; index++) {
      await runOnce(LATENCY_VARIANTS[(index + round) % LATENCY_VARIANTS.length] as LatencyVariant, true);
    }
  }
  for (const client of clients) client.destroy();
  const percentiles = Object.fromEntries(
    LATENCY_PATHS.map((path) => [
      path,
      Object.fromEntries(
        LATENCY_VARIANTS.map((variant) => [
          variant,
          Object.fromEntries(PERCENTILES.map((p) => [`p${p}`, percentile(samples[path][variant], p)])),
        ]),
      ),
    ]),
  ) as LatencyOutput['percentiles'];
  return { percentiles, invocations: input.rounds * input.invocations, replayedAll };
}
