import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { FakeDynamoDB } from './fake-dynamodb.js';
import {
  benchClient,
  createOrderHandler,
  httpHandler,
  type Invoke,
  lambdaContext,
  orderBody,
  orderEvent,
} from './sides.js';
import { runWorker } from './worker.js';

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

/** What one worker process measures: one variant, one round, every body size and path. */
export interface VariantInput {
  readonly variant: Variant;
  readonly invocations: Record<string, number>;
  readonly bodiesKb: readonly number[];
}

/** µs per invocation by `${kb}:${path}`. */
export type VariantOutput = Record<string, number>;

/**
 * Runs the overhead rounds: each variant in a process of its own, as each side runs alone in a Lambda, the order
 * rotated every round so that no variant always runs first or last. One process for all variants made the call
 * sites they share (Middy, the SDK client, and idemkit's engine with two telemetry shapes) polymorphic, which
 * charged every variant for the others (bench/analysis.md).
 */
export async function measureOverhead(input: OverheadInput): Promise<OverheadOutput> {
  const output: OverheadOutput = {};
  for (let round = 0; round < input.rounds; round++) {
    const order = VARIANTS.map((_, index) => VARIANTS[(index + round) % VARIANTS.length] as Variant);
    for (const variant of order) {
      const measured = await runWorker<VariantOutput>(
        'overhead',
        { variant, invocations: input.invocations, bodiesKb: input.bodiesKb } satisfies VariantInput,
        ['--expose-gc'],
      );
      for (const [row, value] of Object.entries(measured)) {
        output[row] ??= Object.fromEntries(VARIANTS.map((name) => [name, [] as number[]])) as Record<
          Variant,
          number[]
        >;
        output[row][variant].push(value);
      }
    }
  }
  return output;
}

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

/** One worker's part: one variant on a fresh fake and handler per body size and path, warmed up, then timed. */
export async function measureVariant(input: VariantInput): Promise<VariantOutput> {
  const output: VariantOutput = {};
  for (const kb of input.bodiesKb) {
    const template = orderEvent('template', orderBody(kb * 1024, kb)) as Event;
    const count = input.invocations[String(kb)] ?? 500;
    for (const path of PATHS) {
      const invoke = build(input.variant);
      const context = lambdaContext(900_000);
      // Warm up the JIT on this handler with its own keys, as many as are timed: a process of its own starts cold,
      // and a compiler thread still at work in the timed loop would be charged to it (CPU time counts every thread).
      const warm = events(template, Math.max(200, count));
      for (const event of warm) await invoke(event, context);
      const batch = events(template, count);
      if (path === 'replay') for (const event of batch) await invoke(event, context);
      output[`${kb}:${path}`] = await timeLoop(invoke, batch, context);
    }
  }
  return output;
}
