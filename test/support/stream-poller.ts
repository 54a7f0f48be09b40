/**
 * Lambda's stream event source mapping, locally, for the end-to-end and reliability tests: reads each shard of
 * a Kinesis stream (kinesalite) or a DynamoDB stream (DynamoDB Local's own Streams API), or each partition of a
 * Kafka topic kept in this process ({@link KafkaTopic}: no broker runs here), in batches, invokes the function
 * with a Lambda-shaped event, and checkpoints as `ReportBatchItemFailures` says:
 *
 * - an empty (or absent) `batchItemFailures`: the batch is done, the shard goes on after its last record;
 * - failures: the shard resumes **at** the lowest reported sequence number (Kafka: the reported offset of that
 *   partition), so that record and every later one come again;
 * - a throw, or an identifier that is not a sequence number of the batch: the whole batch comes again.
 *
 * One batch per shard at a time (`ParallelizationFactor` 1), retried until it succeeds
 * (`MaximumRetryAttempts` -1, no bisecting). Every loop is bounded by a deadline and an invocation count, so a
 * test that waits on a mapping which can never finish fails with the reason instead of hanging.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
 */
import type { Server } from 'node:http';
import type { AttributeValue as StreamAttributeValue } from '@aws-sdk/client-dynamodb-streams';
import {
  DescribeStreamCommand as DescribeDynamoDBStreamCommand,
  type _Record as DynamoDBStreamSdkRecord,
  type DynamoDBStreamsClient,
  GetRecordsCommand as GetDynamoDBStreamRecordsCommand,
  GetShardIteratorCommand as GetDynamoDBStreamShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  type _Record as KinesisSdkRecord,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type {
  DynamoDBRecord,
  DynamoDBStreamEvent,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import kinesalite from 'kinesalite';

/** Where a shard iterator starts. */
export type Position =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER'; readonly sequence: string };

/** A shard and the shard it was split or merged from, whose records come first. */
export interface ShardInfo {
  readonly id: string;
  readonly parent?: string;
}

/** One stream as the mapping reads it: its shards, their records, and the event Lambda builds of them. */
export interface ShardReader<R> {
  shards(): Promise<readonly ShardInfo[]>;
  iterator(shardId: string, from: Position): Promise<string>;
  /** `next` is `undefined` once the shard is closed and read to its end. */
  read(iterator: string, limit: number): Promise<{ records: readonly R[]; next: string | undefined }>;
  sequence(record: R): string;
  event(shardId: string, records: readonly R[]): unknown;
  /**
   * The sequence number a partial batch response's `itemIdentifier` names, or `undefined` when it names none of
   * this shard. @default the identifier itself, when it is a string (Kinesis, DynamoDB Streams)
   */
  failureSequence?(itemIdentifier: unknown, shardId: string): string | undefined;
}

/** What became of one batch. */
export interface BatchLog {
  readonly shard: string;
  /** The batch's sequence numbers, in order. */
  readonly sequences: readonly string[];
  /** `ok`: done; `partial`: resumes at `resumeAt`; `threw` and `invalid`: the whole batch comes again. */
  readonly outcome: 'ok' | 'partial' | 'threw' | 'invalid';
  readonly resumeAt?: string;
}

/** Options of {@link EventSourceMapping}. */
export interface EventSourceMappingOptions<R> {
  readonly reader: ShardReader<R>;
  /** The function: resolves with its answer, rejects when it throws, times out or its instance dies. */
  readonly invoke: (event: unknown) => Promise<unknown>;
  /** Records per batch at most (`BatchSize`). @default 100 */
  readonly batchSize?: number;
  /** Where a shard without a checkpoint starts (`StartingPosition`). @default TRIM_HORIZON */
  readonly startingPosition?: Position;
  /** The mapping gives up (and says so in `failure`) after this long, ms. @default 120_000 */
  readonly deadlineMs?: number;
  /** The mapping gives up after this many invocations. @default 10_000 */
  readonly maxInvocations?: number;
  /** How long an empty shard waits before polling again, ms (Lambda polls each shard about once a second). @default 25 */
  readonly pollIntervalMs?: number;
}

/**
 * A running event source mapping: `start()`, then wait for what the test expects (the side effects table),
 * then `stop()`. `failure` holds why it gave up, if it did.
 *
 * @example
 * const mapping = new EventSourceMapping({ reader: kinesisReader(kinesis, 'jobs'), invoke: (event) => handler(event, context) });
 * mapping.start();
 * await until(() => done(), { mapping });
 * await mapping.stop();
 */
export class EventSourceMapping<R> {
  readonly #options: EventSourceMappingOptions<R>;
  readonly #started = new Set<string>();
  readonly #finished = new Set<string>();
  readonly #loops: Promise<void>[] = [];
  #stopping = false;
  #deadline = 0;
  #discovering: Promise<void> | undefined;
  /** Every batch, in the order they were answered. */
  readonly batches: BatchLog[] = [];
  /** How often each record (`<shard>/<sequence number>`) was delivered to the function. */
  readonly deliveries = new Map<string, number>();
  invocations = 0;
  /** Why the mapping gave up: its deadline, its invocation limit, or an error of the stream itself. */
  failure: Error | undefined;

  constructor(options: EventSourceMappingOptions<R>) {
    this.#options = options;
  }

  start(): void {
    this.#deadline = Date.now() + (this.#options.deadlineMs ?? 120_000);
    this.#discover();
  }

  /** Stops polling; an invocation in flight is answered first, as Lambda would. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#discovering;
    while (this.#loops.length > 0) await Promise.all(this.#loops.splice(0));
  }

  /**
   * Whether every one of `records` records was delivered and each shard's last batch succeeded: the mapping has
   * checkpointed past them all (the test can stop it).
   */
  caughtUp(records: number): boolean {
    if (this.deliveries.size < records) return false;
    const last = new Map<string, BatchLog>();
    for (const batch of this.batches) last.set(batch.shard, batch);
    return [...last.values()].every((batch) => batch.outcome === 'ok');
  }

  /** The batches that came back with failures or threw. */
  get retries(): { partial: number; whole: number } {
    let partial = 0;
    let whole = 0;
    for (const batch of this.batches) {
      if (batch.outcome === 'partial') partial += 1;
      else if (batch.outcome !== 'ok') whole += 1;
    }
    return { partial, whole };
  }

  #discover(): void {
    const discovery = (async () => {
      try {
        const shards = await this.#options.reader.shards();
        for (const shard of shards) {
          if (this.#stopping || this.#started.has(shard.id)) continue;
          // A child shard's records follow its parent's: read it once the parent is read to its end.
          const parentPending =
            shard.parent !== undefined &&
            shards.some((other) => other.id === shard.parent) &&
            !this.#finished.has(shard.parent);
          if (parentPending) continue;
          this.#started.add(shard.id);
          this.#loops.push(this.#poll(shard.id));
        }
      } catch (error) {
        this.failure ??= error as Error;
      }
    })();
    this.#discovering = discovery;
  }

  #giveUp(reason: string): boolean {
    this.failure ??= new Error(reason);
    return true;
  }

  #over(): boolean {
    if (this.#stopping || this.failure !== undefined) return true;
    const { maxInvocations = 10_000, deadlineMs = 120_000 } = this.#options;
    if (Date.now() > this.#deadline)
      return this.#giveUp(`the mapping ran past its ${deadlineMs} ms deadline`);
    if (this.invocations >= maxInvocations)
      return this.#giveUp(`the mapping reached ${maxInvocations} invocations`);
    return false;
  }

  async #poll(shardId: string): Promise<void> {
    const { reader, invoke, batchSize = 100, pollIntervalMs = 25 } = this.#options;
    let position: Position = this.#options.startingPosition ?? { type: 'TRIM_HORIZON' };
    let iterator: string | undefined;
    let retryDelay = 10;
    // After a retry the next batch must start at the checkpoint: a stream that skips it would hide a record.
    let mustStartAt: string | undefined;
    while (!this.#over()) {
      let batch: { records: readonly R[]; next: string | undefined };
      try {
        iterator ??= await reader.iterator(shardId, position);
        batch = await reader.read(iterator, batchSize);
      } catch (error) {
        this.failure ??= error as Error;
        return;
      }
      if (batch.records.length === 0) {
        if (batch.next === undefined) break;
        iterator = batch.next;
        await pause(pollIntervalMs);
        continue;
      }
      const sequences = batch.records.map((record) => reader.sequence(record));
      if (mustStartAt !== undefined && sequences[0] !== mustStartAt) {
        this.failure ??= new Error(
          `shard ${shardId} resumed at ${sequences[0]}, not at its checkpoint ${mustStartAt}`,
        );
        return;
      }
      for (const sequence of sequences) {
        const id = `${shardId}/${sequence}`;
        this.deliveries.set(id, (this.deliveries.get(id) ?? 0) + 1);
      }
      this.invocations += 1;
      let answer: unknown;
      let threw = false;
      try {
        answer = await invoke(reader.event(shardId, batch.records));
      } catch {
        threw = true;
      }
      const resumeAt = threw
        ? (sequences[0] as string)
        : lowestReported(answer, sequences, (id) =>
            reader.failureSequence === undefined
              ? typeof id === 'string'
                ? id
                : undefined
              : reader.failureSequence(id, shardId),
          );
      if (resumeAt === undefined) {
        this.batches.push({ shard: shardId, sequences, outcome: 'ok' });
        position = { type: 'AFTER_SEQUENCE_NUMBER', sequence: sequences[sequences.length - 1] as string };
        iterator = batch.next;
        retryDelay = 10;
        mustStartAt = undefined;
        if (iterator === undefined) break;
        continue;
      }
      const outcome = threw ? 'threw' : resumeAt === null ? 'invalid' : 'partial';
      const at = resumeAt ?? (sequences[0] as string);
      this.batches.push({ shard: shardId, sequences, outcome, resumeAt: at });
      position = { type: 'AT_SEQUENCE_NUMBER', sequence: at };
      mustStartAt = at;
      iterator = undefined;
      // A short, growing pause between retries of one shard, so a poisoned record does not spin the CPU.
      await pause(retryDelay);
      retryDelay = Math.min(retryDelay * 2, 250);
    }
    if (!this.#stopping && this.failure === undefined) {
      this.#finished.add(shardId);
      this.#discover();
    }
  }
}

/**
 * The sequence number a partial batch response resumes at: `undefined` when the batch succeeded, `null` when
 * the answer names something that is not a record of the batch (Lambda then retries the whole batch).
 */
function lowestReported(
  answer: unknown,
  sequences: readonly string[],
  sequenceOf: (itemIdentifier: unknown) => string | undefined,
): string | null | undefined {
  if (answer === undefined || answer === null) return undefined;
  const failures = (answer as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return undefined;
  if (!Array.isArray(failures)) return null;
  if (failures.length === 0) return undefined;
  let lowest: bigint | undefined;
  for (const failure of failures) {
    const id = sequenceOf((failure as { itemIdentifier?: unknown } | null)?.itemIdentifier);
    if (id === undefined || !sequences.includes(id)) return null;
    if (lowest === undefined || BigInt(id) < lowest) lowest = BigInt(id);
  }
  return sequences.find((sequence) => BigInt(sequence) === lowest) ?? null;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `condition` (with a growing interval up to 100 ms) until it holds. Throws after `timeoutMs`, or as soon
 * as one of `mappings` gave up, with its reason.
 *
 * @example
 * await until(async () => (await readEffects(client, table)).size === 10, { mappings: [mapping] });
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; mappings?: readonly { failure: Error | undefined }[]; what?: string } = {},
): Promise<void> {
  const { timeoutMs = 90_000, mappings = [], what = 'the condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let interval = 5;
  for (;;) {
    if (await condition()) return;
    const failed = mappings.find((mapping) => mapping.failure !== undefined);
    if (failed !== undefined) throw new Error(`waiting for ${what}: ${failed.failure?.message}`);
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await pause(interval);
    interval = Math.min(interval * 2, 100);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Kinesis on kinesalite.

/** A kinesalite server in this process on 127.0.0.1 and a client for it. */
export interface Kinesalite {
  readonly endpoint: string;
  readonly client: KinesisClient;
  /** Creates a stream and resolves once it is `ACTIVE`. */
  createStream(name: string, shards: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts kinesalite on a free port of 127.0.0.1 (the OS picks it), with streams that become active at once.
 *
 * @example
 * const kinesis = await startKinesalite();
 * await kinesis.createStream('jobs', 2);
 * await kinesis.stop();
 */
export async function startKinesalite(): Promise<Kinesalite> {
  const server: Server = kinesalite({
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 100,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('kinesalite has no TCP address');
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = kinesisClient(endpoint);
  return {
    endpoint,
    client,
    async createStream(name, shards) {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      await until(
        async () => {
          const { StreamDescription } = await client.send(new DescribeStreamCommand({ StreamName: name }));
          return StreamDescription?.StreamStatus === 'ACTIVE';
        },
        { timeoutMs: 30_000, what: `stream ${name} to be ACTIVE` },
      );
    },
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A Kinesis client for kinesalite: HTTP/1.1, since the SDK's default HTTP/2 handler fails against it. */
export function kinesisClient(endpoint: string): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: new NodeHttpHandler(),
  });
}

/**
 * Reads a Kinesis stream shard by shard and builds the `KinesisStreamEvent` Lambda delivers: `eventID`
 * `<shardId>:<sequenceNumber>`, the data base64, the partition key and the arrival time in seconds.
 */
export function kinesisReader(client: KinesisClient, streamName: string): ShardReader<KinesisSdkRecord> {
  let streamArn = `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`;
  return {
    async shards() {
      const { StreamDescription } = await client.send(new DescribeStreamCommand({ StreamName: streamName }));
      streamArn = StreamDescription?.StreamARN ?? streamArn;
      return (StreamDescription?.Shards ?? []).map((shard) => ({
        id: shard.ShardId as string,
        ...(shard.ParentShardId === undefined ? {} : { parent: shard.ParentShardId }),
      }));
    },
    async iterator(shardId, from) {
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shardId,
          ShardIteratorType: from.type,
          ...(from.type === 'TRIM_HORIZON' ? {} : { StartingSequenceNumber: from.sequence }),
        }),
      );
      return ShardIterator as string;
    },
    async read(iterator, limit) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
      return { records: page.Records ?? [], next: page.NextShardIterator };
    },
    sequence: (record) => record.SequenceNumber as string,
    event: (shardId, records): KinesisStreamEvent => ({
      Records: records.map(
        (record): KinesisStreamRecord => ({
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: record.PartitionKey as string,
            sequenceNumber: record.SequenceNumber as string,
            data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
            approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
          },
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: `${shardId}:${record.SequenceNumber}`,
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: 'arn:aws:iam::000000000000:role/stream-consumer',
          awsRegion: 'us-east-1',
          eventSourceARN: streamArn,
        }),
      ),
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------
// DynamoDB Streams on DynamoDB Local.

/**
 * Reads a DynamoDB stream (DescribeStream, GetShardIterator, GetRecords on DynamoDB Local's endpoint) and
 * builds the `DynamoDBStreamEvent` Lambda delivers: the same record with its creation time in epoch seconds,
 * binary values base64 and the stream's ARN as `eventSourceARN`.
 */
export function dynamodbStreamReader(
  client: DynamoDBStreamsClient,
  streamArn: string,
): ShardReader<DynamoDBStreamSdkRecord> {
  return {
    async shards() {
      const shards: ShardInfo[] = [];
      let start: string | undefined;
      do {
        const { StreamDescription } = await client.send(
          new DescribeDynamoDBStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }),
        );
        for (const shard of StreamDescription?.Shards ?? []) {
          shards.push({
            id: shard.ShardId as string,
            ...(shard.ParentShardId === undefined ? {} : { parent: shard.ParentShardId }),
          });
        }
        start = StreamDescription?.LastEvaluatedShardId;
      } while (start !== undefined);
      return shards;
    },
    async iterator(shardId, from) {
      const { ShardIterator } = await client.send(
        new GetDynamoDBStreamShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: from.type,
          ...(from.type === 'TRIM_HORIZON' ? {} : { SequenceNumber: from.sequence }),
        }),
      );
      return ShardIterator as string;
    },
    async read(iterator, limit) {
      const page = await client.send(
        new GetDynamoDBStreamRecordsCommand({ ShardIterator: iterator, Limit: limit }),
      );
      return { records: page.Records ?? [], next: page.NextShardIterator };
    },
    sequence: (record) => record.dynamodb?.SequenceNumber as string,
    event: (_shardId, records): DynamoDBStreamEvent => ({
      Records: records.map((record): DynamoDBRecord => {
        const change = record.dynamodb ?? {};
        return {
          eventID: record.eventID as string,
          eventName: record.eventName as DynamoDBRecord['eventName'],
          eventVersion: record.eventVersion ?? '1.1',
          eventSource: 'aws:dynamodb',
          awsRegion: record.awsRegion ?? 'us-east-1',
          eventSourceARN: streamArn,
          dynamodb: {
            ...(change.ApproximateCreationDateTime === undefined
              ? {}
              : { ApproximateCreationDateTime: change.ApproximateCreationDateTime.getTime() / 1000 }),
            ...(change.Keys === undefined ? {} : { Keys: lambdaImage(change.Keys) }),
            ...(change.NewImage === undefined ? {} : { NewImage: lambdaImage(change.NewImage) }),
            ...(change.OldImage === undefined ? {} : { OldImage: lambdaImage(change.OldImage) }),
            SequenceNumber: change.SequenceNumber as string,
            ...(change.SizeBytes === undefined ? {} : { SizeBytes: change.SizeBytes }),
            ...(change.StreamViewType === undefined ? {} : { StreamViewType: change.StreamViewType }),
          },
        };
      }),
    }),
  };
}

type LambdaImage = NonNullable<NonNullable<DynamoDBRecord['dynamodb']>['NewImage']>;

/** An image as Lambda's JSON carries it: binary values (bytes in the SDK) as base64 text. */
function lambdaImage(image: Record<string, StreamAttributeValue>): LambdaImage {
  return JSON.parse(
    JSON.stringify(image, (_key, value: unknown) =>
      value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
    ),
  ) as LambdaImage;
}

// ---------------------------------------------------------------------------------------------------------
// Kafka: a topic kept in this process (no Kafka broker runs here), read with the same checkpoint rules.

/** One record as a producer writes it to a {@link KafkaTopic}. */
export interface KafkaMessage {
  readonly key?: string;
  readonly value: string;
  readonly headers?: Readonly<Record<string, string>>;
}

interface StoredKafkaRecord extends KafkaMessage {
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
}

/**
 * A Kafka topic's partitions as append-only logs, and a reader that delivers them as Lambda's MSK event
 * source mapping does: `records` by `<topic>-<partition>`, key, value and header values base64 or bytes,
 * resuming each partition at the offset a `{ partition, offset }` failure names.
 *
 * @example
 * const topic = new KafkaTopic('payments', 3);
 * topic.append(0, { key: 'p-1', value: '{"paymentId":"p-1"}', headers: { 'org-id': 'acme' } });
 * const mapping = new EventSourceMapping({ reader: topic.reader(), invoke });
 */
export class KafkaTopic {
  readonly #logs: StoredKafkaRecord[][];

  constructor(
    readonly name: string,
    partitions: number,
  ) {
    this.#logs = Array.from({ length: partitions }, () => []);
  }

  /** Appends to a partition and returns the record's offset. */
  append(partition: number, message: KafkaMessage): number {
    const log = this.#logs[partition];
    if (log === undefined) throw new Error(`topic ${this.name} has no partition ${partition}`);
    const offset = log.length;
    log.push({ ...message, partition, offset, timestamp: Date.now() });
    return offset;
  }

  reader(): ShardReader<StoredKafkaRecord> {
    const topic = this.name;
    const logs = this.#logs;
    const partitionOf = (shardId: string) => Number(shardId.slice(topic.length + 1));
    // An iterator is `<partition>:<next offset>`; a Kafka partition never closes.
    return {
      shards: async () => logs.map((_, partition) => ({ id: `${topic}-${partition}` })),
      async iterator(shardId, from) {
        const offset =
          from.type === 'TRIM_HORIZON'
            ? 0
            : Number(from.sequence) + (from.type === 'AFTER_SEQUENCE_NUMBER' ? 1 : 0);
        return `${partitionOf(shardId)}:${offset}`;
      },
      async read(iterator, limit) {
        const [partition, offset] = iterator.split(':').map(Number) as [number, number];
        const records = (logs[partition] ?? []).slice(offset, offset + limit);
        return { records, next: `${partition}:${offset + records.length}` };
      },
      sequence: (record) => String(record.offset),
      failureSequence: (itemIdentifier, shardId) => {
        const failure = itemIdentifier as { partition?: unknown; offset?: unknown } | null;
        return failure?.partition === shardId && typeof failure.offset === 'number'
          ? String(failure.offset)
          : undefined;
      },
      event: (shardId, records) => ({
        eventSource: 'aws:kafka',
        eventSourceArn: `arn:aws:kafka:us-east-1:000000000000:cluster/local/${topic}`,
        bootstrapServers: 'b-1.local:9092',
        records: {
          [shardId]: records.map((record) => ({
            topic,
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp,
            timestampType: 'CREATE_TIME',
            ...(record.key === undefined ? {} : { key: Buffer.from(record.key).toString('base64') }),
            value: Buffer.from(record.value).toString('base64'),
            headers: Object.entries(record.headers ?? {}).map(([name, value]) => ({
              [name]: [...Buffer.from(value)],
            })),
          })),
        },
      }),
    };
  }
}
