/**
 * The stream sides of the bench: the same Kinesis and DynamoDB Streams batches handled by idemkit
 * (`kinesisJobs`, `dynamodbStreamJobs`) and by Powertools (`BatchProcessor` with `EventType.KinesisDataStreams`
 * or `EventType.DynamoDBStreams`, `processPartialResponse`, and `makeIdempotent` around the record handler).
 */
import { readFileSync } from 'node:fs';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import type {
  Context,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import type { Telemetry } from '../../src/core/telemetry.js';
import { dynamodbStreamJobKeys, dynamodbStreamJobs, streamImage } from '../../src/dynamodb-streams/index.js';
import { kinesisData, kinesisJobKeys, kinesisJobs } from '../../src/kinesis/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import type { Side } from './sides.js';

/** The stream sources measured. */
export const STREAM_SOURCES = ['kinesis', 'dynamodb-streams'] as const;
export type StreamSource = (typeof STREAM_SOURCES)[number];

/** One change a producer wrote: which order, for which tenant, and what it says. */
export interface OrderChange {
  readonly orderId: string;
  readonly orgId: string;
  readonly total: number;
}

/** What both sides answer: the identifiers of the records they report failed. */
export interface StreamBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

export type InvokeStream = (event: unknown, context: Context) => Promise<StreamBatchResponse>;

const RECORD_LIFETIME_S = 86_400;

const KINESIS_TEMPLATE = (
  JSON.parse(
    readFileSync(new URL('../../events/kinesis-batch.json', import.meta.url), 'utf8'),
  ) as KinesisStreamEvent
).Records[0] as KinesisStreamRecord;
const DYNAMODB_TEMPLATE = (
  JSON.parse(
    readFileSync(new URL('../../events/dynamodb-stream-batch.json', import.meta.url), 'utf8'),
  ) as DynamoDBStreamEvent
).Records[0] as DynamoDBRecord;

/** Sequence numbers grow across the run, as a shard's do, so no two records of a run share one. */
let nextSequence = 0n;
function sequenceNumber(): string {
  nextSequence++;
  return (
    49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n + nextSequence
  ).toString();
}

/**
 * A batch of the source's records, one per change, in order, from `events/` samples. The order's id is the
 * partition key (Kinesis) or the item key (DynamoDB Streams), so each order is one ordering unit.
 */
export function streamBatch(source: StreamSource, changes: readonly OrderChange[]): { Records: unknown[] } {
  if (source === 'kinesis') {
    return {
      Records: changes.map((change): KinesisStreamRecord => {
        const sequence = sequenceNumber();
        return {
          ...KINESIS_TEMPLATE,
          kinesis: {
            ...KINESIS_TEMPLATE.kinesis,
            partitionKey: change.orderId,
            sequenceNumber: sequence,
            data: Buffer.from(JSON.stringify(change), 'utf8').toString('base64'),
          },
          eventID: `shardId-000000000000:${sequence}`,
        };
      }),
    };
  }
  return {
    Records: changes.map((change): DynamoDBRecord => {
      const sequence = sequenceNumber();
      return {
        ...DYNAMODB_TEMPLATE,
        eventID: `ddb-${sequence}`,
        eventName: 'MODIFY',
        dynamodb: {
          ...DYNAMODB_TEMPLATE.dynamodb,
          Keys: { orderId: { S: change.orderId } },
          SequenceNumber: sequence,
          NewImage: {
            orderId: { S: change.orderId },
            orgId: { S: change.orgId },
            status: { S: 'PAID' },
            total: { N: String(change.total) },
          },
        },
      };
    }),
  };
}

/** The same job both sides run once per order: what a consumer would ship or index. */
async function shipOrder(
  change: OrderChange | undefined,
  onRun: () => void,
): Promise<{ shipped: string | undefined }> {
  onRun();
  return { shipped: change?.orderId };
}

function kinesisChange(record: KinesisStreamRecord): OrderChange {
  return JSON.parse(kinesisData(record)) as OrderChange;
}

function dynamodbChange(record: DynamoDBRecord): OrderChange | undefined {
  return streamImage(record.dynamodb?.NewImage) as OrderChange | undefined;
}

/**
 * A stream handler of `side` on its own table. Both key on (org, order id) and check the change on a
 * duplicate: idemkit by its default fingerprint (the data; the keys and new image), Powertools by
 * `payloadValidationJmesPath` on the same parts.
 */
export function streamHandler(
  side: Side,
  source: StreamSource,
  options: {
    readonly client: DynamoDBClient;
    readonly tableName: string;
    /** Called each time the job itself runs (the side effect a duplicate must not repeat). */
    readonly onRun?: () => void;
    /** idemkit only. @default idemkit's default telemetry */
    readonly telemetry?: Telemetry;
  },
): InvokeStream {
  const onRun = options.onRun ?? (() => {});
  if (side === 'idemkit') {
    const common = {
      store: new DynamoDBStore({ tableName: options.tableName, client: options.client }),
      scope: 'ship-order',
      expiresAfterSeconds: RECORD_LIFETIME_S,
      ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
    };
    const handler: InvokeStream =
      source === 'kinesis'
        ? (kinesisJobs({
            ...common,
            org: (record) => kinesisChange(record).orgId,
            jobKey: kinesisJobKeys.fromData((change) => (change as OrderChange).orderId),
            processRecord: (record) => shipOrder(kinesisChange(record), onRun),
          }) as unknown as InvokeStream)
        : (dynamodbStreamJobs({
            ...common,
            org: (record) => dynamodbChange(record)?.orgId,
            jobKey: dynamodbStreamJobKeys.fromNewImage((image) => image.orderId as string),
            processRecord: (record) => shipOrder(dynamodbChange(record), onRun),
          }) as unknown as InvokeStream);
    return middy(handler) as unknown as InvokeStream;
  }
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: options.tableName,
    awsSdkV3Client: options.client,
  });
  const config = new IdempotencyConfig(
    source === 'kinesis'
      ? {
          eventKeyJmesPath:
            '[powertools_json(powertools_base64(kinesis.data)).orgId, powertools_json(powertools_base64(kinesis.data)).orderId]',
          payloadValidationJmesPath: 'powertools_json(powertools_base64(kinesis.data))',
          expiresAfterSeconds: RECORD_LIFETIME_S,
        }
      : {
          eventKeyJmesPath: '[dynamodb.NewImage.orgId.S, dynamodb.NewImage.orderId.S]',
          payloadValidationJmesPath: '[dynamodb.Keys, dynamodb.NewImage]',
          expiresAfterSeconds: RECORD_LIFETIME_S,
        },
  );
  const processor = new BatchProcessor(
    source === 'kinesis' ? EventType.KinesisDataStreams : EventType.DynamoDBStreams,
  );
  const processIdempotently = makeIdempotent(
    async (record: KinesisStreamRecord | DynamoDBRecord) =>
      shipOrder(
        source === 'kinesis'
          ? kinesisChange(record as KinesisStreamRecord)
          : dynamodbChange(record as DynamoDBRecord),
        onRun,
      ),
    { persistenceStore, config },
  );
  return middy(async (event: KinesisStreamEvent | DynamoDBStreamEvent, context: Context) => {
    config.registerLambdaContext(context);
    return processPartialResponse(event, processIdempotently, processor, { context });
  }) as unknown as InvokeStream;
}
