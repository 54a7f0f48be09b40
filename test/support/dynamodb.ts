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

/** Creates a fresh idempotency table (pk String, TTL on expiresAt) and returns its name. */
export async function createIdempotencyTable(client: DynamoDBClient, prefix = 'idem'): Promise<string> {
  const tableName = `${prefix}-${randomUUID()}`;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    }),
  );
  return tableName;
}

export async function deleteTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: tableName }));
}
