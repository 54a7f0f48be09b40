import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable } from '../support/dynamodb.js';

/**
 * A table like a multi-Region strongly consistent replica: `pk` String and no TTL (DynamoDB Local runs TTL
 * deletion, which would remove expired records under the sweep's feet).
 */
export function createTableWithoutTtl(client: DynamoDBClient, prefix: string): Promise<string> {
  return createTable(client, prefix);
}
