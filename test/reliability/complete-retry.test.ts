import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import { describe, expect, it } from 'vitest';
import { buildEngine } from '../../src/core/door.js';
import { silentTelemetry } from '../../src/core/telemetry.js';
import { httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { httpEvent, lambdaContext } from '../http/harness.js';
import { Fault, faultyClient } from '../stores/faults.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { createEffectsTable, readEffects, readRecords, recordEffect, sleep } from './support.js';

describe('a transient store error on complete', () => {
  it('does not leave the record IN_PROGRESS, so a retry after the lease does not run the side effect again', async () => {
    const { client } = localClient();
    const { client: faulty, control } = faultyClient();
    const tableName = await createIdempotencyTable(client, 'rel-bug-complete');
    const effectsTable = await createEffectsTable(client);
    const handler = middy(async () => {
      await recordEffect(client, effectsTable, 'k0');
      return { statusCode: 201, body: JSON.stringify({ run: randomUUID() }) };
    }).use(
      httpIdempotency<Record<string, unknown>>({
        store: new DynamoDBStore({ tableName, client: faulty }),
        scope: 'create-order',
        org: 'acme',
        environment: 'test',
        lockTtlSeconds: 1,
        waitBudgetMs: 0,
        strictFailClosed: true,
        telemetry: silentTelemetry,
      }),
    );
    const event = () => httpEvent('http', { key: 'order-1', body: { amount: 1 } }) as never;
    // One throttled UpdateItem: the complete after the side effect.
    control.fail(Fault.Throttling, { commands: ['UpdateItemCommand'], times: 1 });
    const first = (await handler(event(), lambdaContext())) as { statusCode: number };
    const [record] = await readRecords(client, tableName);
    await sleep(Math.max(0, (record?.leaseUntil ?? 0) - Date.now()) + 50);
    const retry = (await handler(event(), lambdaContext())) as { statusCode: number };
    expect(first.statusCode).toBe(201);
    expect(retry.statusCode).toBe(201);
    expect(record?.status).toBe('COMPLETED');
    expect((await readEffects(client, effectsTable)).get('k0')).toBe(1);
  });
});

describe('a complete whose answer was lost although the write was applied', () => {
  it('reads the record once and counts it completed, not lease_lost', async () => {
    const { client } = localClient();
    const tableName = await createIdempotencyTable(client, 'rel-complete-applied');
    let dropAnswers = 1;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const output = await next(args);
        if (context.commandName === 'UpdateItemCommand' && dropAnswers-- > 0) {
          throw Object.assign(new Error('Connection timed out after the write'), { name: 'TimeoutError' });
        }
        return output;
      },
      { step: 'initialize', name: 'dropAnswerAfterWrite' },
    );
    const signals: string[] = [];
    const engine = buildEngine(
      {
        store: new DynamoDBStore({ tableName, client }),
        environment: 'test',
        telemetry: { emit: (signal) => signals.push(signal), warn() {} },
      },
      {},
    );
    const decision = await engine.begin({ org: 'acme', scope: 'charge', key: 'k-applied', fingerprint: 'f' });
    if (decision.kind !== 'execute') throw new Error(`expected execute, got ${decision.kind}`);
    expect(await engine.complete(decision.lease, { ok: true })).toBe(true);
    expect(signals).toEqual(['first_execution', 'store_error']);
    const [record] = await readRecords(client, tableName);
    expect(record?.status).toBe('COMPLETED');
  });
});

describe('a claim whose answer was lost although the write was applied', () => {
  it('is withdrawn, so an immediate retry runs instead of waiting out an orphan lease', async () => {
    const { client } = localClient();
    const tableName = await createIdempotencyTable(client, 'rel-claim-applied');
    let dropAnswers = 1;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const output = await next(args);
        if (context.commandName === 'PutItemCommand' && dropAnswers-- > 0) {
          throw Object.assign(new Error('Connection timed out after the write'), { name: 'TimeoutError' });
        }
        return output;
      },
      { step: 'initialize', name: 'dropClaimAnswer' },
    );
    const engine = buildEngine(
      { store: new DynamoDBStore({ tableName, client }), environment: 'test', telemetry: silentTelemetry },
      {},
    );
    const input = { org: 'acme', scope: 'charge', key: 'k-claim-applied', fingerprint: 'f', waitBudgetMs: 0 };
    await expect(engine.begin(input)).rejects.toThrow(/claim/);
    expect(await readRecords(client, tableName)).toEqual([]);
    expect((await engine.begin(input)).kind).toBe('execute');
  });
});
