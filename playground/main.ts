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

/** The job the poison-job walkthrough sends: a legacy producer's, with a job key but a numeric `orderId`. */
export const POISON_JOB = { invoiceId: 'inv-legacy-7', orderId: 7 } as const;

/** The commands a user pastes to see each promise kept, with the playground's real URLs and names. */
export function banner(playground: Playground): string[] {
  const { url, resources, endpoints, config } = playground;
  const post = (key: string, body: string) =>
    `curl -i -X POST ${url}/orders -H 'Authorization: Bearer dev:acme' -H 'Idempotency-Key: ${key}' -H 'Content-Type: application/json' -d '${body}'`;
  const tea2 = '{"items":[{"sku":"tea","quantity":2}]}';
  const env = config.settings.environment;
  return [
    `idemkit playground ready in ${playground.readyAfterMs} ms: ${url}`,
    `  live decisions and the dashboard's counts: open ${playground.pageUrl}`,
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
    ...poisonJobWalkthrough(playground),
    '',
    '# more: the table and the queues, with the same idemkit alias',
    `idemkit records list --table ${resources.tableName} --org acme --endpoint ${endpoints.dynamodb}`,
    `idemkit doctor --table ${resources.tableName} --queue ${resources.queue.name} --dlq ${resources.deadLetterQueue.name} --endpoint ${endpoints.dynamodb} --sqs-endpoint ${endpoints.sqs}`,
    '# run a handler against this playground and watch the replays',
    'npm run invoke -- infra/handlers/orders-api.ts events/apigw-http-api-v2.json --times 3 --concurrency 2',
    '',
    'Decisions appear below, one line each (digests only). Ctrl-C stops every server.',
  ];
}

/**
 * The poison-job walkthrough, in the order it happens: the job fails and is `FAILED`, reaches the DLQ,
 * the fix is deployed, the replay brings it back, and it completes once. README.md lists the same
 * commands for the default ports, and test/playground/walkthrough.e2e.test.ts runs them.
 */
export function poisonJobWalkthrough(playground: Playground): string[] {
  const { url, resources, endpoints } = playground;
  const { tableName, queue, deadLetterQueue, maxReceiveCount, visibilityTimeoutSeconds } = resources;
  const record = `idemkit records get --table ${tableName} --org acme --scope send-invoice-email --key ${POISON_JOB.invoiceId} --endpoint ${endpoints.dynamodb}`;
  const toDlqSeconds = maxReceiveCount * visibilityTimeoutSeconds;
  return [
    '# a poison job: the legacy producer sends orderId as a number, which the worker cannot process',
    "alias idemkit='AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local npx tsx src/cli/main.ts'",
    `curl -s -X POST ${url}/_playground/jobs -H 'Authorization: Bearer dev:acme' -d '${JSON.stringify(POISON_JOB)}'`,
    '# its record is FAILED: a permanent error, so redeliveries do not run it again',
    record,
    `# after ${maxReceiveCount} receives, ${visibilityTimeoutSeconds} s apart (about ${toDlqSeconds} s), the redrive policy moves it to the DLQ (--show-bodies: bodies are hidden by default)`,
    `idemkit dlq peek ${deadLetterQueue.name} --show-bodies --endpoint ${endpoints.sqs}`,
    '# deploy the fix (the worker now reads the legacy shape), then replay the DLQ',
    `curl -s -X POST ${url}/_playground/fix -d '{"fixed":true}'`,
    `idemkit dlq replay --from ${deadLetterQueue.name} --to ${queue.name} --endpoint ${endpoints.sqs} --yes`,
    '# the job ran once more, after the fix, and is COMPLETED',
    record,
  ];
}

async function main(): Promise<void> {
  const startup = new AbortController();
  let playground: Playground | undefined;
  let stoppingSince: number | undefined;
  let exitCode = 0;
  const finish = () => {
    removeState();
    if (playground === undefined) return; // still starting: the start sees the abort and cleans up
    const stopping = playground;
    stopping
      .stop()
      .then(() => {
        print('stopped: no server left running.');
        process.exit(exitCode);
      })
      .catch((error: unknown) => {
        process.stderr.write(`playground: stopping failed: ${String(error)}\n`);
        process.exit(1);
      });
  };
  const shutdown = (why: string, code = 0) => {
    if (stoppingSince !== undefined) {
      // Under `npm start`, one Ctrl-C arrives twice (from the terminal, and relayed by npm): only a second
      // press, a moment later, means "do not wait" (the exit handler still kills DynamoDB Local).
      if (Date.now() - stoppingSince > 1000) process.exit(130);
      return;
    }
    stoppingSince = Date.now();
    exitCode = code;
    print(`\n${why}: stopping the playground...`);
    startup.abort(new Error(why));
    finish();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));
  // When whatever started this process dies (npm killed with SIGKILL, a closed terminal), stop too: this
  // process is then re-parented, so its parent id changes.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown(`parent process ${parent} exited`);
  }, 250).unref();

  try {
    playground = await startPlayground({ log: (line) => print(`  ${line}`), signal: startup.signal });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      error instanceof PlaygroundConfigError
        ? `playground: ${message}\n`
        : `playground: could not start: ${message}\n`,
    );
    process.exit(stoppingSince === undefined ? 1 : exitCode);
  }
  if (stoppingSince !== undefined) {
    finish();
    return;
  }
  playground.feed.on('decision', (record) => print(formatDecision(record)));
  for (const line of banner(playground)) print(line);
  writeState({ pid: process.pid, url: playground.url, handlerEnvironment: playground.handlerEnvironment });
  void playground.serverExited.then((why) => shutdown(why, 1));
}

await main();
