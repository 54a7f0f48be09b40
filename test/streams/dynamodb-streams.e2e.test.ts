/**
 * `dynamodbStreamJobs` end to end on DynamoDB Local: writes to a table with a stream flow, through DynamoDB
 * Local's own Streams API and a poller with the event source mapping's semantics
 * (test/support/stream-poller.ts), as stream records into the handler. Each change's side effect adds 1 to its
 * id in a separate table (docs/reliability.md).
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { dynamodbStreamJobKeys, dynamodbStreamJobs, streamImage } from '../../src/dynamodb-streams/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { createEffectsTable, readEffects, recordEffect, tally } from '../reliability/support.js';
import { fakeContext, recordingTelemetry } from '../sqs/support.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { LOCAL_CLIENT_CONFIG } from '../support/dynamodb-local.js';
import { dynamodbStreamReader, EventSourceMapping, until } from '../support/stream-poller.js';

/** One write to an order item: which change it is (the job), and its place in the item's history. */
interface Change {
  readonly changeId: string;
  readonly item: string;
  readonly version: number;
}

const { client } = localClient();
const streams = new DynamoDBStreamsClient({ ...LOCAL_CLIENT_CONFIG, endpoint: inject('dynamoEndpoint') });
const mappings: EventSourceMapping<unknown>[] = [];
afterAll(async () => {
  await Promise.all(mappings.map((mapping) => mapping.stop()));
  client.destroy();
  streams.destroy();
});

/** A source table with a stream, the idempotency and effects tables, and a mapping into `dynamodbStreamJobs`. */
async function setup(options: {
  jobKey: 'changeId' | 'eventId';
  work?: (change: Change | undefined) => Promise<void>;
}) {
  const sourceTable = `orders-${randomUUID()}`;
  const created = await client.send(
    new CreateTableCommand({
      TableName: sourceTable,
      AttributeDefinitions: [{ AttributeName: 'item', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'item', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  const streamArn = created.TableDescription?.LatestStreamArn as string;
  const tableName = await createIdempotencyTable(client, 'ddbs-e2e');
  const effectsTable = await createEffectsTable(client);
  const ran: Change[] = [];
  const handler = dynamodbStreamJobs({
    store: new DynamoDBStore({ tableName, client }),
    scope: 'index-order',
    org: 'acme',
    environment: 'test',
    mode: 'enforce',
    lockTtlSeconds: 30,
    telemetry: recordingTelemetry().telemetry,
    jobKey:
      options.jobKey === 'eventId'
        ? dynamodbStreamJobKeys.eventId
        : dynamodbStreamJobKeys.fromNewImage((image) => image.changeId as string),
    processRecord: async (record) => {
      const change = streamImage(record.dynamodb?.NewImage) as Change | undefined;
      await options.work?.(change);
      if (change !== undefined) ran.push(change);
      await recordEffect(client, effectsTable, change?.changeId ?? `removed-${record.eventID}`);
      return { indexed: true };
    },
  });
  const write = (change: Change) =>
    client.send(
      new PutItemCommand({
        TableName: sourceTable,
        Item: {
          item: { S: change.item },
          changeId: { S: change.changeId },
          version: { N: String(change.version) },
        },
      }),
    );
  const remove = (item: string) =>
    client.send(new DeleteItemCommand({ TableName: sourceTable, Key: { item: { S: item } } }));
  /** A new mapping with no checkpoint: it starts at the stream's oldest record. */
  const newMapping = () => {
    const mapping = new EventSourceMapping({
      reader: dynamodbStreamReader(streams, streamArn),
      invoke: (event) => handler(event as DynamoDBStreamEvent, fakeContext()),
      batchSize: 100,
    });
    mappings.push(mapping as EventSourceMapping<unknown>);
    return mapping;
  };
  const effects = () => readEffects(client, effectsTable);
  return { write, remove, newMapping, effects, ran };
}

const changes = (items: number, versions: number): Change[] =>
  Array.from({ length: items * versions }, (_, n) => ({
    changeId: `change-${randomUUID()}`,
    item: `order-${n % items}`,
    version: Math.floor(n / items),
  }));

describe('dynamodbStreamJobs on DynamoDB Local streams', () => {
  it('runs each change of every item once, in order, while a poisoned change blocks only its item', async () => {
    let healed = false;
    let poisonAttempts = 0;
    const all = changes(5, 6);
    const poison = all.find((change) => change.item === 'order-2' && change.version === 1) as Change;
    const { write, newMapping, effects, ran } = await setup({
      jobKey: 'changeId',
      work: async (change) => {
        if (change?.changeId !== poison.changeId || healed) return;
        poisonAttempts += 1;
        throw new Error('the search index is down');
      },
    });
    const blocked = all.filter((change) => change.item === 'order-2' && change.version >= 1);
    const free = all.filter((change) => !blocked.includes(change));

    for (const change of all.slice(0, 15)) await write(change);
    const mapping = newMapping();
    mapping.start();
    for (const change of all.slice(15)) await write(change);

    await until(
      async () => {
        const seen = await effects();
        return free.every((change) => seen.has(change.changeId)) && poisonAttempts >= 3;
      },
      {
        mappings: [mapping],
        what: 'every change outside the poisoned item, and three attempts at the poison',
      },
    );
    const whilePoisoned = await effects();
    expect(blocked.filter((change) => whilePoisoned.has(change.changeId))).toEqual([]);
    // The third attempt's answer may still be on its way back to the mapping.
    expect(mapping.retries.partial).toBeGreaterThanOrEqual(2);

    healed = true;
    await until(
      async () => {
        const seen = await effects();
        return all.every((change) => seen.has(change.changeId));
      },
      { mappings: [mapping], what: 'every change after the poison healed' },
    );
    await until(() => mapping.batches.at(-1)?.outcome === 'ok', { mappings: [mapping] });
    await mapping.stop();

    const seen = await effects();
    expect(
      tally(
        seen,
        all.map((change) => change.changeId),
      ),
    ).toEqual({ once: all.length, lost: 0, duplicated: 0 });
    expect(seen.size).toBe(all.length);
    const last = new Map<string, number>();
    for (const change of ran) {
      expect(change.version).toBeGreaterThan(last.get(change.item) ?? -1);
      last.set(change.item, change.version);
    }
    expect([...mapping.deliveries.values()].some((times) => times > 1)).toBe(true);
  }, 120_000);

  it('keyed by eventId, runs removes too, and a redelivered batch runs nothing twice', async () => {
    const all = changes(3, 2);
    const { write, remove, newMapping, effects } = await setup({ jobKey: 'eventId' });
    for (const change of all) await write(change);
    for (const item of ['order-0', 'order-1']) await remove(item);
    const mapping = newMapping();
    mapping.start();
    await until(async () => (await effects()).size === all.length + 2, {
      mappings: [mapping],
      what: 'six writes and two removes',
    });
    await mapping.stop();

    // The same records again, as a mapping that lost its checkpoint delivers them.
    const again = newMapping();
    again.start();
    await until(() => again.deliveries.size === all.length + 2 && again.batches.at(-1)?.outcome === 'ok', {
      mappings: [again],
      what: 'the stream delivered again',
    });
    await again.stop();
    const seen = await effects();
    expect(seen.size).toBe(all.length + 2);
    expect([...seen.values()].every((runs) => runs === 1)).toBe(true);
    expect(
      tally(
        seen,
        all.map((change) => change.changeId),
      ),
    ).toEqual({ once: all.length, lost: 0, duplicated: 0 });
  }, 120_000);
});
