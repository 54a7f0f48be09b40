import { randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { LOCAL_CLIENT_CONFIG } from './dynamodb-local.js';

/** Counts the commands a client sends, by name (the round trips the protocol promises). */
export interface CallCounter {
  readonly calls: string[];
  count(name?: string): number;
  reset(): void;
}

/** A client for the suite's DynamoDB Local, with a middleware that counts every command sent. */
export function localClient(endpoint: string = inject('dynamoEndpoint')): {
  client: DynamoDBClient;
  counter: CallCounter;
} {
  const client = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint });
  const calls: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'idemkitCallCounter' },
  );
  return {
    client,
    counter: {
      calls,
      count: (name) => (name === undefined ? calls.length : calls.filter((call) => call === name).length),
      reset: () => {
        calls.length = 0;
      },
    },
  };
}

/** The key and TTL of a table a test makes. */
export interface TableShape {
  /** @default 'pk' */
  readonly partitionKey?: string;
  /** A String sort key, as a single-table design has. @default none */
  readonly sortKey?: string;
  /** The TTL attribute. @default none: no TTL */
  readonly ttl?: string;
}

/** Creates a fresh on-demand table with String keys (`<prefix>-<uuid>`) and returns its name. */
export async function createTable(
  client: DynamoDBClient,
  prefix: string,
  shape: TableShape = {},
): Promise<string> {
  const tableName = `${prefix}-${randomUUID()}`;
  const keys = [
    { AttributeName: shape.partitionKey ?? 'pk', KeyType: 'HASH' as const },
    ...(shape.sortKey === undefined ? [] : [{ AttributeName: shape.sortKey, KeyType: 'RANGE' as const }]),
  ];
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: keys.map(({ AttributeName }) => ({ AttributeName, AttributeType: 'S' })),
      KeySchema: keys,
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  if (shape.ttl !== undefined) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: shape.ttl, Enabled: true },
      }),
    );
  }
  return tableName;
}

/** Creates a fresh idempotency table (pk String, TTL on expiresAt) and returns its name. */
export function createIdempotencyTable(client: DynamoDBClient, prefix = 'idem'): Promise<string> {
  return createTable(client, prefix, { ttl: 'expiresAt' });
}

export async function deleteTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: tableName }));
}
