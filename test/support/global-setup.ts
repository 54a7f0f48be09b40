import type { TestProject } from 'vitest/node';
import { type DynamoDBLocal, startDynamoDBLocal } from './dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

let server: DynamoDBLocal | undefined;

/** One DynamoDB Local for the whole run; every test file makes its own tables. */
export async function setup(project: TestProject): Promise<void> {
  server = await startDynamoDBLocal();
  project.provide('dynamoEndpoint', server.endpoint);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
