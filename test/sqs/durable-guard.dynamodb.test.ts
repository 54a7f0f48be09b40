import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import type { ConsumerJob } from './fixtures/consumer.js';
import { eventOf, fakeContext, invoiceIdOf, invoiceJobs, loadEvent, resent, withInvoice } from './support.js';

const { client, counter } = localClient();
const workDir = mkdtempSync(join(tmpdir(), 'idemkit-sqs-'));
afterAll(() => {
  client.destroy();
  rmSync(workDir, { recursive: true, force: true });
});

let tableName: string;
let effectsTable: string;
beforeEach(async () => {
  tableName = await createIdempotencyTable(client, 'sqs-durable');
  effectsTable = `effects-${randomUUID()}`;
  await client.send(
    new CreateTableCommand({
      TableName: effectsTable,
      AttributeDefinitions: [{ AttributeName: 'job', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'job', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
});

/** How many times each job's side effect ran, by invoice id. */
async function sideEffects(): Promise<Record<string, number>> {
  const { Items = [] } = await client.send(
    new ScanCommand({ TableName: effectsTable, ConsistentRead: true }),
  );
  return Object.fromEntries(Items.map((item) => [item.job?.S ?? '', Number(item.runs?.N)]));
}

/** Starts one consumer process per batch, lets them all go at once and collects their responses. */
async function runProcesses(batches: SQSRecord[][], workMs = 25): Promise<SQSBatchResponse[]> {
  const script = fileURLToPath(new URL('./fixtures/consumer.ts', import.meta.url));
  const children = batches.map((records) => {
    const jobFile = join(workDir, `${randomUUID()}.json`);
    const job: ConsumerJob = {
      endpoint: inject('dynamoEndpoint'),
      tableName,
      effectsTable,
      event: eventOf(...records),
      workMs,
    };
    writeFileSync(jobFile, JSON.stringify(job));
    const child = spawn(process.execPath, ['--import', 'tsx', script, jobFile], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const lines = createInterface({ input: child.stdout });
    const ready = new Promise<void>((resolve) => lines.on('line', (line) => line === 'ready' && resolve()));
    const result = new Promise<SQSBatchResponse>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line.startsWith('RESULT ')) resolve(JSON.parse(line.slice(7)) as SQSBatchResponse);
      });
      child.on('exit', (code) => reject(new Error(`consumer exited with ${code}: ${stderr}`)));
    });
    return { child, ready, result };
  });
  await Promise.all(children.map((entry) => entry.ready));
  for (const { child } of children) child.stdin.end('go\n');
  return Promise.all(children.map((entry) => entry.result));
}

const handlerOn = (store: DynamoDBStore, runs: string[]) =>
  invoiceJobs(store, async (record) => {
    runs.push(invoiceIdOf(record));
  });

describe('the durable guard', () => {
  it('does not reprocess completed jobs after a restart with a new store instance', async () => {
    const { Records } = loadEvent('sqs-standard-batch');
    const before: string[] = [];
    await handlerOn(new DynamoDBStore({ tableName, client }), before)(eventOf(...Records), fakeContext());
    counter.reset();

    const after: string[] = [];
    const restarted = handlerOn(new DynamoDBStore({ tableName, client }), after);
    const response = await restarted(eventOf(...Records.map(resent)), fakeContext());

    expect(before).toHaveLength(3);
    expect(after).toEqual([]);
    expect(response.batchItemFailures).toEqual([]);
    // The jobs come back as new messages received again: one batch read decides all three, no write.
    expect(counter.calls).toEqual(['BatchGetItemCommand']);
  });

  it('does not reprocess completed jobs in a separate Node process on the same table', async () => {
    const { Records } = loadEvent('sqs-standard-batch');
    const [first] = await runProcesses([Records]);
    expect(first?.batchItemFailures).toEqual([]);
    expect(await sideEffects()).toEqual({ 'inv-2026-1001': 1, 'inv-2026-1002': 1, 'inv-2026-1003': 1 });

    const [second] = await runProcesses([Records.map(resent)]);

    expect(second?.batchItemFailures).toEqual([]);
    expect(await sideEffects()).toEqual({ 'inv-2026-1001': 1, 'inv-2026-1002': 1, 'inv-2026-1003': 1 });
  });

  it('runs each side effect exactly once when three processes consume overlapping batches', async () => {
    const [template] = loadEvent('sqs-standard-batch').Records as [SQSRecord];
    const jobs = Array.from({ length: 12 }, (_, index) => withInvoice(template, `inv-2026-7${10 + index}`));
    // Every job is in two of the three batches, as separate messages, in a different order in each.
    const batches = [0, 1, 2].map((offset) => {
      const batch = jobs.filter((_, index) => index % 3 !== offset).map(resent);
      return offset === 1 ? batch.reverse() : batch;
    });

    const responses = await runProcesses(batches);

    const effects = await sideEffects();
    expect(Object.keys(effects)).toHaveLength(12);
    expect(Object.values(effects).every((runs) => runs === 1)).toBe(true);
    expect(responses.map((response) => response.batchItemFailures)).toEqual([[], [], []]);
  });
});
