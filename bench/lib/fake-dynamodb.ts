import {
  ConditionalCheckFailedException,
  type DeleteItemCommandInput,
  type DynamoDBClient,
  type GetItemCommandInput,
  type PutItemCommandInput,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { applyUpdate, evaluateCondition, type Item } from './expressions.js';

/**
 * A zero-latency, in-memory DynamoDB for the in-process overhead and memory runs: an SDK middleware that
 * answers PutItem, GetItem, UpdateItem and DeleteItem (with condition expressions and
 * `ReturnValuesOnConditionCheckFailure`) before serialization, so neither library pays for HTTP, signing or
 * JSON (de)serialization. Both sides get the same fake; only the library's own work is measured.
 */
export class FakeDynamoDB {
  readonly #tables = new Map<string, Map<string, Item>>();
  readonly #retainItems: number;

  /** `retainItems`: keep only the newest items per table (memory runs, where old keys never return). */
  constructor(options: { readonly retainItems?: number } = {}) {
    this.#retainItems = options.retainItems ?? Number.POSITIVE_INFINITY;
  }

  /** Installs the fake on `client`: no command it answers ever reaches the network. */
  install(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (_next, context) => async (args) => ({
        output: { $metadata: {}, ...this.#answer(String(context.commandName), args.input as never) },
        response: {},
      }),
      { step: 'initialize', priority: 'low', name: 'benchFakeDynamoDB' },
    );
  }

  /** Drops every item (between runs, so memory runs start equal). */
  clear(): void {
    this.#tables.clear();
  }

  /** How many items a table holds. */
  size(tableName: string): number {
    return this.#tables.get(tableName)?.size ?? 0;
  }

  #table(name: string): Map<string, Item> {
    let table = this.#tables.get(name);
    if (table === undefined) {
      table = new Map();
      this.#tables.set(name, table);
    }
    return table;
  }

  #answer(command: string, input: unknown): Record<string, unknown> {
    switch (command) {
      case 'PutItemCommand':
        return this.#put(input as PutItemCommandInput);
      case 'GetItemCommand':
        return this.#get(input as GetItemCommandInput);
      case 'UpdateItemCommand':
        return this.#update(input as UpdateItemCommandInput);
      case 'DeleteItemCommand':
        return this.#delete(input as DeleteItemCommandInput);
      default:
        throw new Error(`fake DynamoDB: ${command} is not implemented`);
    }
  }

  #put(input: PutItemCommandInput): Record<string, unknown> {
    const table = this.#table(String(input.TableName));
    const item = input.Item as Item;
    const key = keyOf(item);
    this.#check(input, table.get(key));
    table.delete(key);
    table.set(key, item);
    if (table.size > this.#retainItems) {
      const oldest = table.keys().next().value;
      if (oldest !== undefined) table.delete(oldest);
    }
    return {};
  }

  #get(input: GetItemCommandInput): Record<string, unknown> {
    const item = this.#table(String(input.TableName)).get(keyOf(input.Key as Item));
    return item === undefined ? {} : { Item: item };
  }

  #update(input: UpdateItemCommandInput): Record<string, unknown> {
    const table = this.#table(String(input.TableName));
    const keyItem = input.Key as Item;
    const key = keyOf(keyItem);
    const existing = table.get(key);
    this.#check(input, existing);
    const context = { names: input.ExpressionAttributeNames, values: input.ExpressionAttributeValues };
    table.set(key, applyUpdate(String(input.UpdateExpression), existing ?? { ...keyItem }, context));
    return {};
  }

  #delete(input: DeleteItemCommandInput): Record<string, unknown> {
    const table = this.#table(String(input.TableName));
    const key = keyOf(input.Key as Item);
    this.#check(input, table.get(key));
    table.delete(key);
    return {};
  }

  #check(
    input: PutItemCommandInput | UpdateItemCommandInput | DeleteItemCommandInput,
    existing: Item | undefined,
  ): void {
    if (input.ConditionExpression === undefined) return;
    const context = { names: input.ExpressionAttributeNames, values: input.ExpressionAttributeValues };
    if (evaluateCondition(input.ConditionExpression, existing, context)) return;
    throw new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: {},
      Item: input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? existing : undefined,
    });
  }
}

/** Both tables have a single string partition key (`pk` for idemkit, `id` for Powertools). */
function keyOf(item: Item): string {
  const value = item.pk ?? item.id;
  if (value?.S === undefined) throw new Error('fake DynamoDB: expected a string `pk` or `id` key');
  return value.S;
}
