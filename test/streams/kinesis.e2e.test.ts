/**
 * `kinesisJobs` end to end on kinesalite: records put on a real (emulated) stream reach the handler through a
 * poller with the event source mapping's semantics (test/support/stream-poller.ts): batches per shard,
 * partial batch responses, a checkpoint at the lowest reported sequence number, whole-batch retries after a
 * throw. Each job's side effect adds 1 to its id in a separate table (docs/reliability.md).
 */
import { randomUUID } from 'node:crypto';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinesisData, kinesisJobKeys, kinesisJobs } from '../../src/kinesis/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { createEffectsTable, readEffects, recordEffect, tally } from '../reliability/support.js';
import { fakeContext, recordingTelemetry } from '../sqs/support.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import {
  EventSourceMapping,
  type Kinesalite,
  kinesisReader,
  startKinesalite,
  until,
} from '../support/stream-poller.js';

interface Order {
  readonly orderId: string;
  readonly org: string;
  readonly unit: string;
  readonly index: number;
}

const { client } = localClient();
let kinesis: Kinesalite;
const mappings: EventSourceMapping<unknown>[] = [];

beforeAll(async () => {
  kinesis = await startKinesalite();
});
afterAll(async () => {
  await Promise.all(mappings.map((mapping) => mapping.stop()));
  await kinesis?.stop();
  client.destroy();
});

// Two shards, each owning half of the hash key space: a unit's shard is chosen, not left to the hash.
const SHARD_HASH = ['1', String(2n ** 127n + 1n)] as const;

/** A stream, a table, an effects table and a `kinesisJobs` handler whose `processRecord` is `work`. */
async function setup(work: (order: Order) => Promise<void>) {
  const stream = `jobs-${randomUUID()}`;
  await kinesis.createStream(stream, 2);
  const tableName = await createIdempotencyTable(client, 'kinesis-e2e');
  const effectsTable = await createEffectsTable(client);
  const recording = recordingTelemetry();
  const ran: Order[] = [];
  const handler = kinesisJobs({
    store: new DynamoDBStore({ tableName, client }),
    scope: 'ship-order',
    environment: 'test',
    mode: 'enforce',
    lockTtlSeconds: 30,
    telemetry: recording.telemetry,
    org: (record) => (JSON.parse(kinesisData(record)) as Order).org,
    jobKey: kinesisJobKeys.fromData((order) => (order as Order).orderId),
    processRecord: async (record) => {
      const order = JSON.parse(kinesisData(record)) as Order;
      await work(order);
      ran.push(order);
      await recordEffect(client, effectsTable, order.orderId);
      return { shipped: true };
    },
  });
  /** Puts one record of `unit` on shard `unit % 2`; the response says which shard took it. */
  const put = async (order: Order, partitionKey = order.unit) => {
    const shard = Number(order.unit.replace(/\D/g, '')) % 2;
    const { ShardId } = await kinesis.client.send(
      new PutRecordCommand({
        StreamName: stream,
        PartitionKey: partitionKey,
        ExplicitHashKey: SHARD_HASH[shard],
        Data: Buffer.from(JSON.stringify(order)),
      }),
    );
    return ShardId as string;
  };
  const mapping = (invoke: (event: KinesisStreamEvent) => Promise<unknown>, batchSize: number) => {
    const started = new EventSourceMapping({
      reader: kinesisReader(kinesis.client, stream),
      invoke: (event) => invoke(event as KinesisStreamEvent),
      batchSize,
    });
    mappings.push(started as EventSourceMapping<unknown>);
    started.start();
    return started;
  };
  const effects = () => readEffects(client, effectsTable);
  return { handler, put, mapping, effects, ran, recording };
}

const orders = (units: number, perUnit: number): Order[] =>
  Array.from({ length: units * perUnit }, (_, n) => ({
    orderId: `order-${randomUUID()}`,
    org: 'acme',
    unit: `u${n % units}`,
    index: Math.floor(n / units),
  }));

/** Whether each unit's orders ran in the order they were put. */
function inOrderPerUnit(ran: readonly Order[]): boolean {
  const last = new Map<string, number>();
  for (const order of ran) {
    if ((last.get(order.unit) ?? -1) >= order.index) return false;
    last.set(order.unit, order.index);
  }
  return true;
}

describe('kinesisJobs on kinesalite', () => {
  it('blocks only the poisoned partition key, in batches that span the shard, until its record succeeds; every order runs once', async () => {
    let healed = false;
    let poisonAttempts = 0;
    const all = orders(6, 8);
    const poison = all.find((order) => order.unit === 'u3' && order.index === 2) as Order;
    const { handler, put, mapping, effects, ran } = await setup(async (order) => {
      if (order.orderId !== poison.orderId || healed) return;
      poisonAttempts += 1;
      throw new Error('the warehouse is down');
    });
    const blocked = all.filter((order) => order.unit === 'u3' && order.index >= 2);
    const free = all.filter((order) => !blocked.includes(order));

    // Half the orders are on the stream before the mapping starts, half arrive while it runs; a producer
    // retries three PutRecord calls (same order, a second record).
    const shardOf = new Map<string, string>();
    for (const order of all.slice(0, 24)) shardOf.set(order.orderId, await put(order));
    const fn = mapping((event) => handler(event, fakeContext()), 100);
    for (const order of all.slice(24)) shardOf.set(order.orderId, await put(order));
    for (const order of [all[1], all[7], all[30]] as Order[]) await put(order);

    await until(
      async () => {
        const seen = await effects();
        return free.every((order) => seen.has(order.orderId)) && poisonAttempts >= 3;
      },
      { mappings: [fn], what: 'every order outside the poisoned unit, and three attempts at the poison' },
    );
    const whilePoisoned = await effects();
    expect(blocked.filter((order) => whilePoisoned.has(order.orderId))).toEqual([]);
    // The shard holding the poison resumes at it on every retry; the other shard never waits.
    const poisonShard = shardOf.get(poison.orderId);
    expect(fn.batches.some((batch) => batch.outcome === 'partial' && batch.shard === poisonShard)).toBe(true);
    expect(fn.batches.filter((batch) => batch.shard !== poisonShard).every((b) => b.outcome === 'ok')).toBe(
      true,
    );

    healed = true;
    await until(
      async () => {
        const seen = await effects();
        return all.every((order) => seen.has(order.orderId));
      },
      { mappings: [fn], what: 'every order after the poison healed' },
    );
    await until(() => fn.batches.at(-1)?.outcome === 'ok', { mappings: [fn], what: 'a last clean batch' });
    await fn.stop();

    const seen = await effects();
    expect(
      tally(
        seen,
        all.map((order) => order.orderId),
      ),
    ).toEqual({ once: all.length, lost: 0, duplicated: 0 });
    expect(seen.size).toBe(all.length);
    expect(inOrderPerUnit(ran)).toBe(true);
    // Records behind the poison in its shard came again on every retry, and ran once all the same.
    const redelivered = [...fn.deliveries.values()].filter((times) => times > 1).length;
    expect(redelivered).toBeGreaterThan(blocked.length);
  }, 120_000);

  it('lets the other partition keys of the poisoned shard run only within one batch of the poison', async () => {
    let healed = false;
    // One shard, two partition keys taking turns: u1, u3, u1, u3, ...; the first u3 record is poisoned.
    const all: Order[] = Array.from({ length: 20 }, (_, position) => ({
      orderId: `order-${randomUUID()}`,
      org: 'acme',
      unit: position % 2 === 0 ? 'u1' : 'u3',
      index: Math.floor(position / 2),
    }));
    const poison = all[1] as Order;
    const { handler, put, mapping, effects } = await setup(async (order) => {
      if (order.orderId === poison.orderId && !healed) throw new Error('the warehouse is down');
    });
    for (const order of all) await put(order);
    const fn = mapping((event) => handler(event, fakeContext()), 5);
    await until(() => fn.retries.partial >= 3, { mappings: [fn], what: 'three retries of the poison' });

    // Every retry starts at the poison and carries the 4 records after it: u1's records up to there run,
    // the rest of u1 is never delivered while the poison fails (Lambda's checkpoint is per shard).
    const whilePoisoned = await effects();
    const ranWhilePoisoned = all
      .filter((order) => whilePoisoned.has(order.orderId))
      .map((o) => all.indexOf(o));
    expect(ranWhilePoisoned).toEqual([0, 2, 4]);

    healed = true;
    await until(() => fn.caughtUp(all.length), { mappings: [fn], what: 'the shard read to its end' });
    await fn.stop();
    expect(
      tally(
        await effects(),
        all.map((order) => order.orderId),
      ),
    ).toEqual({
      once: all.length,
      lost: 0,
      duplicated: 0,
    });
  }, 120_000);

  it('retries the whole batch after the function throws, and runs nothing twice', async () => {
    const all = orders(4, 5);
    const { handler, put, mapping, effects } = await setup(async () => undefined);
    for (const order of all) await put(order);
    let throwsLeft = 2;
    // The function does the work, then dies before it answers (a timeout, an out-of-memory).
    const fn = mapping(async (event) => {
      const answer = await handler(event, fakeContext());
      if (throwsLeft > 0) {
        throwsLeft -= 1;
        throw new Error('Task timed out after 3.00 seconds');
      }
      return answer;
    }, 100);

    await until(
      async () => {
        const seen = await effects();
        return all.every((order) => seen.has(order.orderId)) && throwsLeft === 0;
      },
      { mappings: [fn], what: 'every order, and two thrown invocations' },
    );
    await until(() => fn.batches.filter((b) => b.outcome === 'ok').length >= 2, { mappings: [fn] });
    await fn.stop();

    expect(fn.retries.whole).toBe(2);
    expect(Math.max(...fn.deliveries.values())).toBeGreaterThanOrEqual(2);
    expect(
      tally(
        await effects(),
        all.map((order) => order.orderId),
      ),
    ).toEqual({
      once: all.length,
      lost: 0,
      duplicated: 0,
    });
  }, 120_000);
});
