/**
 * `npm start`: the whole toolkit on this machine, no AWS account, no Docker, no network. Prints the
 * commands to paste, then one readable line per idempotency decision; Ctrl-C stops everything it started.
 * Knobs: `PORT`, `PLAYGROUND_*` (see playground/config.ts) and the library's `IDEMPOTENCY_*` variables.
 */
import { PlaygroundConfigError } from './config.js';
import { formatDecision } from './decisions.js';
import { type Playground, startPlayground } from './playground.js';
import { removeState, writeState } from './state.js';

const print = (line = '') => process.stdout.write(`${line}\n`);

/** The commands a user pastes to see each promise kept, with the playground's real URLs and names. */
export function banner(playground: Playground): string[] {
  const { url, resources, endpoints, config } = playground;
  const post = (key: string, body: string) =>
    `curl -i -X POST ${url}/orders -H 'Authorization: Bearer dev:acme' -H 'Idempotency-Key: ${key}' -H 'Content-Type: application/json' -d '${body}'`;
  const tea2 = '{"items":[{"sku":"tea","quantity":2}]}';
  const env = config.settings.environment;
  return [
    `idemkit playground ready in ${playground.readyAfterMs} ms: ${url}`,
    `  DynamoDB (${playground.dynamodbEngine}) ${endpoints.dynamodb}  table ${resources.tableName}`,
    `  SQS (fauxqs) ${endpoints.sqs}  queue ${resources.queue.name} → DLQ ${resources.deadLetterQueue.name} after ${resources.maxReceiveCount} receives, visibility ${resources.visibilityTimeoutSeconds} s`,
    `  stage ${config.settings.stage}, mode ${process.env.IDEMPOTENCY_MODE} (IDEMPOTENCY_MODE), lock TTL ${process.env.IDEMPOTENCY_LOCK_TTL_S ?? env.IDEMPOTENCY_LOCK_TTL_S} s`,
    '',
    'The org comes from a development token: Authorization: Bearer dev:<org>.',
    '',
    '# 1. first request: 201, runs the handler and enqueues an invoice job',
    post('order-1', tea2),
    '# 2. replay: the same command again answers the stored 201 with Idempotent-Replayed: true',
    post('order-1', tea2),
    '# 3. mismatch: the same key with another body answers 422 problem+json',
    post('order-1', '{"items":[{"sku":"tea","quantity":3}]}'),
    '# 4. concurrent: slow the first request down, send two at once; the second waits, then replays',
    `curl -s -X POST ${url}/_playground/latency -d '{"ms":1500}'`,
    `for i in 1 2; do ${post('order-2', tea2)} & done; wait`,
    `curl -s -X POST ${url}/_playground/latency -d '{"ms":0}'`,
    '',
    '# a poison job from the legacy producer (orderId is a number): fails until the fix, then reaches the DLQ',
    `curl -s -X POST ${url}/_playground/jobs -H 'Authorization: Bearer dev:acme' -d '{"invoiceId":"inv-legacy-7","orderId":7}'`,
    `curl -s -X POST ${url}/_playground/fix -d '{"fixed":true}'`,
    '',
    '# operate the local queues and table with the idemkit CLI (dummy credentials; nothing reaches AWS)',
    "alias idemkit='AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local npx tsx src/cli/main.ts'",
    `idemkit dlq peek ${resources.deadLetterQueue.name} --endpoint ${endpoints.sqs}`,
    `idemkit dlq replay --from ${resources.deadLetterQueue.name} --endpoint ${endpoints.sqs} --dry-run`,
    `idemkit dlq replay --from ${resources.deadLetterQueue.name} --endpoint ${endpoints.sqs} --yes`,
    `idemkit records list --table ${resources.tableName} --org acme --endpoint ${endpoints.dynamodb}`,
    `idemkit doctor --table ${resources.tableName} --queue ${resources.queue.name} --dlq ${resources.deadLetterQueue.name} --endpoint ${endpoints.dynamodb} --sqs-endpoint ${endpoints.sqs}`,
    '# run a handler against this playground and watch the replays',
    'idemkit invoke infra/handlers/orders-api.ts events/apigw-http-api-v2.json --times 3 --concurrency 2',
    '',
    'Decisions appear below, one line each (digests only). Ctrl-C stops every server.',
  ];
}

async function main(): Promise<void> {
  let playground: Playground;
  try {
    playground = await startPlayground({ log: (line) => print(`  ${line}`) });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      error instanceof PlaygroundConfigError
        ? `playground: ${message}\n`
        : `playground: could not start: ${message}\n`,
    );
    process.exitCode = 1;
    return;
  }
  playground.feed.on('decision', (record) => print(formatDecision(record)));
  for (const line of banner(playground)) print(line);
  writeState({ pid: process.pid, url: playground.url, handlerEnvironment: playground.handlerEnvironment });

  let stoppingSince: number | undefined;
  const shutdown = (signal: string) => {
    if (stoppingSince !== undefined) {
      // Under `npm start`, one Ctrl-C arrives twice (from the terminal, and relayed by tsx): only a second
      // press, a moment later, means "do not wait" (the exit handler still kills DynamoDB Local).
      if (Date.now() - stoppingSince > 1000) process.exit(130);
      return;
    }
    stoppingSince = Date.now();
    print(`\n${signal}: stopping the playground...`);
    removeState();
    playground
      .stop()
      .then(() => {
        print('stopped: no server left running.');
        process.exit(0);
      })
      .catch((error: unknown) => {
        process.stderr.write(`playground: stopping failed: ${String(error)}\n`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

await main();
