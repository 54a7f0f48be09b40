/**
 * Scenario 4: store restart. A DynamoDB Local that keeps its data on disk (`-dbPath` in a temp folder) is
 * stopped while some operations are in flight and restarted on the same port and folder. Completed keys
 * are never executed again; in-flight ones recover once their lease has ended, exactly once.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTelemetry } from '../../src/core/telemetry.js';
import { httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { header, httpEvent, lambdaContext } from '../http/harness.js';
import { gate } from '../sqs/support.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import {
  type DynamoDBLocal,
  freePort,
  LOCAL_CLIENT_CONFIG,
  startDynamoDBLocal,
} from '../support/dynamodb-local.js';
import { captureLogs, type LogCapture } from '../support/log-capture.js';
import {
  createEffectsTable,
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

const COMPLETED = load(100, 1_000);
const IN_FLIGHT = 10;
const LOCK_TTL_SECONDS = 2;

const { client: effectsClient } = localClient();
const secrets = new SecretLedger();
const dbPath = mkdtempSync(join(tmpdir(), 'idemkit-ddb-disk-'));
let server: DynamoDBLocal | undefined;
let logs: LogCapture;

beforeAll(() => {
  logs = captureLogs();
});
afterAll(async () => {
  logs.stop();
  await server?.stop();
  effectsClient.destroy();
  rmSync(dbPath, { recursive: true, force: true });
});

describe('DynamoDB Local on disk, stopped and restarted mid-run', () => {
  it('never runs a completed key again and runs each in-flight key once after its lease', async () => {
    const port = await freePort();
    server = await startDynamoDBLocal({ dbPath, port });
    const client = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: server.endpoint, maxAttempts: 2 });
    const tableName = await createIdempotencyTable(client, 'rel-restart');
    const effectsTable = await createEffectsTable(effectsClient);
    const total = COMPLETED + IN_FLIGHT;
    const keys = Array.from({ length: total }, () => secrets.next('restart-key'));
    const payloads = keys.map(() => secrets.next('restart-payload'));
    const held = gate();
    const holding = new Set<number>();
    const handler = middy(async (event: { body: string }) => {
      const { index, hold } = JSON.parse(event.body) as { index: number; hold?: boolean };
      if (hold === true) {
        holding.add(index);
        await held.wait;
        throw new Error('the operation failed while the store was down');
      }
      await recordEffect(effectsClient, effectsTable, `k${index}`);
      return {
        statusCode: 201,
        body: JSON.stringify({ run: randomUUID(), result: secrets.next('restart-result') }),
      };
    }).use(
      httpIdempotency<Record<string, unknown>>({
        store: new DynamoDBStore({ tableName, client }),
        scope: 'create-order',
        org: 'acme',
        environment: 'test',
        mode: 'enforce',
        lockTtlSeconds: LOCK_TTL_SECONDS,
        waitBudgetMs: 10_000,
        // While the store is down nothing may run unguarded: completed keys would run again.
        strictFailClosed: true,
        telemetry: createTelemetry(),
      }),
    );
    const invoke = async (index: number, hold = false) => {
      try {
        const response = (await handler(
          httpEvent('http', {
            key: keys[index],
            body: { index, payload: payloads[index], ...(hold ? { hold } : {}) },
          }) as never,
          lambdaContext(30_000),
        )) as { statusCode: number; headers?: Record<string, string> };
        return { status: response.statusCode, replayed: header(response, 'idempotent-replayed') === 'true' };
      } catch {
        return { status: 500, replayed: false };
      }
    };
    const completedKeys = Array.from({ length: COMPLETED }, (_, i) => i);
    const inFlightKeys = Array.from({ length: IN_FLIGHT }, (_, i) => COMPLETED + i);

    const first = await pool(
      10,
      completedKeys.map((index) => () => invoke(index)),
    );
    const inFlight = inFlightKeys.map((index) => invoke(index, true));
    while (holding.size < IN_FLIGHT) await sleep(10);

    await server.stop();
    const duringOutage = await pool(
      10,
      completedKeys.slice(0, 20).map((index) => () => invoke(index)),
    );
    held.open();
    const inFlightAnswers = await Promise.all(inFlight);
    server = await startDynamoDBLocal({ dbPath, port });

    const afterRestart = await pool(
      10,
      completedKeys.map((index) => () => invoke(index)),
    );
    // Three retries of each in-flight key at once: they wait for the dead lease, one runs, two replay.
    const recovered = await Promise.all(
      inFlightKeys.flatMap((index) => [invoke(index), invoke(index), invoke(index)]),
    );

    const effects = await readEffects(effectsClient, effectsTable);
    const counted = tally(
      effects,
      keys.map((_, index) => `k${index}`),
    );
    const records = await readRecords(client, tableName);
    report('4-restart', {
      completedBefore: COMPLETED,
      inFlight: IN_FLIGHT,
      duringOutage: statusCounts(duringOutage),
      inFlightAnswers: statusCounts(inFlightAnswers),
      afterRestart: statusCounts(afterRestart),
      recovered: statusCounts(recovered),
      ...counted,
      signals: signalCounts(logs.lines),
    });
    client.destroy();

    expect(first.every((answer) => answer.status === 201)).toBe(true);
    expect(duringOutage.every((answer) => answer.status === 503)).toBe(true);
    expect(afterRestart.every((answer) => answer.status === 201 && answer.replayed)).toBe(true);
    expect(recovered.every((answer) => answer.status === 201)).toBe(true);
    expect(counted).toEqual({ once: total, lost: 0, duplicated: 0 });
    expect(records).toHaveLength(total);
    expect(records.every((record) => record.status === 'COMPLETED')).toBe(true);
    expect(secrets.leaks(logs.lines)).toEqual([]);
  }, 180_000);
});
