import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ClaimOptions } from '../core/record-state.js';
import type { ClaimResult, CompletionUpdate, IdempotencyRecord, Store } from '../core/types.js';
import { encodeResultAttribute, fromItem, type Item, toItem } from './dynamodb-item.js';

/**
 * Options of {@link DynamoDBStore}.
 *
 * @example
 * { tableName: 'idempotency', client: new DynamoDBClient({ region: 'eu-west-1' }) }
 */
export interface DynamoDBStoreOptions {
  /** The table: partition key `pk` (String), TTL on `expiresAt`. The store never creates it. */
  readonly tableName: string;
  /**
   * The low-level client. Build it once at cold start and share it.
   * @default a new `DynamoDBClient(clientConfig)`
   */
  readonly client?: DynamoDBClient;
  /**
   * Configuration for the client the store builds when `client` is not given.
   * @default {}
   */
  readonly clientConfig?: DynamoDBClientConfig;
}

// `isClaimable` (src/core/record-state.ts) as a condition: absent, expired (in whole seconds), or a stuck lease;
// the store contract suite checks that both agree.
const CLAIM_CONDITION =
  'attribute_not_exists(pk) OR expiresAt < :nowS OR (#status = :inProgress AND leaseUntil < :nowMs)';
const OWNED = 'leaseToken = :token AND #status = :inProgress';
const BATCH_GET_LIMIT = 100;
const BATCH_GET_BACKOFF_MS = 10;

/**
 * The DynamoDB store: one conditional write per state change (docs/protocol.md section 3). It marshals records
 * itself, because every attribute has a known type; results arrive already encoded by the engine, so no
 * `Date`, `undefined` or class instance in a result can make a write throw after the side effect.
 *
 * @example
 * const store = new DynamoDBStore({ tableName: process.env.IDEMPOTENCY_TABLE! });
 */
export class DynamoDBStore implements Store {
  readonly tableName: string;
  readonly client: DynamoDBClient;

  constructor(options: DynamoDBStoreOptions) {
    if (typeof options?.tableName !== 'string' || options.tableName.trim() === '') {
      throw new TypeError(
        `Expected \`tableName\` of \`DynamoDBStore\` to be the table's name, got ${JSON.stringify(options?.tableName)}.`,
      );
    }
    this.tableName = options.tableName;
    this.client = options.client ?? new DynamoDBClient(options.clientConfig ?? {});
  }

  async claim(record: IdempotencyRecord, options: ClaimOptions): Promise<ClaimResult> {
    const values: Item = {
      ':nowS': { N: String(Math.floor(options.nowMs / 1000)) },
      ':nowMs': { N: String(options.nowMs) },
      ':inProgress': { S: 'IN_PROGRESS' },
    };
    let condition = CLAIM_CONDITION;
    if (options.failedToken !== undefined) {
      condition += ' OR (#status = :failed AND leaseToken = :failedToken)';
      values[':failed'] = { S: 'FAILED' };
      values[':failedToken'] = { S: options.failedToken };
    }
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(record),
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Servers that ignore ReturnValuesOnConditionCheckFailure cost one consistent read; the outcome is the same.
      const existing = error.Item === undefined ? await this.get(record.pk) : fromItem(error.Item);
      return { claimed: false, existing };
    }
  }

  async get(pk: string): Promise<IdempotencyRecord | undefined> {
    const output = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: pk } }, ConsistentRead: true }),
    );
    return output.Item === undefined ? undefined : fromItem(output.Item);
  }

  async getMany(pks: readonly string[]): Promise<ReadonlyMap<string, IdempotencyRecord>> {
    const found = new Map<string, IdempotencyRecord>();
    const unique = [...new Set(pks)];
    // BatchGetItem reads at most 100 keys per call; keys it could not read in time come back to be asked again.
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      let keys: Item[] | undefined = unique
        .slice(start, start + BATCH_GET_LIMIT)
        .map((pk) => ({ pk: { S: pk } }));
      for (let round = 0; keys !== undefined && keys.length > 0; round++) {
        if (round > 0) await sleep(BATCH_GET_BACKOFF_MS * 2 ** Math.min(round, 6));
        const output: BatchGetItemCommandOutput = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } },
          }),
        );
        for (const item of output.Responses?.[this.tableName] ?? []) {
          const record = fromItem(item);
          found.set(record.pk, record);
        }
        keys = output.UnprocessedKeys?.[this.tableName]?.Keys;
      }
    }
    return found;
  }

  async complete(pk: string, leaseToken: string, update: CompletionUpdate): Promise<boolean> {
    const values: Item = {
      ':token': { S: leaseToken },
      ':inProgress': { S: 'IN_PROGRESS' },
      ':status': { S: update.status },
      ':completedAt': { N: String(update.completedAt) },
      ':expiresAt': { N: String(update.expiresAt) },
    };
    const sets = ['#status = :status', 'completedAt = :completedAt', 'expiresAt = :expiresAt'];
    if (update.result !== undefined) {
      sets.push('#result = :result');
      values[':result'] = encodeResultAttribute(update.result);
    }
    if (update.resultDropped !== undefined) {
      sets.push('resultDropped = :dropped');
      values[':dropped'] = { S: update.resultDropped };
    }
    return this.#fenced(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: pk } },
        UpdateExpression: `SET ${sets.join(', ')} REMOVE leaseUntil`,
        ConditionExpression: OWNED,
        ExpressionAttributeNames: {
          '#status': 'status',
          ...(update.result === undefined ? {} : { '#result': 'result' }),
        },
        ExpressionAttributeValues: values,
      }),
    );
  }

  async release(pk: string, leaseToken: string): Promise<boolean> {
    return this.#fenced(
      new DeleteItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: pk } },
        ConditionExpression: OWNED,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':token': { S: leaseToken }, ':inProgress': { S: 'IN_PROGRESS' } },
      }),
    );
  }

  async renew(pk: string, leaseToken: string, leaseUntil: number): Promise<boolean> {
    return this.#fenced(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: pk } },
        UpdateExpression: 'SET leaseUntil = :leaseUntil',
        ConditionExpression: OWNED,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':token': { S: leaseToken },
          ':inProgress': { S: 'IN_PROGRESS' },
          ':leaseUntil': { N: String(leaseUntil) },
        },
      }),
    );
  }

  async #fenced(command: UpdateItemCommand | DeleteItemCommand): Promise<boolean> {
    try {
      // The union is sent through one call site; the SDK's overloads do not accept a union.
      await this.client.send(command as UpdateItemCommand);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
