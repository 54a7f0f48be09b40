/**
 * `npm run demo`: a scripted tour of every promise, against a playground it starts itself. Each step says
 * what happened and gets a check mark; the process exits 1 if any expectation fails, so a test can run it.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { keyDigest, recordKey } from '../src/core/keys.js';
import { DynamoDBStore } from '../src/stores/dynamodb.js';
import { formatDecision } from './decisions.js';
import { type Playground, startPlayground } from './playground.js';
import { LOCAL_CLIENT_CONFIG } from './servers/dynamodb-local.js';

/** The demo's wait budget: the concurrent step stays under it, the 409 step goes over it. */
const WAIT_BUDGET_MS = 2000;
const ORG = 'acme';
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

const print = (line = '') => process.stdout.write(`${line}\n`);

/** One expectation of a step; a failed one makes the demo exit 1. */
class Expectation extends Error {
  override name = 'Expectation';
}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Expectation(message);
}

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

async function main(): Promise<number> {
  // The tour's expectations hold in enforce mode with its own wait budget, whatever the shell says.
  process.env.IDEMPOTENCY_MODE = 'enforce';
  process.env.IDEMPOTENCY_WAIT_BUDGET_MS = String(WAIT_BUDGET_MS);
  print('Starting the playground (DynamoDB Local, fauxqs, the reference handlers)...');
  const playground = await startPlayground({
    // Free ports, so it runs beside `npm start`; a shorter visibility timeout than even `npm start`'s.
    overrides: { port: 0, dynamodbPort: 0, sqsPort: 0, visibilityTimeoutSeconds: 2 },
    log: (line) => {
      if (!line.startsWith('http: ') || line.includes('crashed')) print(`    ${line}`);
    },
  });
  playground.feed.on('decision', (record) => print(`    · ${formatDecision(record)}`));
  print(
    `Ready in ${playground.readyAfterMs} ms at ${playground.url} (DynamoDB: ${playground.dynamodbEngine} ${playground.endpoints.dynamodb}, SQS: ${playground.endpoints.sqs}).`,
  );

  const sqs = new SQSClient({ ...LOCAL_CLIENT_CONFIG, endpoint: playground.endpoints.sqs });
  const dynamodb = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: playground.endpoints.dynamodb });
  const store = new DynamoDBStore({ tableName: playground.resources.tableName, client: dynamodb });
  const tour = new Tour();
  try {
    await runTour(tour, playground, sqs, store);
  } finally {
    sqs.destroy();
    dynamodb.destroy();
    await playground.stop();
  }
  print();
  print(`${tour.passed} passed, ${tour.failed} failed`);
  return tour.failed === 0 ? 0 : 1;
}

class Tour {
  passed = 0;
  failed = 0;
  #number = 0;

  async step(title: string, run: () => Promise<string>): Promise<void> {
    this.#number += 1;
    print();
    print(`${this.#number}. ${title}`);
    try {
      const outcome = await run();
      this.passed += 1;
      print(`   ✓ ${outcome}`);
    } catch (error) {
      this.failed += 1;
      print(`   ✗ ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

async function runTour(tour: Tour, playground: Playground, sqs: SQSClient, store: DynamoDBStore) {
  const order = (key: string, body: unknown) => postOrder(playground.url, key, body);
  const acknowledged = deleted(playground);
  const tea = { items: [{ sku: 'tea', quantity: 2 }] };
  const key = `order-${randomUUID()}`;
  let first: Reply | undefined;

  await tour.step('First request: POST /orders runs the handler', async () => {
    first = await order(key, tea);
    expect(first.status === 201, `expected 201, got ${first.status}: ${first.body}`);
    expect(!first.headers.has('idempotent-replayed'), 'the first response must not say Idempotent-Replayed');
    expect(playground.feed.count('first_execution', keyDigest(key)) === 1, 'expected one first_execution');
    return `201 Created, order ${JSON.parse(first.body).orderId}, one first_execution`;
  });

  await tour.step('Retry with the same key and body: the stored response is replayed', async () => {
    const retry = await order(key, tea);
    expect(retry.status === 201, `expected the stored 201, got ${retry.status}`);
    expect(retry.headers.get('idempotent-replayed') === 'true', 'expected Idempotent-Replayed: true');
    expect(retry.body === first?.body, 'expected the very same body as the first response');
    expect(playground.feed.count('first_execution', keyDigest(key)) === 1, 'the handler ran again');
    return '201 with Idempotent-Replayed: true, same body, the handler did not run again';
  });

  await tour.step('Same key, different body: 422 problem+json', async () => {
    const changed = await order(key, { items: [{ sku: 'tea', quantity: 3 }] });
    expect(changed.status === 422, `expected 422, got ${changed.status}`);
    expectProblem(changed, 'idempotency-key-reused');
    return `422 ${JSON.parse(changed.body).title}`;
  });

  await tour.step('Concurrent duplicates: the second waits for the first, then replays', async () => {
    const concurrentKey = `order-${randomUUID()}`;
    playground.latency.ms = WAIT_BUDGET_MS / 2;
    try {
      const firstCall = order(concurrentKey, tea);
      await waitFor(
        () => playground.feed.count('first_execution', keyDigest(concurrentKey)) === 1,
        10_000,
        'the first call to claim the key',
      );
      const duplicate = await order(concurrentKey, tea);
      const original = await firstCall;
      expect(
        original.status === 201 && duplicate.status === 201,
        `expected 201 twice, got ${original.status} and ${duplicate.status}`,
      );
      expect(
        duplicate.headers.get('idempotent-replayed') === 'true',
        'expected the duplicate to be a replay',
      );
      const waited = playground.feed.decisions.find(
        (record) => record.signal === 'waited' && record.keyDigest === keyDigest(concurrentKey),
      );
      expect(waited?.detail.outcome === 'replay', 'expected a waited decision ending in replay');
      expect(
        playground.feed.count('first_execution', keyDigest(concurrentKey)) === 1,
        'the handler ran twice',
      );
      return `the duplicate waited ${String(waited.detail.waitedMs)} ms, then got the first one's 201 (handler ran once)`;
    } finally {
      playground.latency.ms = 0;
    }
  });

  await tour.step('The first request outlasts the wait budget: 409 with Retry-After', async () => {
    const slowKey = `order-${randomUUID()}`;
    playground.latency.ms = WAIT_BUDGET_MS * 2;
    try {
      const firstCall = order(slowKey, tea);
      await waitFor(
        () => playground.feed.count('first_execution', keyDigest(slowKey)) === 1,
        10_000,
        'the first call to claim the key',
      );
      const duplicate = await order(slowKey, tea);
      expect(duplicate.status === 409, `expected 409, got ${duplicate.status}`);
      expectProblem(duplicate, 'request-in-progress');
      const retryAfter = Number(duplicate.headers.get('retry-after'));
      expect(
        Number.isInteger(retryAfter) && retryAfter >= 1,
        `expected Retry-After of at least 1, got ${duplicate.headers.get('retry-after')}`,
      );
      const original = await firstCall;
      expect(original.status === 201, `expected the first call to finish with 201, got ${original.status}`);
      return `409 ${JSON.parse(duplicate.body).title}, Retry-After: ${retryAfter}; the first call still got 201`;
    } finally {
      playground.latency.ms = 0;
    }
  });

  await tour.step('An SQS job sent twice runs once', async () => {
    const invoiceId = `inv-${randomUUID()}`;
    const body = JSON.stringify({ invoiceId, orderId: `o-${randomUUID()}` });
    const ids = await Promise.all([sendJob(sqs, playground, body), sendJob(sqs, playground, body)]);
    await waitFor(() => ids.every((id) => acknowledged.has(id)), 30_000, 'both messages to be deleted');
    const record = await store.get(recordKey(ORG, 'send-invoice-email', invoiceId));
    expect(record?.status === 'COMPLETED', `expected the job's record COMPLETED, got ${record?.status}`);
    const runs = playground.feed.count('first_execution', keyDigest(invoiceId));
    expect(runs === 1, `expected the job to run once, ran ${runs} times`);
    return 'two messages, both deleted from the queue, one first_execution, record COMPLETED';
  });

  const legacyId = `inv-legacy-${randomUUID()}`;
  const legacyBody = JSON.stringify({ invoiceId: legacyId, orderId: 7 });
  await tour.step(
    'A poison job (legacy producer, numeric orderId) fails permanently: FAILED, then the DLQ',
    async () => {
      await sendJob(sqs, playground, legacyBody);
      const { maxReceiveCount, deadLetterQueue } = playground.resources;
      const pk = recordKey(ORG, 'send-invoice-email', legacyId);
      await waitFor(async () => (await store.get(pk))?.status === 'FAILED', 60_000, 'the job to be FAILED');
      await waitFor(
        async () => (await depth(sqs, deadLetterQueue.url)) === 1,
        120_000,
        'the poison job to reach the DLQ',
      );
      const runs = playground.feed.count('first_execution', keyDigest(legacyId));
      expect(runs === 1, `expected the poison job to run once, then be skipped; it ran ${runs} times`);
      return `ran once and failed permanently (record FAILED); its ${maxReceiveCount} receives failed without running, then the redrive policy moved it to ${deadLetterQueue.name}`;
    },
  );

  await tour.step('Deploy the fix: the worker now reads the legacy shape', async () => {
    const response = await fetch(`${playground.url}/_playground/fix`, {
      method: 'POST',
      body: '{"fixed":true}',
    });
    expect(
      response.status === 200 && playground.toggles.fixed,
      `expected the fix to switch on, got ${response.status}`,
    );
    return 'POST /_playground/fix {"fixed":true}';
  });

  await tour.step('`idemkit dlq replay` brings the job back; it completes exactly once', async () => {
    const { deadLetterQueue, queue } = playground.resources;
    const runsBefore = playground.feed.count('first_execution', keyDigest(legacyId));
    const cli = await runCli([
      'dlq',
      'replay',
      '--from',
      deadLetterQueue.name,
      '--to',
      queue.name,
      '--endpoint',
      playground.endpoints.sqs,
      '--yes',
    ]);
    for (const line of cli.output.trim().split('\n')) print(`    │ ${line}`);
    expect(cli.code === 0, `expected idemkit to exit 0, got ${cli.code}`);
    const pk = recordKey(ORG, 'send-invoice-email', legacyId);
    await waitFor(
      async () => (await store.get(pk))?.status === 'COMPLETED',
      30_000,
      'the replayed job to complete',
    );
    expect((await depth(sqs, deadLetterQueue.url)) === 0, 'expected the DLQ to be empty');
    // A late producer retry of the same job must not run it again.
    await sendJob(sqs, playground, legacyBody);
    await waitFor(
      () => playground.feed.count('replay', keyDigest(legacyId)) >= 1,
      30_000,
      'the late duplicate to be replayed',
    );
    const runs = playground.feed.count('first_execution', keyDigest(legacyId)) - runsBefore;
    expect(runs === 1, `expected exactly one run after the replay, got ${runs}`);
    return 'the CLI moved it back (exit 0), it ran once more and completed; a late duplicate was replayed, not run';
  });
}

async function postOrder(url: string, key: string, body: unknown): Promise<Reply> {
  const response = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: {
      authorization: `Bearer dev:${ORG}`,
      'idempotency-key': key,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

function expectProblem(reply: Reply, slug: string): void {
  expect(
    reply.headers.get('content-type') === 'application/problem+json',
    `expected problem+json, got ${reply.headers.get('content-type')}`,
  );
  const problem = JSON.parse(reply.body) as { type?: string };
  expect(problem.type?.endsWith(`/${slug}`) === true, `expected problem type ${slug}, got ${problem.type}`);
}

async function sendJob(sqs: SQSClient, playground: Playground, body: string): Promise<string> {
  const { MessageId } = await sqs.send(
    new SendMessageCommand({
      QueueUrl: playground.resources.queue.url,
      MessageBody: body,
      MessageAttributes: { orgId: { DataType: 'String', StringValue: ORG } },
    }),
  );
  return MessageId ?? '';
}

const deletedIds = new WeakMap<Playground, Set<string>>();
/** Message ids the worker's event source deleted (acknowledged), since the first call. */
function deleted(playground: Playground): Set<string> {
  let ids = deletedIds.get(playground);
  if (ids === undefined) {
    const set = new Set<string>();
    playground.worker.on('batch', (outcome) => {
      for (const id of outcome.deleted) set.add(id);
    });
    deletedIds.set(playground, set);
    ids = set;
  }
  return ids;
}

async function depth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Expectation(`gave up after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs the real `idemkit` command from this checkout, as an operator would, against the local endpoint. */
function runCli(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_REGION: 'us-east-1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

process.exitCode = await main().catch((error: unknown) => {
  process.stderr.write(`demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
});
// The handlers' SDK clients keep sockets open, as in Lambda; the tour is over.
process.exit();
