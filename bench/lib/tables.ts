import { randomUUID } from 'node:crypto';
import { CreateTableCommand, type DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { IDEMKIT_TABLE, POWERTOOLS_TABLE, type Side } from './sides.js';

/** Creates a fresh table with the side's recommended schema (on-demand, string key, TTL) and returns its name. */
export async function createSideTable(client: DynamoDBClient, side: Side): Promise<string> {
  const schema = side === 'idemkit' ? IDEMKIT_TABLE : POWERTOOLS_TABLE;
  const tableName = `bench-${side}-${randomUUID().slice(0, 8)}`;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: schema.key, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: schema.key, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: schema.ttl, Enabled: true },
    }),
  );
  return tableName;
}
