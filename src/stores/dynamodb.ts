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
import { formatResultRef } from '../core/large-result.js';
import type { ClaimOptions } from '../core/record-state.js';
import type { ClaimResult, CompletionUpdate, IdempotencyRecord, Store } from '../core/types.js';
import {
  type AttributeNames,
  type Compiled,
  compile,
  encodeResultAttribute,
  fromItem,
  type Item,
  type ItemLayout,
  itemLayout,
  keyOf,
  type SortKey,
  toItem,
} from './dynamodb-item.js';
import { retryOnReplicatedWriteConflict } from './dynamodb-retry.js';

export type { AttributeNames, RecordField, SortKey } from './dynamodb-item.js';

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
  /**
   * The attribute names of an existing table, by record field (`pk` is the partition key, `expiresAt` the TTL
   * attribute); fields left out keep their own names. The partition key still holds `<org>#<scope>#<digest>`,
   * so IAM `dynamodb:LeadingKeys` fencing on `<org>#*` keeps working.
   * @default idemkit's schema: every field under its own name
   */
  readonly attributes?: AttributeNames;
  /**
   * The sort key of a single-table design, and the value every idempotency record carries in it (a constant such
   * as `'IDEMPOTENCY'`, or a function of the record's `pk`).
   * @default no sort key
   */
  readonly sortKey?: SortKey;
  /**
   * How the store waits before asking again for keys a batch read left unprocessed: tests record the waits
   * instead of sleeping.
   * @default `setTimeout` from `node:timers/promises`
   */
  readonly sleep?: (ms: number) => Promise<unknown>;
}

// `isClaimable` (src/core/record-state.ts) as a condition: absent, expired (in whole seconds), or a stuck lease;
// the store contract suite checks that both agree. `{field}` stands for the field's attribute (see `compile`).
const CLAIM_CONDITION =
  'attribute_not_exists({pk}) OR {expiresAt} < :nowS OR ({status} = :inProgress AND {leaseUntil} < :nowMs)';
const FAILED_TAKEOVER = ' OR ({status} = :failed AND {leaseToken} = :failedToken)';
const OWNED = '{leaseToken} = :token AND {status} = :inProgress';
const BATCH_GET_LIMIT = 100;
const BATCH_GET_BACKOFF_MS = 10;
// Waits before asking again for unprocessed keys, in one whole batch read: 20 ms doubling to 640 ms, 1.9 s in all.
const BATCH_GET_WAITS = 7;
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
  /** Where each record field lives in the table (attribute names, sort key). */
  readonly layout: ItemLayout;
  // Each template resolved once for the layout: a `compile` (regex replace) per write was ~5 % of a 1 KB first
  // execution's CPU (bench/analysis.md). The templates are a handful of constants, so the map stays small.
  readonly #compiled = new Map<string, Compiled>();
  readonly #sleep: (ms: number) => Promise<unknown>;

  constructor(options: DynamoDBStoreOptions) {
    if (typeof options?.tableName !== 'string' || options.tableName.trim() === '') {
      throw new TypeError(
        `Expected \`tableName\` of \`DynamoDBStore\` to be the table's name, got ${JSON.stringify(options?.tableName)}.`,
      );
    }
    this.tableName = options.tableName;
    this.client = options.client ?? new DynamoDBClient(options.clientConfig ?? {});
    this.layout = itemLayout(options.attributes, options.sortKey);
    this.#sleep = options.sleep ?? ((ms) => sleep(ms));
  }

  /** {@link compile} for this store's layout, resolved once per set of templates. */
  #compile(...templates: string[]): Compiled {
    // Stryker disable next-line StringLiteral: no two lists of this file's templates join to the same text
    const id = templates.join('\u0000');
    return this.#compiled.get(id) ?? this.#keep(id, compile(this.layout, ...templates));
  }

  #keep(id: string, compiled: Compiled): Compiled {
    // Shared by every command this store sends from now on, and read only.
    // Stryker disable next-line CallExpression: neither the store nor the SDK writes to the names
    Object.freeze(compiled.names);
    // Stryker disable next-line CallExpression: an entry never kept is compiled again, to the same expressions
    this.#compiled.set(id, compiled);
    return compiled;
  }

  async claim(record: IdempotencyRecord, options: ClaimOptions): Promise<ClaimResult> {
    const values: Item = {
      ':nowS': { N: String(Math.floor(options.nowMs / 1000)) },
      ':nowMs': { N: String(options.nowMs) },
      ':inProgress': { S: 'IN_PROGRESS' },
    };
    let template = CLAIM_CONDITION;
    if (options.failedToken !== undefined) {
      template += FAILED_TAKEOVER;
      values[':failed'] = { S: 'FAILED' };
      values[':failedToken'] = { S: options.failedToken };
    }
    const { expressions, names } = this.#compile(template);
    try {
      // MRSC: a write conflict with another Region was not applied; claim again (src/stores/dynamodb-retry.ts).
      await retryOnReplicatedWriteConflict(() =>
        this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: toItem(record, this.layout),
            ConditionExpression: expressions[0],
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return { claimed: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Servers that ignore ReturnValuesOnConditionCheckFailure cost one consistent read; the outcome is the same.
      const existing =
        error.Item === undefined ? await this.get(record.pk) : fromItem(error.Item, this.layout);
      return { claimed: false, existing };
    }
  }

  async get(pk: string): Promise<IdempotencyRecord | undefined> {
    const output = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: keyOf(pk, this.layout), ConsistentRead: true }),
    );
    return output.Item === undefined ? undefined : fromItem(output.Item, this.layout);
  }

  async getMany(pks: readonly string[]): Promise<ReadonlyMap<string, IdempotencyRecord>> {
    const found = new Map<string, IdempotencyRecord>();
    // BatchGetItem reads at most 100 keys per call; keys it could not read in time come back, and are asked for
    // again after a doubling wait, seven waits at most in the whole read. The read only spares writes: a key still
    // unread is left out, and its job is claimed as usual.
    let waits = 0;
    for (let rest = [...new Set(pks)]; rest.length > 0; rest = rest.slice(BATCH_GET_LIMIT)) {
      let keys: Item[] = rest.slice(0, BATCH_GET_LIMIT).map((pk) => keyOf(pk, this.layout));
      while (keys.length > 0) {
        const output: BatchGetItemCommandOutput = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } },
          }),
        );
        for (const item of output.Responses?.[this.tableName] ?? []) {
          const record = fromItem(item, this.layout);
          found.set(record.pk, record);
        }
        keys = output.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
        if (keys.length > 0) {
          if (waits === BATCH_GET_WAITS) break;
          waits += 1;
          await this.#sleep(BATCH_GET_BACKOFF_MS * 2 ** Math.min(waits, 6));
        }
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
    const sets = ['{status} = :status', '{completedAt} = :completedAt', '{expiresAt} = :expiresAt'];
    if (update.result !== undefined) {
      sets.push('{result} = :result');
      values[':result'] = encodeResultAttribute(update.result);
    }
    if (update.resultDropped !== undefined) {
      sets.push('{resultDropped} = :dropped');
      values[':dropped'] = { S: update.resultDropped };
    }
    if (update.resultRef !== undefined) {
      sets.push('{resultRef} = :resultRef');
      values[':resultRef'] = { S: formatResultRef(update.resultRef) };
    }
    if (update.fingerprint !== undefined) {
      sets.push('{fingerprint} = :fingerprint');
      values[':fingerprint'] = { S: update.fingerprint };
    }
    const { expressions, names } = this.#compile(`SET ${sets.join(', ')} REMOVE {leaseUntil}`, OWNED);
    return this.#fenced(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: keyOf(pk, this.layout),
        UpdateExpression: expressions[0],
        ConditionExpression: expressions[1],
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async release(pk: string, leaseToken: string): Promise<boolean> {
    const { expressions, names } = this.#compile(OWNED);
    return this.#fenced(
      new DeleteItemCommand({
        TableName: this.tableName,
        Key: keyOf(pk, this.layout),
        ConditionExpression: expressions[0],
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ':token': { S: leaseToken }, ':inProgress': { S: 'IN_PROGRESS' } },
      }),
    );
  }

  async renew(pk: string, leaseToken: string, leaseUntil: number, expiresAt?: number): Promise<boolean> {
    const sets = expiresAt === undefined ? '' : ', {expiresAt} = :expiresAt';
    const { expressions, names } = this.#compile(`SET {leaseUntil} = :leaseUntil${sets}`, OWNED);
    return this.#fenced(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: keyOf(pk, this.layout),
        UpdateExpression: expressions[0],
        ConditionExpression: expressions[1],
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: {
          ':token': { S: leaseToken },
          ':inProgress': { S: 'IN_PROGRESS' },
          ':leaseUntil': { N: String(leaseUntil) },
          ...(expiresAt === undefined ? {} : { ':expiresAt': { N: String(expiresAt) } }),
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
