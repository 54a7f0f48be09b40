import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { IdempotencyError } from '../core/errors.js';

/** What a versioned write expects of the item's current version. */
export type ExpectedVersion = number | '*';

/**
 * Another writer changed the item first: the write was not applied. `current` is the item as it is now
 * (returned by the failed write itself, no extra read), `currentVersion` its version, `undefined` when the item
 * does not exist.
 *
 * @example
 * catch (error) { if (error instanceof VersionConflictError) return preconditionFailed(error.currentVersion); }
 */
export class VersionConflictError extends IdempotencyError {
  override name = 'VersionConflictError';
  readonly expected: ExpectedVersion;
  readonly currentVersion: number | undefined;
  readonly current: Record<string, AttributeValue> | undefined;
  constructor(
    expected: ExpectedVersion,
    current: Record<string, AttributeValue> | undefined,
    attribute: string,
  ) {
    const version = current?.[attribute]?.N;
    super(
      current === undefined
        ? `Expected the item to exist at version ${String(expected)}, but it does not exist; create it first or read it again.`
        : `Expected the item at version ${String(expected)}, got version ${version ?? 'none'}; read it again and retry with its current version.`,
    );
    this.expected = expected;
    this.current = current;
    this.currentVersion = version === undefined ? undefined : Number(version);
  }
}

/**
 * Options of {@link versionedWrite}.
 *
 * @example
 * { client, tableName: 'orders', key: { pk: { S: 'order#1' } }, set: { status: { S: 'PAID' } }, expectedVersion: 3 }
 */
export interface VersionedWriteInput {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** The item's primary key. */
  readonly key: Record<string, AttributeValue>;
  /** The attributes to set besides the version. */
  readonly set: Readonly<Record<string, AttributeValue>>;
  /**
   * What the current version must be: a number, `0` for "the item must not exist yet", `'*'` for "any version,
   * but the item must exist"; `undefined` writes whatever the version is (and still bumps it).
   * @default undefined
   */
  readonly expectedVersion?: ExpectedVersion;
  /**
   * The attribute that holds the version, a number starting at 1.
   * @default 'version'
   */
  readonly versionAttribute?: string;
}

/**
 * A write with optimistic locking on DynamoDB, in one round trip: the expected version is the write's
 * condition, the version is bumped in the same write, and on a conflict the failed write itself returns the
 * current item (`ReturnValuesOnConditionCheckFailure`), thrown as {@link VersionConflictError}.
 *
 * @example
 * const { version } = await versionedWrite({ client, tableName, key, set: { status: { S: 'PAID' } }, expectedVersion: 3 });
 * // version === 4
 */
export async function versionedWrite(
  input: VersionedWriteInput,
): Promise<{ readonly version: number; readonly item: Record<string, AttributeValue> }> {
  const attribute = input.versionAttribute ?? 'version';
  const names: Record<string, string> = { '#v': attribute };
  const values: Record<string, AttributeValue> = { ':zero': { N: '0' }, ':one': { N: '1' } };
  const sets = ['#v = if_not_exists(#v, :zero) + :one'];
  for (const [index, [name, value]] of Object.entries(input.set).entries()) {
    names[`#a${index}`] = name;
    values[`:a${index}`] = value;
    sets.push(`#a${index} = :a${index}`);
  }
  const [firstKey] = Object.keys(input.key);
  if (firstKey === undefined) {
    throw new TypeError('Expected `key` of `versionedWrite` to name the primary key, got {}.');
  }
  let condition: string | undefined;
  const expected = input.expectedVersion;
  if (expected === '*' || expected === 0) {
    names['#k'] = firstKey;
    condition = expected === '*' ? 'attribute_exists(#k)' : 'attribute_not_exists(#k)';
  } else if (expected !== undefined) {
    if (!Number.isSafeInteger(expected) || expected < 0) {
      throw new TypeError(
        `Expected \`expectedVersion\` of \`versionedWrite\` to be a whole number or '*', got ${expected}.`,
      );
    }
    condition = '#v = :expected';
    values[':expected'] = { N: String(expected) };
  }
  try {
    const output = await input.client.send(
      new UpdateItemCommand({
        TableName: input.tableName,
        Key: input.key,
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    const item = output.Attributes ?? {};
    return { version: Number(item[attribute]?.N ?? '0'), item };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException && expected !== undefined) {
      throw new VersionConflictError(expected, error.Item, attribute);
    }
    throw error;
  }
}
