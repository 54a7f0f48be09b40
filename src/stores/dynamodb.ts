import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { IdempotencyCorruptRecordError } from '../core/errors.js';
import type { ClaimOptions } from '../core/record-state.js';
import {
  type ClaimResult,
  type CompletionUpdate,
  type IdempotencyRecord,
  RecordStatus,
  ResultDroppedReason,
  type Store,
} from '../core/types.js';

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

type Item = Record<string, AttributeValue>;

// `isClaimable` (src/core/record-state.ts) as a condition: absent, expired (in whole seconds), or a stuck lease;
// the store contract suite checks that both agree.
const CLAIM_CONDITION =
  'attribute_not_exists(pk) OR expiresAt < :nowS OR (#status = :inProgress AND leaseUntil < :nowMs)';
const OWNED = 'leaseToken = :token AND #status = :inProgress';

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

function encodeResultAttribute(result: string | Uint8Array): AttributeValue {
  return typeof result === 'string' ? { S: result } : { B: result };
}

/** Marshals a record; attributes that are `undefined` are left out. */
export function toItem(record: IdempotencyRecord): Item {
  const item: Item = {
    pk: { S: record.pk },
    org: { S: record.org },
    scope: { S: record.scope },
    status: { S: record.status },
    expiresAt: { N: String(record.expiresAt) },
    fingerprint: { S: record.fingerprint },
    createdAt: { N: String(record.createdAt) },
    attempt: { N: String(record.attempt) },
    v: { N: String(record.v) },
  };
  if (record.leaseUntil !== undefined) item.leaseUntil = { N: String(record.leaseUntil) };
  if (record.leaseToken !== undefined) item.leaseToken = { S: record.leaseToken };
  if (record.owner !== undefined) item.owner = { S: record.owner };
  if (record.result !== undefined) item.result = encodeResultAttribute(record.result);
  if (record.resultDropped !== undefined) item.resultDropped = { S: record.resultDropped };
  if (record.completedAt !== undefined) item.completedAt = { N: String(record.completedAt) };
  return item;
}

/**
 * Unmarshals a record read from the table. Optional attributes the item lacks stay absent (not present as
 * `undefined`), so a record read back equals the record written. An item that lacks a required attribute, or
 * carries one of the wrong type or an unknown status, throws {@link IdempotencyCorruptRecordError}: a damaged
 * item must never read as a claimable lease.
 */
export function fromItem(item: Item): IdempotencyRecord {
  const problems: string[] = [];
  const number = (name: string, required: boolean) => {
    const raw = item[name]?.N;
    if (raw === undefined || !Number.isFinite(Number(raw))) {
      if (required || item[name] !== undefined) problems.push(name);
      return undefined;
    }
    return Number(raw);
  };
  const string = (name: string, required: boolean) => {
    const value = item[name]?.S;
    if (value === undefined && (required || item[name] !== undefined)) problems.push(name);
    return value;
  };
  const status = string('status', true);
  if (status !== undefined && !STATUSES.has(status)) problems.push('status');
  const dropped = string('resultDropped', false);
  if (dropped !== undefined && !DROPPED_REASONS.has(dropped)) problems.push('resultDropped');
  if (item.result !== undefined && item.result.S === undefined && item.result.B === undefined)
    problems.push('result');
  const record = {
    pk: string('pk', true),
    org: string('org', true),
    scope: string('scope', true),
    status,
    expiresAt: number('expiresAt', true),
    fingerprint: string('fingerprint', true),
    createdAt: number('createdAt', true),
    attempt: number('attempt', true),
    v: number('v', true),
    leaseUntil: number('leaseUntil', false),
    leaseToken: string('leaseToken', false),
    owner: string('owner', false),
    result: item.result?.S ?? item.result?.B,
    resultDropped: dropped,
    completedAt: number('completedAt', false),
  };
  if (
    record.status === RecordStatus.InProgress &&
    (record.leaseUntil === undefined || record.leaseToken === undefined)
  )
    problems.push(record.leaseUntil === undefined ? 'leaseUntil' : 'leaseToken');
  if (problems.length > 0) throw new IdempotencyCorruptRecordError([...new Set(problems)]);
  return Object.fromEntries(
    Object.entries(record).filter(([, value]) => value !== undefined),
  ) as unknown as IdempotencyRecord;
}

const STATUSES: ReadonlySet<string> = new Set(Object.values(RecordStatus));
const DROPPED_REASONS: ReadonlySet<string> = new Set(Object.values(ResultDroppedReason));
