import type { TestProject } from 'vitest/node';
import { type DynamoDBLocal, startDynamoDBLocal } from './dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

let server: DynamoDBLocal | undefined;

/**
 * One DynamoDB Local for the whole run; every test file makes its own tables. The start has no deadline
 * (a busy machine only takes longer; a server that exits fails the run with its exit code and output),
 * so a slow start says, every 15 s, that it is still waiting rather than look like a hang.
 */
export async function setup(project: TestProject): Promise<void> {
  const startedAt = Date.now();
  const notice = setInterval(() => {
    const seconds = Math.round((Date.now() - startedAt) / 1000);
    process.stderr.write(`global setup: still waiting for DynamoDB Local to answer (${seconds} s)\n`);
  }, 15_000);
  try {
    server = await startDynamoDBLocal();
  } finally {
    clearInterval(notice);
  }
  project.provide('dynamoEndpoint', server.endpoint);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
