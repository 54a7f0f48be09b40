/**
 * Scenario 3: store faults. Throttling, 500s, timeouts (after the server applied the write) and connection
 * resets are injected into 5% of the idempotency store's DynamoDB calls, by an SDK middleware on a client
 * that does not retry (so every fault reaches idemkit). Fail-open: no request fails because of the store.
 * Strict fail-closed: the store's failures are 503 problem+json with `Retry-After`, never a 500. Once the
 * faults stop and the leases have ended, one more pass over every key leaves no record `IN_PROGRESS`.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTelemetry } from '../../src/core/telemetry.js';
import { httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { header, httpEvent, lambdaContext } from '../http/harness.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { LOCAL_CLIENT_CONFIG } from '../support/dynamodb-local.js';
import { captureLogs, type LogCapture } from '../support/log-capture.js';
import {
  createEffectsTable,
  injectFaults,
  load,
  pool,
  readEffects,
  readRecords,
  recordEffect,
  report,
  SecretLedger,
  signalCounts,
  sleep,
  statusCounts,
  tally,
} from './support.js';

const INVOCATIONS = load(2_000, 5_000);
const SENDS_PER_KEY = 5;
const FAULT_RATE = 0.05;
const LOCK_TTL_SECONDS = 1;

const { client } = localClient();
const secrets = new SecretLedger();
let logs: LogCapture;

beforeAll(() => {
  logs = captureLogs();
});
afterAll(() => {
  logs.stop();
  client.destroy();
});

interface Answer {
  readonly key: number;
  readonly status: number;
  readonly retryAfter?: string;
  readonly contentType?: string;
}

/** Runs `INVOCATIONS` requests (each key sent `SENDS_PER_KEY` times, 25 at once) under faults, then a clean pass. */
async function runUnderFaults(strictFailClosed: boolean, seed: number) {
  const faulty = new DynamoDBClient({
    ...LOCAL_CLIENT_CONFIG,
    endpoint: inject('dynamoEndpoint'),
    maxAttempts: 1,
  });
  const faults = injectFaults(faulty, FAULT_RATE, seed);
  const tableName = await createIdempotencyTable(client, 'rel-faults');
  const effectsTable = await createEffectsTable(client);
  const keyCount = INVOCATIONS / SENDS_PER_KEY;
  const keys = Array.from({ length: keyCount }, () => secrets.next('fault-key'));
  const payloads = keys.map(() => secrets.next('fault-payload'));
  const handler = middy(async (event: { body: string }) => {
    const { index } = JSON.parse(event.body) as { index: number };
    // The side effect goes through a client without faults: only the idempotency store misbehaves.
    await recordEffect(client, effectsTable, `k${index}`);
    return {
      statusCode: 201,
      body: JSON.stringify({ run: randomUUID(), result: secrets.next('fault-result') }),
    };
  }).use(
    httpIdempotency<Record<string, unknown>>({
      store: new DynamoDBStore({ tableName, client: faulty }),
      scope: 'create-order',
      org: 'acme',
      environment: 'test',
      mode: 'enforce',
      lockTtlSeconds: LOCK_TTL_SECONDS,
      waitBudgetMs: 300,
      strictFailClosed,
      telemetry: createTelemetry(),
    }),
  );
  const invoke = async (index: number): Promise<Answer> => {
    try {
      const response = (await handler(
        httpEvent('http', { key: keys[index], body: { index, payload: payloads[index] } }) as never,
        lambdaContext(30_000),
      )) as { statusCode: number; headers?: Record<string, string> };
      return {
        key: index,
        status: response.statusCode,
        retryAfter: header(response, 'retry-after'),
        contentType: header(response, 'content-type'),
      };
    } catch {
      return { key: index, status: 500 };
    }
  };
  // Sends of one key are spread over the run, so retries meet completed, running and failed records.
  const order = Array.from({ length: INVOCATIONS }, (_, i) => i % keyCount);
  const firstLogLine = logs.lines.length;
  const answers = await pool(
    25,
    order.map((index) => () => invoke(index)),
  );
  faults.enabled = false;

  const afterFaults = await readRecords(client, tableName);
  const lastLease = Math.max(0, ...afterFaults.map((record) => record.leaseUntil ?? 0));
  if (lastLease > Date.now()) await sleep(lastLease - Date.now() + 50);
  const stuckAfterLeases = afterFaults.filter((record) => record.status === 'IN_PROGRESS').length;
  // The clean pass: every key once more, as clients keep retrying until they get an answer.
  const clean = await pool(
    25,
    keys.map((_, index) => () => invoke(index)),
  );
  const records = await readRecords(client, tableName);
  const effects = await readEffects(client, effectsTable);
  const counted = tally(
    effects,
    keys.map((_, index) => `k${index}`),
  );
  const signals = signalCounts(logs.lines.slice(firstLogLine));
  faulty.destroy();
  return { answers, clean, records, counted, faults, stuckAfterLeases, signals, keyCount };
}

/** Prints the figures of one run, the same for both modes, for docs/reliability.md. */
function reportRun(scenario: string, run: Awaited<ReturnType<typeof runUnderFaults>>) {
  report(scenario, {
    invocations: run.answers.length,
    keys: run.keyCount,
    calls: run.faults.calls,
    injected: run.faults.injected,
    injectedByCommand: run.faults.byCommand,
    statuses: statusCounts(run.answers),
    stuckAfterLeases: run.stuckAfterLeases,
    ...run.counted,
    storeErrors: run.signals.store_error ?? 0,
  });
}

describe(`5% store faults over ${INVOCATIONS} invocations`, () => {
  it('never fail a request when failing open, and leave no record IN_PROGRESS once the faults stop', async () => {
    const run = await runUnderFaults(false, 8_001);
    const statuses = statusCounts(run.answers);
    reportRun('3-fail-open', run);
    const injected = Object.values(run.faults.injected).reduce((sum, n) => sum + n, 0);
    expect(injected).toBeGreaterThan(run.faults.calls * 0.03);
    expect(Object.values(run.faults.injected).every((n) => n > 0)).toBe(true);
    // 409 means "retry later" (a live lease); nothing else but the handler's own 201.
    expect(Object.keys(statuses).sort()).toEqual(expect.arrayContaining(['201']));
    expect(Object.keys(statuses).every((status) => status === '201' || status === '409')).toBe(true);
    expect(run.signals.store_error).toBeGreaterThan(0);
    expect(run.clean.every((answer) => answer.status === 201)).toBe(true);
    expect(run.records.filter((record) => record.status !== 'COMPLETED')).toEqual([]);
    expect(run.counted.lost).toBe(0);
    expect(secrets.leaks(logs.lines)).toEqual([]);
  }, 300_000);

  it('answer 503 with Retry-After, never 500, when failing closed, and leave no record IN_PROGRESS once they stop', async () => {
    const run = await runUnderFaults(true, 8_002);
    const statuses = statusCounts(run.answers);
    const unavailable = run.answers.filter((answer) => answer.status === 503);
    reportRun('3-fail-closed', run);
    expect(unavailable.length).toBeGreaterThan(0);
    expect(Object.keys(statuses).every((status) => ['201', '409', '503'].includes(status))).toBe(true);
    expect(unavailable.every((answer) => Number(answer.retryAfter) >= 1)).toBe(true);
    expect(unavailable.every((answer) => answer.contentType === 'application/problem+json')).toBe(true);
    expect(run.clean.every((answer) => answer.status === 201)).toBe(true);
    expect(run.records.filter((record) => record.status !== 'COMPLETED')).toEqual([]);
    expect(run.counted.lost).toBe(0);
    // Failing closed never runs a side effect twice: a complete the store failed is retried until it lands.
    expect(run.counted.duplicated).toBe(0);
    expect(secrets.leaks(logs.lines)).toEqual([]);
  }, 300_000);
});
