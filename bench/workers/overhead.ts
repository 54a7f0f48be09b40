import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { FakeDynamoDB } from '../lib/fake-dynamodb.js';
import {
  benchClient,
  createOrderHandler,
  httpHandler,
  type Invoke,
  lambdaContext,
  orderBody,
  orderEvent,
} from '../lib/sides.js';
import { workerMain } from '../lib/worker.js';

export const VARIANTS = ['bare', 'idemkit', 'idemkit-silent', 'powertools'] as const;
export type Variant = (typeof VARIANTS)[number];
export const PATHS = ['first', 'replay'] as const;
export type OverheadPath = (typeof PATHS)[number];

export interface OverheadInput {
  readonly rounds: number;
  /** Invocations timed per round, by body size in KB. */
  readonly invocations: Record<string, number>;
  readonly bodiesKb: readonly number[];
}

/** µs per invocation, one value per round, by `${kb}:${path}` then variant. */
export type OverheadOutput = Record<string, Record<Variant, number[]>>;

type Event = Record<string, unknown>;

/** Events with fresh keys from one template: building them stays outside the timed loop. */
function events(template: Event, count: number): Event[] {
  const headers = template.headers as Record<string, string>;
  return Array.from({ length: count }, () => ({
    ...template,
    headers: { ...headers, 'idempotency-key': randomUUID() },
  }));
}

function build(variant: Variant): Invoke {
  const fake = new FakeDynamoDB();
  const client = benchClient('http://127.0.0.1:9');
  fake.install(client);
  if (variant === 'bare') return middy(createOrderHandler()) as unknown as Invoke;
  const side = variant === 'powertools' ? 'powertools' : 'idemkit';
  return httpHandler(side, {
    client,
    tableName: side === 'idemkit' ? 'bench-idemkit' : 'bench-powertools',
    silent: variant === 'idemkit-silent',
  });
}

// CPU time (user + system, every thread of the process), not wall time: on a shared machine the process is
// descheduled for whole milliseconds at a time, which wall time would charge to whichever side was running.
async function timeLoop(invoke: Invoke, batch: readonly Event[], context: Context): Promise<number> {
  globalThis.gc?.();
  const started = process.cpuUsage();
  for (const event of batch) await invoke(event, context);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / batch.length;
}

workerMain<OverheadInput, OverheadOutput>(async (input) => {
  const output: OverheadOutput = {};
  for (const kb of input.bodiesKb) {
    const template = orderEvent('template', orderBody(kb * 1024, kb)) as Event;
    const count = input.invocations[String(kb)] ?? 500;
    for (const path of PATHS) {
      const perVariant = Object.fromEntries(VARIANTS.map((variant) => [variant, [] as number[]])) as Record<
        Variant,
        number[]
      >;
      for (let round = 0; round < input.rounds; round++) {
        // Rotate the order each round so no variant always runs first or last.
        const order = VARIANTS.map((_, index) => VARIANTS[(index + round) % VARIANTS.length] as Variant);
        for (const variant of order) {
          const invoke = build(variant);
          const context = lambdaContext(900_000);
          // Warm up the JIT on this handler with its own keys.
          const warm = events(template, Math.min(200, count));
          for (const event of warm) await invoke(event, context);
          const batch = events(template, count);
          if (path === 'replay') for (const event of batch) await invoke(event, context);
          perVariant[variant].push(await timeLoop(invoke, batch, context));
        }
      }
      output[`${kb}:${path}`] = perVariant;
    }
  }
  return output;
});
