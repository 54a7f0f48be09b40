/**
 * What each stream source adds to the batch core, on a memory store: its event shape, its record decoding, its
 * job keys, its default fingerprint, its delivery identity and how its partial batch response names a record.
 */
import { readFileSync } from 'node:fs';
import type { DynamoDBRecord, KinesisStreamRecord, MSKEvent, MSKRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { Signal } from '../../src/core/telemetry.js';
import {
  type DynamodbStreamJobsOptions,
  dynamodbStreamJobKeys,
  dynamodbStreamJobs,
  streamImage,
} from '../../src/dynamodb-streams/index.js';
import {
  type KafkaEvent,
  type KafkaJobRecord,
  type KafkaJobsOptions,
  kafkaJobKeys,
  kafkaJobs,
} from '../../src/kafka/index.js';
import {
  type KinesisJobsOptions,
  kinesisData,
  kinesisJobKeys,
  kinesisJobs,
} from '../../src/kinesis/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { fakeContext, gate, recordingTelemetry, until } from '../sqs/support.js';

const SCOPE = 'stream-job';
const sample = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../events/${name}.json`, import.meta.url), 'utf8')) as T;
const identifiers = (response: { batchItemFailures: { itemIdentifier: unknown }[] }) =>
  response.batchItemFailures.map((failure) => failure.itemIdentifier);
const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** The options every handler here shares: a fresh memory store and recording telemetry. */
function common() {
  const store = new MemoryStore();
  const recording = recordingTelemetry();
  return {
    store,
    recording,
    options: {
      store,
      scope: SCOPE,
      environment: 'test' as const,
      mode: 'enforce' as const,
      telemetry: recording.telemetry,
    },
  };
}

describe('kinesisJobs', () => {
  const [template] = sample<{ Records: KinesisStreamRecord[] }>('kinesis-batch').Records as [
    KinesisStreamRecord,
  ];
  const kinesisRecord = (
    data: string,
    sequence: string,
    partitionKey = 'customer-1',
  ): KinesisStreamRecord => ({
    ...template,
    eventID: `shardId-000000000000:${sequence}`,
    kinesis: { ...template.kinesis, data: base64(data), sequenceNumber: sequence, partitionKey },
  });
  function build(overrides: Partial<KinesisJobsOptions> = {}) {
    const { store, recording, options } = common();
    const runs: string[] = [];
    const handler = kinesisJobs({
      ...options,
      org: 'acme',
      jobKey: kinesisJobKeys.fromData((order) => (order as { orderId: string }).orderId),
      processRecord: async (record) => {
        runs.push(kinesisData(record));
      },
      ...overrides,
    });
    const invoke = (...Records: KinesisStreamRecord[]) => handler({ Records }, fakeContext());
    return { handler, invoke, runs, store, ...recording };
  }

  it('hands the data over decoded from base64 as UTF-8 text', async () => {
    const { invoke, runs } = build();
    await invoke(kinesisRecord('{"orderId":"o-1","city":"Zürich"}', '1'));
    expect(runs).toEqual(['{"orderId":"o-1","city":"Zürich"}']);
  });

  it("fingerprints the data's JSON meaning: key order and spacing do not matter, another value does", async () => {
    const { invoke, runs, count } = build();
    const response = await invoke(
      kinesisRecord('{"orderId":"o-1","total":100}', '1', 'customer-1'),
      kinesisRecord('{ "total": 100, "orderId": "o-1" }', '2', 'customer-2'),
      kinesisRecord('{"orderId":"o-1","total":200}', '3', 'customer-3'),
    );
    expect(identifiers(response)).toEqual(['3']);
    expect(runs).toHaveLength(1);
    expect(count(Signal.Mismatch)).toBe(1);
  });

  it('keys a job by eventId: a retried record is the same job, a repeat of its data in another record is not', async () => {
    const { invoke, runs } = build({ jobKey: kinesisJobKeys.eventId });
    const original = kinesisRecord('{"orderId":"o-1"}', '1');
    expect(identifiers(await invoke(original))).toEqual([]);
    expect(identifiers(await invoke(original))).toEqual([]);
    expect(identifiers(await invoke(kinesisRecord('{"orderId":"o-1"}', '2')))).toEqual([]);
    expect(runs).toHaveLength(2);
  });

  it('picks a business id from data that is not JSON as the text itself', async () => {
    const { invoke, runs } = build({ jobKey: kinesisJobKeys.fromData((data) => String(data).split(':')[0]) });
    await invoke(kinesisRecord('o-7:ship', '1'), kinesisRecord('o-7:ship', '2', 'customer-2'));
    expect(runs).toEqual(['o-7:ship']);
  });

  it('refuses an event without a Records array, naming what it expected and the door', async () => {
    const { handler } = build();
    await expect(handler(null as never, fakeContext())).rejects.toThrow(
      /^Expected a Kinesis event with a `Records` array, got null; attach `kinesisJobs` to that event source\.$/,
    );
    await expect(handler({ Records: 'x' } as never, fakeContext())).rejects.toThrow(/got object;/);
  });
});

describe('dynamodbStreamJobs', () => {
  const [insert, modify, remove] = sample<{ Records: DynamoDBRecord[] }>('dynamodb-stream-batch').Records as [
    DynamoDBRecord,
    DynamoDBRecord,
    DynamoDBRecord,
  ];
  /** A change of order `orderId` with the given status, as the stream delivers it. */
  const change = (
    orderId: string,
    sequence: string,
    status = 'PLACED',
    keys: Record<string, { S: string }> = { orderId: { S: orderId } },
  ): DynamoDBRecord => ({
    ...insert,
    eventID: `event-${sequence}`,
    dynamodb: {
      ...insert.dynamodb,
      Keys: keys,
      NewImage: { ...insert.dynamodb?.NewImage, orderId: { S: orderId }, status: { S: status } },
      SequenceNumber: sequence,
    },
  });
  function build(overrides: Partial<DynamodbStreamJobsOptions> = {}) {
    const { store, recording, options } = common();
    const runs: unknown[] = [];
    const handler = dynamodbStreamJobs({
      ...options,
      org: 'acme',
      jobKey: dynamodbStreamJobKeys.fromNewImage((image) => image.orderId as string),
      processRecord: async (record) => {
        runs.push(streamImage(record.dynamodb?.NewImage));
      },
      ...overrides,
    });
    const invoke = (...Records: DynamoDBRecord[]) => handler({ Records }, fakeContext());
    return { handler, invoke, runs, store, ...recording };
  }

  it('reads an image as a plain object, and no image as undefined', () => {
    expect(streamImage(insert.dynamodb?.NewImage)).toEqual({
      orderId: 'o-2001',
      orgId: 'acme',
      status: 'PLACED',
      total: 42,
    });
    expect(streamImage(undefined)).toBeUndefined();
  });

  it('fails a REMOVE alone when the job key comes from the new image, counted as missing_key', async () => {
    const { invoke, runs, signals } = build();
    const response = await invoke(modify, remove);
    expect(identifiers(response)).toEqual([remove.dynamodb?.SequenceNumber]);
    expect(runs).toHaveLength(1);
    const missing = signals.filter((entry) => entry.signal === Signal.MissingKey);
    expect(missing.map((entry) => entry.facts.detail?.reason)).toEqual([
      expect.stringMatching(/got undefined;/),
    ]);
  });

  it('fingerprints what changed: the same keys and new image match, another image or another item does not', async () => {
    const { invoke, runs, count } = build();
    const response = await invoke(
      change('o-1', '1'),
      change('o-1', '2'),
      change('o-1', '3', 'PAID'),
      change('o-1', '4', 'PLACED', { orderId: { S: 'o-1' }, line: { S: '2' } }),
    );
    expect(identifiers(response)).toEqual(['3', '4']);
    expect(runs).toHaveLength(1);
    expect(count(Signal.Mismatch)).toBe(2);
  });

  it('runs the changes of one item in order and stops the item at its first failure; other items run on', async () => {
    const seen: string[] = [];
    const { invoke } = build({
      jobKey: dynamodbStreamJobKeys.eventId,
      processRecord: async (record) => {
        const image = streamImage(record.dynamodb?.NewImage);
        seen.push(`${image?.orderId}:${image?.status}`);
        if (image?.status === 'BROKEN') throw new Error('index down');
      },
    });
    const response = await invoke(
      change('o-1', '1'),
      change('o-2', '2', 'BROKEN'),
      change('o-1', '3', 'PAID'),
      change('o-2', '4', 'PAID'),
    );
    expect(identifiers(response)).toEqual(['2']);
    expect(seen.filter((change) => change.startsWith('o-1'))).toEqual(['o-1:PLACED', 'o-1:PAID']);
    expect(seen.filter((change) => change.startsWith('o-2'))).toEqual(['o-2:BROKEN']);
  });

  it('keys a job by eventId: a retried record is the same job', async () => {
    const { invoke, runs } = build({ jobKey: dynamodbStreamJobKeys.eventId });
    await invoke(insert);
    await invoke(insert);
    expect(runs).toHaveLength(1);
  });

  it("takes the sequence number as a record's identity when it has no eventID", async () => {
    const held = gate();
    const { invoke, runs } = build({
      processRecord: async (record) => {
        runs.push(record.dynamodb?.SequenceNumber);
        await held.wait;
      },
    });
    const { eventID: _a, ...first } = change('o-1', '1');
    const { eventID: _b, ...repeat } = change('o-1', '2');
    const running = invoke(first);
    await until(() => runs.length === 1);

    // The same record again is its own live lease: named. Another record of the order is left to the first.
    expect(identifiers(await invoke(first))).toEqual(['1']);
    expect(identifiers(await invoke(repeat))).toEqual([]);
    held.open();
    expect(identifiers(await running)).toEqual([]);
    expect(runs).toEqual(['1']);
  });

  it('names a failed record without a sequence number by an empty identifier, so Lambda retries the whole batch', async () => {
    const { invoke } = build({
      processRecord: async () => {
        throw new Error('index down');
      },
    });
    const { SequenceNumber: _, ...withoutSequence } = change('o-1', '1').dynamodb ?? {};
    expect(identifiers(await invoke({ ...change('o-1', '1'), dynamodb: withoutSequence }))).toEqual(['']);
  });

  it('correlates a record with neither an eventID nor a sequence number by no id at all', async () => {
    const { invoke, signals } = build();
    const { eventID: _, ...withoutId } = change('o-1', '1');
    const { SequenceNumber: __, ...withoutSequence } = withoutId.dynamodb ?? {};
    await invoke({ ...withoutId, dynamodb: withoutSequence });
    expect(signals.map((entry) => entry.facts.correlationId)).toEqual(['']);
  });

  it('refuses an event without a Records array, naming what it expected and the door', async () => {
    const { handler } = build();
    await expect(handler(undefined as never, fakeContext())).rejects.toThrow(
      /^Expected a DynamoDB Streams event with a `Records` array, got undefined; attach `dynamodbStreamJobs` to that event source\.$/,
    );
    await expect(handler({} as never, fakeContext())).rejects.toThrow(/got object;/);
  });
});

describe('kafkaJobs', () => {
  const raw = (offset: number, value: string | null, extra: Partial<MSKRecord> = {}): MSKRecord => ({
    topic: 'payments',
    partition: 0,
    offset,
    timestamp: 1764590400000 + offset,
    timestampType: 'CREATE_TIME',
    key: base64(`k-${offset}`),
    value: value === null ? (null as unknown as string) : base64(value),
    headers: [{ 'org-id': [...Buffer.from('acme')] }],
    ...extra,
  });
  const eventOf = (...records: MSKRecord[]): KafkaEvent => {
    const grouped: MSKEvent['records'] = {};
    for (const record of records) {
      const topicPartition = `${record.topic}-${record.partition}`;
      grouped[topicPartition] = [...(grouped[topicPartition] ?? []), record];
    }
    return {
      eventSource: 'aws:kafka',
      eventSourceArn: 'arn:aws:kafka:eu-west-1:1:cluster/p/x',
      bootstrapServers: 'b-1:9092',
      records: grouped,
    };
  };
  function build(overrides: Partial<KafkaJobsOptions> = {}) {
    const { store, recording, options } = common();
    const seen: KafkaJobRecord[] = [];
    const handler = kafkaJobs({
      ...options,
      org: (record) => record.headers['org-id'],
      jobKey: kafkaJobKeys.offset,
      processRecord: async (record) => {
        seen.push(record);
      },
      ...overrides,
    });
    const invoke = (event: KafkaEvent) => handler(event, fakeContext());
    return { handler, invoke, seen, store, ...recording };
  }

  it('decodes key, value and headers: a missing key is undefined, a tombstone an empty value, a repeated header its last value', async () => {
    const { invoke, seen } = build();
    const response = await invoke(
      eventOf(
        raw(1, '{"paymentId":"p-1"}', {
          headers: [
            { 'org-id': [...Buffer.from('acme')], trace: [...Buffer.from('t-1')] },
            { trace: [...Buffer.from('t-2')] },
          ],
        }),
        raw(2, null, { key: null as unknown as string }),
        raw(4, 'x', {
          key: undefined as unknown as string,
          headers: [{ 'org-id': [...Buffer.from('acme')] }],
        }),
        raw(3, 'plain', { headers: undefined as unknown as MSKRecord['headers'] }),
      ),
    );
    expect(seen.map(({ raw: _, ...record }) => record)).toEqual([
      {
        topic: 'payments',
        partition: 0,
        offset: 1,
        timestamp: 1764590400001,
        timestampType: 'CREATE_TIME',
        key: 'k-1',
        value: '{"paymentId":"p-1"}',
        headers: { 'org-id': 'acme', trace: 't-2' },
      },
      {
        topic: 'payments',
        partition: 0,
        offset: 2,
        timestamp: 1764590400002,
        timestampType: 'CREATE_TIME',
        key: undefined,
        value: '',
        headers: { 'org-id': 'acme' },
      },
      {
        topic: 'payments',
        partition: 0,
        offset: 4,
        timestamp: 1764590400004,
        timestampType: 'CREATE_TIME',
        key: undefined,
        value: 'x',
        headers: { 'org-id': 'acme' },
      },
    ]);
    // The third record has no org header: it fails alone, before it runs.
    expect(identifiers(response)).toEqual([{ partition: 'payments-0', offset: 3 }]);
  });

  it('hands over a record sent without headers with no headers', async () => {
    const { invoke, seen } = build({ org: 'acme' });
    await invoke(eventOf(raw(1, 'a', { headers: undefined as unknown as MSKRecord['headers'] })));
    expect(seen.map((record) => record.headers)).toEqual([{}]);
  });

  it('keys a job by topic-partition-offset, so an operator finds it under that key', async () => {
    const { invoke, store, seen } = build();
    await invoke(eventOf(raw(15, 'a'), raw(16, 'a')));
    await invoke(eventOf(raw(15, 'a')));
    expect(seen).toHaveLength(2);
    expect(await store.get(recordKey('acme', SCOPE, 'payments-0-15'))).toBeDefined();
    expect(await store.get(recordKey('acme', SCOPE, 'payments-0-16'))).toBeDefined();
  });

  it('keys a job by the decoded record key or by a business id of the value', async () => {
    const byKey = build({ jobKey: kafkaJobKeys.recordKey });
    await byKey.invoke(eventOf(raw(1, 'a'), raw(2, 'a', { key: base64('k-1') })));
    expect(byKey.seen).toHaveLength(1);
    expect(await byKey.store.get(recordKey('acme', SCOPE, 'k-1'))).toBeDefined();

    const byValue = build({ jobKey: kafkaJobKeys.fromValue((payment) => (payment as { id: string }).id) });
    await byValue.invoke(eventOf(raw(1, '{"id":"p-9"}', { key: null as unknown as string })));
    expect(await byValue.store.get(recordKey('acme', SCOPE, 'p-9'))).toBeDefined();
  });

  it("fingerprints the record's key and value: the same value under another key is another meaning", async () => {
    const { invoke, count, seen } = build({
      jobKey: kafkaJobKeys.fromValue((payment) => (payment as { id: string }).id),
    });
    const response = await invoke(
      eventOf(
        raw(1, '{"id":"p-1","cents":5}', { key: base64('a') }),
        raw(2, '{ "cents": 5, "id": "p-1" }', { key: base64('a'), partition: 1 }),
        raw(3, '{"id":"p-1","cents":5}', { key: base64('b'), partition: 2 }),
      ),
    );
    expect(identifiers(response)).toEqual([{ partition: 'payments-2', offset: 3 }]);
    expect(seen).toHaveLength(1);
    expect(count(Signal.Mismatch)).toBe(1);
  });

  it('names each failed topic-partition by its first failed offset and runs partitions apart', async () => {
    const { invoke, seen } = build({
      processRecord: async (record) => {
        seen.push(record);
        if (record.value === 'bad') throw new Error('down');
      },
    });
    const response = await invoke(
      eventOf(
        raw(1, 'ok'),
        raw(2, 'bad'),
        raw(3, 'bad'),
        raw(1, 'bad', { partition: 1 }),
        raw(5, 'ok', { topic: 'refunds' }),
      ),
    );
    expect(identifiers(response)).toEqual([
      { partition: 'payments-0', offset: 2 },
      { partition: 'payments-1', offset: 1 },
    ]);
    expect(seen.map((record) => `${record.topic}-${record.partition}-${record.offset}`).sort()).toEqual([
      'payments-0-1',
      'payments-0-2',
      'payments-1-1',
      'refunds-0-5',
    ]);
  });

  it('skips a topic-partition entry that is not a list, and refuses an event without a records object', async () => {
    const { handler, invoke, seen } = build();
    const event = eventOf(raw(1, 'a'));
    (event.records as Record<string, unknown>)['payments-9'] = { not: 'a list' };
    expect(identifiers(await invoke(event))).toEqual([]);
    expect(seen).toHaveLength(1);

    const expected =
      /^Expected an MSK or self-managed Kafka event with a `records` object of topic-partitions, got object; attach `kafkaJobs` to that event source\.$/;
    await expect(handler({ records: null } as never, fakeContext())).rejects.toThrow(expected);
    await expect(handler({ records: [raw(1, 'a')] } as never, fakeContext())).rejects.toThrow(expected);
    await expect(handler({ records: 'x' } as never, fakeContext())).rejects.toThrow(expected);
  });
});
