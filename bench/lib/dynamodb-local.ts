/**
 * The bench's DynamoDB Local is the playground's starter (`playground/servers/dynamodb-local.ts`, in memory
 * on a free port, default JIT), so there is one way to start it. The starter already kills the JVM on process
 * `exit` and when it fails to start; the bench adds only what a long run needs on top.
 */
import { dynamoDBLocalJar, startDynamoDBLocal } from '../../playground/servers/dynamodb-local.js';

/** A DynamoDB Local the bench owns: endpoint, release, and a stop that also runs on exit, Ctrl-C, errors. */
export interface BenchDynamoDB {
  readonly endpoint: string;
  readonly version: string;
  stop(): Promise<void>;
}

let hooked = false;

// Ctrl-C, SIGTERM and SIGHUP end the run through process.exit, whose `exit` event has the starter SIGKILL its
// JVM synchronously: no java process is left behind whatever ends the run.
function exitOnSignals(): void {
  if (hooked) return;
  hooked = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => process.exit(130));
  }
}

/** Starts Amazon's DynamoDB Local in memory on a free port, with the same JVM flags as the test suite. */
export async function startBenchDynamoDB(): Promise<BenchDynamoDB> {
  exitOnSignals();
  const server = await startDynamoDBLocal();
  return {
    endpoint: server.endpoint,
    version: dynamoDBLocalJar().jar.split('/').at(-2) ?? 'unknown',
    stop: () => server.stop(),
  };
}
