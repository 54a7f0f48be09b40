import { randomUUID } from 'node:crypto';
import {
  benchClient,
  httpHandler,
  lambdaContext,
  orderBody,
  orderEvent,
  SIDES,
  type Side,
} from '../lib/sides.js';
import { orderFor, percentile } from '../lib/stats.js';
import { createSideTable } from '../lib/tables.js';
import { workerMain } from '../lib/worker.js';

export interface ThroughputInput {
  readonly endpoint: string;
  readonly concurrency: readonly number[];
  readonly rounds: number;
  readonly durationMs: number;
}

/** One round of one side: invocations per second and latency percentiles in ms. */
export interface ThroughputSample {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly invocations: number;
}

/** By concurrency, then side: one sample per round. */
export type ThroughputOutput = Record<string, Record<Side, ThroughputSample[]>>;

const BODY = orderBody(1024, 3);

workerMain<ThroughputInput, ThroughputOutput>(async (input) => {
  const handlers = {} as Record<Side, ReturnType<typeof httpHandler>>;
  const clients = [];
  for (const side of SIDES) {
    const client = benchClient(input.endpoint);
    clients.push(client);
    handlers[side] = httpHandler(side, { client, tableName: await createSideTable(client, side) });
  }
  const template = orderEvent('template', BODY) as Record<string, unknown>;
  const headers = template.headers as Record<string, string>;
  const run = async (side: Side, concurrency: number): Promise<ThroughputSample> => {
    const latencies: number[] = [];
    const started = performance.now();
    const deadline = started + input.durationMs;
    const loop = async () => {
      while (performance.now() < deadline) {
        const event = { ...template, headers: { ...headers, 'idempotency-key': randomUUID() } };
        const context = lambdaContext();
        const begin = performance.now();
        await handlers[side](event, context);
        latencies.push(performance.now() - begin);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    const elapsed = (performance.now() - started) / 1000;
    return {
      perSecond: latencies.length / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      invocations: latencies.length,
    };
  };
  // Warm both sides (JIT, connection pools, DynamoDB Local's own JIT) before anything is kept.
  for (const side of SIDES) await run(side, 4);
  const output: ThroughputOutput = {};
  for (const concurrency of input.concurrency) {
    const samples: Record<Side, ThroughputSample[]> = { idemkit: [], powertools: [] };
    for (let round = 0; round < input.rounds; round++) {
      for (const side of orderFor(round, SIDES)) samples[side].push(await run(side, concurrency));
    }
    output[String(concurrency)] = samples;
  }
  for (const client of clients) client.destroy();
  return output;
});
