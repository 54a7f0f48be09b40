import { randomUUID } from 'node:crypto';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * A table like a multi-Region strongly consistent replica: `pk` String and no TTL (DynamoDB Local runs TTL
 * deletion, which would remove expired records under the sweep's feet).
 */
export async function createTableWithoutTtl(client: DynamoDBClient, prefix: string): Promise<string> {
  const tableName = `${prefix}-${randomUUID()}`;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return tableName;
}
