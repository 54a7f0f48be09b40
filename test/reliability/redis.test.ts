/**
 * The reliability scenarios that apply to `RedisStore`, on a real `redis-server`: many processes on one server
 * (one client library each), a process killed or paused while it holds leases, connections cut mid-command by a
 * TCP proxy, and the server killed and restarted with and without persistence. Side effects are counted in a
 * DynamoDB Local table, apart from the store under test.
 */
import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { createTelemetry, silentTelemetry } from '../../src/core/telemetry.js';
import type { IdempotencyRecord } from '../../src/core/types.js';
import { httpIdempotency } from '../../src/http/index.js';
import { RedisStore } from '../../src/stores/redis.js';
import { header, httpEvent, lambdaContext } from '../http/harness.js';
import { localClient } from '../support/dynamodb.js';
import { captureLogs, type LogCapture } from '../support/log-capture.js';
import {
  CLIENT_LIBRARIES,
  type ClientLibrary,
  type ConnectedClient,
  connectClient,
  type RedisServer,
  startCuttingProxy,
  startRedisServer,
} from '../support/redis.js';
import type { HttpAnswer, HttpWorkerInput } from './fixtures/http-worker.js';
import { httpLoad } from './http-load.js';
import {
  createEffectsTable,
  load,
  pool,
  readEffects,
  recordEffect,
  report,
  resultOf,
  SecretLedger,
  seeded,
  signalCounts,
  sleep,
  startWorker,
  statusCounts,
  stopAll,
  tally,
} from './support.js';

const { client: effectsClient } = localClient();
const endpoint = inject('dynamoEndpoint');
const secrets = new SecretLedger();
const servers: RedisServer[] = [];
const clients: ConnectedClient[] = [];

afterAll(async () => {
  await stopAll();
  for (const client of clients) await client.close();
  for (const server of servers) await server.stop();
  effectsClient.destroy();
});

async function server(options: Parameters<typeof startRedisServer>[0] = {}): Promise<RedisServer> {
  const started = await startRedisServer(options);
  servers.push(started);
  return started;
}

async function connected(library: ClientLibrary, target: { port: number }): Promise<ConnectedClient> {
  const client = await connectClient(library, target);
  clients.push(client);
  return client;
}

const pkOf = (key: string) => recordKey('acme', 'create-order', key);

/** Every record of `keys`, read through a store on `client`. */
async function recordsOf(client: ConnectedClient, keys: readonly string[]) {
  const store = new RedisStore({ client: client.adapter });
  return Promise.all(keys.map((key) => store.get(pkOf(key))));
}

/** Sleeps until every record of `keys` has a lease that ended (read from the server, not guessed). */
async function untilLeasesEnd(client: ConnectedClient, keys: readonly string[]): Promise<void> {
  for (const record of await recordsOf(client, keys)) {
    const wait = (record?.leaseUntil ?? 0) - Date.now();
    if (wait > 0) await sleep(wait + 50);
  }
}

/** An HTTP Lambda in this process on `store`: the invocations that survive, retry or run under faults. */
function lambda(
  store: RedisStore,
  effectsTable: string,
  options: { waitBudgetMs: number; lockTtlSeconds: number; strictFailClosed?: boolean; logged?: boolean },
) {
  const handler = middy(async (event: { body: string }) => {
    const { index } = JSON.parse(event.body) as { index: number };
    await recordEffect(effectsClient, effectsTable, `k${index}`);
    return { statusCode: 201, body: JSON.stringify({ run: randomUUID(), result: secrets.next('result') }) };
  }).use(
    httpIdempotency<Record<string, unknown>>({
      store,
      scope: 'create-order',
      org: 'acme',
      environment: 'test',
      mode: 'enforce',
      lockTtlSeconds: options.lockTtlSeconds,
      waitBudgetMs: options.waitBudgetMs,
      strictFailClosed: options.strictFailClosed ?? false,
      telemetry: options.logged === true ? createTelemetry() : silentTelemetry,
    }),
  );
  // Every send of one key carries the same body (one fingerprint), as a client's retries do.
  return async (key: string, index: number, payload: string) => {
    try {
      const response = (await handler(
        httpEvent('http', { key, body: { index, payload } }) as never,
        lambdaContext(30_000),
      )) as { statusCode: number; body: string; headers?: Record<string, string> };
      let run: string | undefined;
      try {
        run = (JSON.parse(response.body) as { run?: string }).run;
      } catch {
        run = undefined;
      }
      return { index, status: response.statusCode, run, retryAfter: header(response, 'retry-after') };
    } catch {
      return { index, status: 500, run: undefined, retryAfter: undefined };
    }
  };
}

function holdInput(port: number, library: ClientLibrary, effectsTable: string, count: number) {
  return {
    mode: 'hold',
    endpoint,
    effectsTable,
    redisPort: port,
    library,
    lockTtlSeconds: 1,
    waitBudgetMs: 0,
    keys: Array.from({ length: count }, () => secrets.next('redis-key')),
    payloads: Array.from({ length: count }, () => secrets.next('redis-payload')),
    results: Array.from({ length: count }, () => secrets.next('redis-result')),
  } satisfies HttpWorkerInput;
}

const KEYS = 50;
const INVOCATIONS = load(100, 200);

describe('RedisStore: four processes on one redis-server, one client library each', () => {
  it(`run each of ${KEYS} HTTP keys exactly once under ${CLIENT_LIBRARIES.length} x ${INVOCATIONS} concurrent requests`, async () => {
    const redis = await server();
    const run = await httpLoad({
      endpoint,
      client: effectsClient,
      secrets,
      stores: CLIENT_LIBRARIES.map((library) => ({ redisPort: redis.port, library })),
      keyCount: KEYS,
      invocations: INVOCATIONS,
    });
    const { answers, counted, statuses, signals } = run;
    report('redis-1-http', {
      processes: CLIENT_LIBRARIES.length,
      invocations: answers.length,
      keys: KEYS,
      ...counted,
      statuses,
      signals,
    });

    expect(answers).toHaveLength(CLIENT_LIBRARIES.length * INVOCATIONS);
    expect(counted).toEqual({ once: KEYS, lost: 0, duplicated: 0 });
    expect(Object.keys(statuses).every((status) => status === '201' || status === '409')).toBe(true);
    expect(run.oneRunPerKey).toBe(true);
    expect(signals.first_execution).toBe(KEYS);
    expect(signals.lease_lost ?? 0).toBe(0);
    const reader = await connected('node-redis', redis);
    expect((await recordsOf(reader, run.keys)).map((record) => record?.status)).toEqual(
      run.keys.map(() => 'COMPLETED'),
    );
    expect(secrets.leaks(run.lines)).toEqual([]);
  }, 180_000);
});

describe('RedisStore: a process killed or paused while it holds leases', () => {
  it('has each operation of a killed process re-run exactly once by the survivors after its leases end', async () => {
    const redis = await server();
    const effectsTable = await createEffectsTable(effectsClient);
    const input = holdInput(redis.port, 'ioredis', effectsTable, 10);
    const worker = startWorker('http-worker.ts', input);
    await Promise.all(input.keys.map((_, index) => worker.line(`CLAIMED ${index}`)));
    await worker.kill();

    const reader = await connected('node-redis', redis);
    const invoke = lambda(new RedisStore({ client: reader.adapter }), effectsTable, {
      waitBudgetMs: 10_000,
      lockTtlSeconds: 1,
    });
    const answers = await Promise.all(
      input.keys.flatMap((key, index) =>
        Array.from({ length: 5 }, () => invoke(key, index, input.payloads[index] as string)),
      ),
    );
    const counted = tally(
      await readEffects(effectsClient, effectsTable),
      input.keys.map((_, index) => `k${index}`),
    );
    const records = await recordsOf(reader, input.keys);
    report('redis-2-sigkill-http', { killedWithLeases: 10, retries: answers.length, ...counted });
    expect(counted).toEqual({ once: 10, lost: 0, duplicated: 0 });
    expect(answers.every((answer) => answer.status === 201)).toBe(true);
    for (const [index] of input.keys.entries()) {
      expect(new Set(answers.filter((a) => a.index === index).map((a) => a.run)).size).toBe(1);
    }
    expect(records.map((record) => [record?.status, record?.attempt])).toEqual(
      input.keys.map(() => ['COMPLETED', 2]),
    );
    expect(secrets.leaks(worker.lines)).toEqual([]);
  }, 60_000);

  it('has the complete and release of a paused process rejected by the token, counted as lease_lost, with no overwrite', async () => {
    const redis = await server();
    const effectsTable = await createEffectsTable(effectsClient);
    const input = holdInput(redis.port, 'iovalkey', effectsTable, 2);
    const worker = startWorker('http-worker.ts', input);
    await Promise.all([worker.line('CLAIMED 0'), worker.line('CLAIMED 1')]);
    worker.child.kill('SIGSTOP');

    const reader = await connected('valkey-glide', redis);
    await untilLeasesEnd(reader, input.keys);
    const invoke = lambda(new RedisStore({ client: reader.adapter }), effectsTable, {
      waitBudgetMs: 0,
      lockTtlSeconds: 1,
    });
    const takeovers = await Promise.all(
      input.keys.map((key, index) => invoke(key, index, input.payloads[index] as string)),
    );
    const afterTakeover = await recordsOf(reader, input.keys);

    worker.child.kill('SIGCONT');
    worker.send('go 0 respond');
    worker.send('go 1 throw');
    const zombie = await resultOf<HttpAnswer[]>(worker);
    await worker.exited;
    const signals = signalCounts(worker.lines);
    const replays = await Promise.all(
      input.keys.map((key, index) => invoke(key, index, input.payloads[index] as string)),
    );
    report('redis-2-sigstop-http', { paused: 2, signals });
    expect(takeovers.map((answer) => answer.status)).toEqual([201, 201]);
    expect(zombie.map((answer) => answer.status)).toEqual([201, 500]);
    expect(signals.lease_lost).toBe(2);
    expect(signals.released ?? 0).toBe(0);
    expect(await recordsOf(reader, input.keys)).toEqual(afterTakeover);
    expect(replays.map((answer) => answer.run)).toEqual(takeovers.map((answer) => answer.run));
    expect(tally(await readEffects(effectsClient, effectsTable), ['k0', 'k1'])).toEqual({
      once: 2,
      lost: 0,
      duplicated: 0,
    });
    expect(secrets.leaks(worker.lines)).toEqual([]);
  }, 60_000);
});

const FAULT_INVOCATIONS = load(500, 5_000);
const SENDS_PER_KEY = 5;
// Of the chunks with a script in them (clients pipeline: one chunk may carry many commands, and a cut fails them all).
const CUT_RATE = 0.1;

describe(`RedisStore: ${CUT_RATE * 100}% of the client's chunks cut mid-command, strict fail-closed`, () => {
  let logs: LogCapture;
  beforeAll(() => {
    logs = captureLogs();
  });
  afterAll(() => logs.stop());

  CLIENT_LIBRARIES.forEach((library, n) => {
    it(`through ${library}: answers 201, 409 or 503 only, and runs every key once (0 lost, 0 duplicated)`, async () => {
      const redis = await server();
      const proxy = await startCuttingProxy(redis.port, CUT_RATE, seeded(9_100 + n));
      // Connected before the cuts start: the scenario is a connection cut mid-command, not a failed start.
      proxy.enabled = false;
      const faulty = await connected(library, proxy);
      proxy.enabled = true;
      const direct = await connected('node-redis', redis);
      const effectsTable = await createEffectsTable(effectsClient);
      const keyCount = FAULT_INVOCATIONS / SENDS_PER_KEY;
      const keys = Array.from({ length: keyCount }, () => secrets.next('cut-key'));
      const payloads = keys.map(() => secrets.next('cut-payload'));
      const firstLine = logs.lines.length;
      const invoke = lambda(new RedisStore({ client: faulty.adapter }), effectsTable, {
        waitBudgetMs: 300,
        lockTtlSeconds: 1,
        strictFailClosed: true,
        logged: true,
      });
      const order = Array.from({ length: FAULT_INVOCATIONS }, (_, i) => i % keyCount);
      const answers = await pool(
        25,
        order.map((index) => () => invoke(keys[index] as string, index, payloads[index] as string)),
      );
      proxy.enabled = false;
      const afterFaults = (await recordsOf(direct, keys)).filter(
        (record): record is IdempotencyRecord => record !== undefined,
      );
      const lastLease = Math.max(0, ...afterFaults.map((record) => record.leaseUntil ?? 0));
      if (lastLease > Date.now()) await sleep(lastLease - Date.now() + 50);
      const clean = await pool(
        25,
        keys.map((key, index) => () => invoke(key, index, payloads[index] as string)),
      );
      const records = await recordsOf(direct, keys);
      const counted = tally(
        await readEffects(effectsClient, effectsTable),
        keys.map((_, index) => `k${index}`),
      );
      const signals = signalCounts(logs.lines.slice(firstLine));
      const statuses = statusCounts(answers);
      report(`redis-3-cut-${library}`, {
        invocations: answers.length,
        keys: keyCount,
        proxy: proxy.stats,
        statuses,
        ...counted,
        storeErrors: signals.store_error ?? 0,
        storeErrorsByOperation: storeErrorOperations(logs.lines.slice(firstLine)),
      });
      await proxy.close();

      expect(proxy.stats.cutBeforeSend + proxy.stats.cutReplyLost).toBeGreaterThan(0);
      expect(Object.keys(statuses).every((status) => ['201', '409', '503'].includes(status))).toBe(true);
      expect(answers.filter((a) => a.status === 503).every((a) => Number(a.retryAfter) >= 1)).toBe(true);
      expect(clean.every((answer) => answer.status === 201)).toBe(true);
      expect(records.map((record) => record?.status)).toEqual(keys.map(() => 'COMPLETED'));
      expect(counted).toEqual({ once: keyCount, lost: 0, duplicated: 0 });
      expect(secrets.leaks(logs.lines)).toEqual([]);
    }, 300_000);
  });
});

/** Store errors by the operation that met them (claim, complete, release, get...), from the JSON log lines. */
function storeErrorOperations(lines: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    if (!line.includes('"store_error"')) continue;
    try {
      const parsed = JSON.parse(line) as { idempotency?: string; operation?: string };
      if (parsed.idempotency !== 'store_error') continue;
      const operation = parsed.operation ?? 'unknown';
      counts[operation] = (counts[operation] ?? 0) + 1;
    } catch {
      // not one of ours
    }
  }
  return counts;
}

const COMPLETED = load(100, 1_000);
const IN_FLIGHT = 10;

/** Completes `COMPLETED` keys, kills a process holding `IN_FLIGHT` more and the server together, restarts it. */
async function restartScenario(appendOnly: boolean) {
  const first = await server({ appendOnly });
  const doneEffects = await createEffectsTable(effectsClient);
  const inFlightEffects = await createEffectsTable(effectsClient);
  const client = await connected('node-redis', first);
  const store = new RedisStore({ client: client.adapter });
  const options = { waitBudgetMs: 10_000, lockTtlSeconds: 2 };
  const invokeDone = lambda(store, doneEffects, options);
  const invokeInFlight = lambda(store, inFlightEffects, options);
  const done = Array.from({ length: COMPLETED }, () => secrets.next('restart-key'));
  const donePayloads = done.map(() => secrets.next('restart-payload'));
  const firstPass = await pool(
    25,
    done.map((key, index) => () => invokeDone(key, index, donePayloads[index] as string)),
  );
  const hold = { ...holdInput(first.port, 'ioredis', inFlightEffects, IN_FLIGHT), lockTtlSeconds: 2 };
  const holder = startWorker('http-worker.ts', hold);
  await Promise.all(hold.keys.map((_, index) => holder.line(`CLAIMED ${index}`)));
  await Promise.all([first.kill(), holder.kill()]);

  const restarted = await server({ port: first.port, dir: first.dir, appendOnly });
  // Wait for the client itself to be back (it reconnects on its own), not for a guessed time.
  for (let attempt = 0; ; attempt += 1) {
    try {
      await client.command(['PING']);
      break;
    } catch (error) {
      if (attempt > 400) throw error;
      await sleep(25);
    }
  }
  const survivedRecords = (await recordsOf(client, [...done, ...hold.keys])).filter(Boolean).length;
  const retries = await pool(25, [
    ...done.map((key, index) => () => invokeDone(key, index, donePayloads[index] as string)),
    ...hold.keys.map((key, index) => () => invokeInFlight(key, index, hold.payloads[index] as string)),
  ]);
  const counted = tally(
    await readEffects(effectsClient, doneEffects),
    done.map((_, index) => `k${index}`),
  );
  const inFlight = tally(
    await readEffects(effectsClient, inFlightEffects),
    hold.keys.map((_, index) => `k${index}`),
  );
  return { firstPass, retries, counted, inFlight, survivedRecords, restarted };
}

describe('RedisStore: redis-server killed (SIGKILL) with operations in flight and restarted on the same data', () => {
  it('with appendfsync always: never runs a completed key again and runs each in-flight key once after its lease', async () => {
    const run = await restartScenario(true);
    report('redis-4-restart-aof-always', {
      completed: COMPLETED,
      inFlight: IN_FLIGHT,
      survivedRecords: run.survivedRecords,
      completedKeys: run.counted,
      inFlightKeys: run.inFlight,
      statuses: statusCounts(run.retries),
    });
    expect(run.firstPass.every((answer) => answer.status === 201)).toBe(true);
    expect(run.survivedRecords).toBe(COMPLETED + IN_FLIGHT);
    expect(run.counted).toEqual({ once: COMPLETED, lost: 0, duplicated: 0 });
    // The dead holder never ran its side effects (hold mode); each runs once, after the persisted lease ends.
    expect(run.inFlight).toEqual({ once: IN_FLIGHT, lost: 0, duplicated: 0 });
    expect(run.retries.every((answer) => answer.status === 201)).toBe(true);
  }, 120_000);

  it('without persistence: forgets every record, so each completed key runs again (the documented loss)', async () => {
    const run = await restartScenario(false);
    report('redis-4-restart-no-persistence', {
      completed: COMPLETED,
      inFlight: IN_FLIGHT,
      survivedRecords: run.survivedRecords,
      completedKeys: run.counted,
      inFlightKeys: run.inFlight,
    });
    expect(run.survivedRecords).toBe(0);
    // This is the README's warning measured: a store that forgets its writes cannot keep "once".
    expect(run.counted).toEqual({ once: 0, lost: 0, duplicated: COMPLETED });
    expect(run.inFlight).toEqual({ once: IN_FLIGHT, lost: 0, duplicated: 0 });
  }, 120_000);
});
