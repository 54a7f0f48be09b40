import { randomUUID } from 'node:crypto';
import { FakeDynamoDB } from '../lib/fake-dynamodb.js';
import { benchClient, httpHandler, lambdaContext, orderBody, orderEvent, type Side } from '../lib/sides.js';
import { workerMain } from '../lib/worker.js';

export interface MemoryInput {
  readonly side: Side;
  readonly invocations: number;
  /** After how many invocations RSS is read. */
  readonly checkpoints: readonly number[];
}

export interface MemoryPoint {
  readonly invocations: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
}

export type MemoryOutput = MemoryPoint[];

const MB = 1024 * 1024;

workerMain<MemoryInput, MemoryOutput>(async (input) => {
  // The fake keeps only the newest items: old keys never come back in this run, and an unbounded fake would
  // measure the fake, not the library.
  const fake = new FakeDynamoDB({ retainItems: 2_000 });
  const client = benchClient('http://127.0.0.1:9');
  fake.install(client);
  const invoke = httpHandler(input.side, {
    client,
    tableName: `bench-${input.side}`,
    cache: true,
  });
  const template = orderEvent('template', orderBody(1024, 4)) as Record<string, unknown>;
  const headers = template.headers as Record<string, string>;
  const context = lambdaContext(3_600_000);
  const points: MemoryPoint[] = [];
  const read = (invocations: number) => {
    globalThis.gc?.();
    const usage = process.memoryUsage();
    points.push({ invocations, rssMb: usage.rss / MB, heapUsedMb: usage.heapUsed / MB });
  };
  read(0);
  let key = '';
  for (let index = 1; index <= input.invocations; index++) {
    // Every other invocation replays the previous key, from the warm cache; the rest are first executions.
    if (index % 2 === 1) key = randomUUID();
    await invoke({ ...template, headers: { ...headers, 'idempotency-key': key } }, context);
    if (input.checkpoints.includes(index)) read(index);
  }
  return points;
});
