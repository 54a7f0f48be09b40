/**
 * The Redis row of `npm run bench`: idemkit's `RedisStore` against Powertools' `CachePersistenceLayer`, both through
 * one node-redis client each, on the same real `redis-server` (127.0.0.1, a free port, no persistence), through the
 * same Middy HTTP handler. Round trips are the commands each side's client sent (counted on the client object, so a
 * script counts once); in-process overhead is CPU time per invocation over the bare handler's.
 */
import { randomUUID } from 'node:crypto';
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
import middy from '@middy/core';
import { createClient } from '@redis/client';
import type { Context } from 'aws-lambda';
import { silentTelemetry } from '../../src/core/telemetry.js';
import { httpIdempotency } from '../../src/http/index.js';
import { nodeRedisClient, RedisStore } from '../../src/stores/redis.js';
import { startRedisServer } from '../../test/support/redis.js';
import {
  createOrderHandler,
  type Invoke,
  lambdaContext,
  orderBody,
  orderEvent,
  SIDES,
  type Side,
} from './sides.js';
import { median, orderFor } from './stats.js';

/** What the Redis row measures. */
export interface RedisBenchInput {
  /** Sequential invocations per path and round. */
  readonly invocations: number;
  readonly rounds: number;
  readonly bodyKb: number;
}

/** One side's figures. */
export interface RedisSideResult {
  /** Commands the side's client sent for one invocation of each path (one command, one round trip). */
  readonly roundTrips: { readonly first: number; readonly replay: number; readonly duplicate: number };
  /** What a duplicate that arrives while the first runs got. */
  readonly duplicateAnswer: string;
  /** Median wall time of one invocation, ms (medians over rounds of per-round medians). */
  readonly latencyMs: { readonly first: number; readonly replay: number };
  /** CPU time of one invocation above the bare handler's, µs (median over rounds). */
  readonly overheadCpuUs: { readonly first: number; readonly replay: number };
}

export interface RedisBenchOutput {
  readonly redisServer: string;
  readonly client: string;
  readonly sides: Record<Side, RedisSideResult>;
}

const POWERTOOLS_HTTP_KEY = '[requestContext.authorizer.jwt.claims.org_id, headers."idempotency-key"]';

/** The connected client both sides share the shape of (node-redis' own generics are left to it). */
type RedisClient = Parameters<typeof nodeRedisClient>[0];

/** The side's idempotency (default options, no local cache) around `inner`, on `client`. */
function wrap(
  side: Side,
  client: RedisClient,
  inner: (event: { body?: string | null }) => Promise<unknown>,
): Invoke {
  if (side === 'idemkit') {
    return middy(inner).use(
      httpIdempotency<{ requestContext: { authorizer: { jwt: { claims: { org_id: string } } } } }>({
        store: new RedisStore({ client: nodeRedisClient(client) }),
        scope: 'create-order',
        org: (event) => event.requestContext.authorizer.jwt.claims.org_id,
        waitBudgetMs: 0,
        expiresAfterSeconds: 86_400,
        telemetry: silentTelemetry,
      }),
    ) as unknown as Invoke;
  }
  // Powertools' documented use: the connected node-redis client itself (`get`, `set` with EX/NX, `del`).
  const persistenceStore = new CachePersistenceLayer({ client: client as never });
  // Without payload validation: CachePersistenceLayer 2.35 writes the completed record without the payload hash,
  // so with validation on every replay throws IdempotencyValidationError (measured here; worth an upstream issue).
  // idemkit still checks its fingerprint on every replay, so this favours Powertools slightly.
  const config = new IdempotencyConfig({
    eventKeyJmesPath: POWERTOOLS_HTTP_KEY,
    expiresAfterSeconds: 86_400,
  });
  return middy(inner).use(makeHandlerIdempotent({ persistenceStore, config })) as unknown as Invoke;
}

/** Runs the Redis row; starts and stops its own `redis-server`. */
export async function measureRedis(input: RedisBenchInput): Promise<RedisBenchOutput> {
  const server = await startRedisServer();
  const connect = () =>
    createClient({ socket: { host: '127.0.0.1', port: server.port } })
      .on('error', () => undefined)
      .connect();
  const meter = await connect();
  const sent = { idemkit: 0, powertools: 0 };
  const clients = {
    idemkit: counted(await connect(), () => sent.idemkit++),
    powertools: counted(await connect(), () => sent.powertools++),
  };
  try {
    const info = String(await meter.sendCommand(['INFO', 'server']));
    // Commands a side's client sent while `run` ran: each is one round trip (scripts count once, whatever they call).
    const commandsDuring = async (side: Side, run: () => Promise<unknown>) => {
      const before = sent[side];
      await run();
      return sent[side] - before;
    };
    const body = orderBody(input.bodyKb * 1024);
    const context: Context = lambdaContext(30_000) as Context;
    const bare = createOrderHandler();
    const sides = {} as Record<Side, RedisSideResult>;
    const latency: Record<Side, { first: number[]; replay: number[] }> = {
      idemkit: { first: [], replay: [] },
      powertools: { first: [], replay: [] },
    };
    const cpu: Record<Side, { first: number[]; replay: number[] }> = {
      idemkit: { first: [], replay: [] },
      powertools: { first: [], replay: [] },
    };
    const handlers = {
      idemkit: wrap('idemkit', clients.idemkit, createOrderHandler()),
      powertools: wrap('powertools', clients.powertools, createOrderHandler()),
    };
    const cpuUs = async (run: () => Promise<unknown>, count: number) => {
      const start = process.cpuUsage();
      for (let i = 0; i < count; i += 1) await run();
      const used = process.cpuUsage(start);
      return (used.user + used.system) / count;
    };
    for (let round = 0; round < input.rounds; round += 1) {
      const bareCpu = await cpuUs(() => bare({ body }), input.invocations);
      for (const side of orderFor(round, SIDES)) {
        const handler = handlers[side];
        const keys = Array.from({ length: input.invocations }, () => randomUUID());
        const firstTimes: number[] = [];
        let i = 0;
        const firstCpu = await cpuUs(async () => {
          const started = performance.now();
          await handler(orderEvent(keys[i++] as string, body), context);
          firstTimes.push(performance.now() - started);
        }, input.invocations);
        const replayTimes: number[] = [];
        i = 0;
        const replayCpu = await cpuUs(async () => {
          const started = performance.now();
          await handler(orderEvent(keys[i++] as string, body), context);
          replayTimes.push(performance.now() - started);
        }, input.invocations);
        latency[side].first.push(median(firstTimes));
        latency[side].replay.push(median(replayTimes));
        cpu[side].first.push(firstCpu - bareCpu);
        cpu[side].replay.push(replayCpu - bareCpu);
      }
    }
    for (const side of SIDES) {
      const handler = handlers[side];
      const key = randomUUID();
      const first = await commandsDuring(side, () => handler(orderEvent(key, body), context));
      const replay = await commandsDuring(side, () => handler(orderEvent(key, body), context));
      // A duplicate sent while the first still runs: the first's handler holds until the duplicate answered.
      let release: () => void = () => undefined;
      let running: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const started = new Promise<void>((resolve) => {
        running = resolve;
      });
      const wrapped = wrap(side, clients[side], async (event) => {
        running();
        await held;
        return createOrderHandler()(event);
      });
      const duplicateKey = randomUUID();
      const firstRun = wrapped(orderEvent(duplicateKey, body), context);
      await started;
      let duplicateAnswer = '';
      const duplicate = await commandsDuring(side, async () => {
        duplicateAnswer = await wrapped(orderEvent(duplicateKey, body), context).then(
          (answer) => `HTTP ${(answer as { statusCode: number }).statusCode}`,
          (error: unknown) => (error as Error).name,
        );
      });
      release();
      await firstRun;
      sides[side] = {
        roundTrips: { first, replay, duplicate },
        duplicateAnswer,
        latencyMs: { first: median(latency[side].first), replay: median(latency[side].replay) },
        overheadCpuUs: { first: median(cpu[side].first), replay: median(cpu[side].replay) },
      };
    }
    return {
      redisServer: /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown',
      client: '@redis/client',
      sides,
    };
  } finally {
    for (const client of [meter, clients.idemkit, clients.powertools]) client.destroy();
    await server.stop();
  }
}

const COMMANDS = new Set(['get', 'set', 'del', 'eval', 'evalSha', 'sendCommand']);

/** The client, with every command method counted as it is called (one call, one command, one round trip). */
function counted<T extends object>(client: T, count: () => void): T {
  return new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof property === 'string' && COMMANDS.has(property)) {
        return (...args: unknown[]) => {
          count();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
