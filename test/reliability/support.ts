/**
 * Shared tools of the reliability suite: a side-effect counter table, child processes that are always
 * stopped, seeded random store faults injected below the SDK's deserializer, and the secret ledger every
 * scenario checks its log lines against.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  type AttributeValue,
  CreateTableCommand,
  DynamoDBClient,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { fromItem } from '../../src/stores/dynamodb-item.js';

/** `IDEMKIT_SOAK=1` (npm run soak) runs every scenario at the full figures. */
export const SOAK = process.env.IDEMKIT_SOAK === '1';

/** The short figure in `npm test`, the figure in `npm run soak`. */
export function load(short: number, soak: number): number {
  return SOAK ? soak : short;
}

/** Prints one measured line, so a run's figures can be copied into docs/reliability.md. */
export function report(scenario: string, figures: Record<string, unknown>): void {
  // Straight to fd 2: scenarios that capture process.stderr to search it for secrets must not swallow it.
  writeSync(2, `[reliability] ${scenario} ${JSON.stringify({ soak: SOAK, ...figures })}\n`);
}

// ---------------------------------------------------------------------------------------------------------
// Side effects, counted in a table of their own.

/** Creates a table where each side effect adds 1 to its key's `runs`. */
export async function createEffectsTable(client: DynamoDBClient): Promise<string> {
  const tableName = `effects-${randomUUID()}`;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return tableName;
}

/** The side effect of every scenario: one atomic increment, so every run is counted. */
export async function recordEffect(client: DynamoDBClient, tableName: string, id: string): Promise<void> {
  await client.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: { id: { S: id } },
      UpdateExpression: 'ADD runs :one',
      ExpressionAttributeValues: { ':one': { N: '1' } },
    }),
  );
}

/** How many times each id's side effect ran. */
export async function readEffects(client: DynamoDBClient, tableName: string): Promise<Map<string, number>> {
  const effects = new Map<string, number>();
  for (const item of await scanAll(client, tableName)) {
    effects.set(item.id?.S ?? '', Number(item.runs?.N ?? 0));
  }
  return effects;
}

/** Every item of a table, consistently read. */
export async function scanAll(
  client: DynamoDBClient,
  tableName: string,
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

/** Every idempotency record of a table. */
export async function readRecords(client: DynamoDBClient, tableName: string) {
  return (await scanAll(client, tableName)).map((item) => fromItem(item));
}

/** Summary of a count map: how many ids ran 0, 1 and more than 1 times over the expected ids. */
export function tally(effects: Map<string, number>, expected: Iterable<string>) {
  let once = 0;
  let lost = 0;
  let duplicated = 0;
  for (const id of expected) {
    const runs = effects.get(id) ?? 0;
    if (runs === 0) lost += 1;
    else if (runs === 1) once += 1;
    else duplicated += runs - 1;
  }
  return { once, lost, duplicated };
}

/** How many answers had each HTTP status, keyed by the status (`{ "201": 98, "503": 2 }`). */
export function statusCounts(answers: readonly { readonly status: number }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[answer.status] = (counts[answer.status] ?? 0) + 1;
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// Secrets: every raw key, payload marker and result marker a scenario used.

/** The raw values no log line, metric or error message may contain. */
export class SecretLedger {
  readonly #values = new Set<string>();

  /** A fresh value with a recognisable prefix, remembered as a secret. */
  next(prefix: string): string {
    const value = `${prefix}-${randomUUID()}`;
    this.#values.add(value);
    return value;
  }

  add(value: string): string {
    this.#values.add(value);
    return value;
  }

  get size(): number {
    return this.#values.size;
  }

  /** The lines that contain any secret (empty when none leaked). */
  leaks(lines: Iterable<string>): string[] {
    const leaked: string[] = [];
    for (const line of lines) {
      for (const value of this.#values) {
        if (line.includes(value)) {
          leaked.push(line);
          break;
        }
      }
    }
    return leaked;
  }
}

/** Counts the `idempotency` signals of Powertools JSON log lines. */
export function signalCounts(lines: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      const signal = (JSON.parse(line) as { idempotency?: unknown }).idempotency;
      if (typeof signal === 'string') counts[signal] = (counts[signal] ?? 0) + 1;
    } catch {
      // Not a log line of ours.
    }
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// Child processes: one Lambda instance each.

/** A worker process: every line it printed, and a way to talk to it and stop it. */
export interface Worker {
  readonly child: ChildProcessWithoutNullStreams;
  /** stdout and stderr lines, in order. */
  readonly lines: string[];
  /** Resolves with the first line that starts with `prefix` (without the prefix). */
  line(prefix: string, timeoutMs?: number): Promise<string>;
  send(line: string): void;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGKILL unless it already exited; resolves when it is gone. */
  kill(): Promise<void>;
}

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'idemkit-reliability-'));
const started = new Set<Worker>();

/** Starts `node --import tsx fixtures/<script> <input.json>`. Stop every worker with {@link stopAll}. */
export function startWorker(script: string, input: unknown): Worker {
  const inputFile = join(workDir, `${randomUUID()}.json`);
  writeFileSync(inputFile, JSON.stringify(input));
  const child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, script), inputFile], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // DEBUG: the routine decisions (first_execution, replay, waited) these tests count are logged at DEBUG only.
    env: {
      ...process.env,
      POWERTOOLS_SERVICE_NAME: 'reliability',
      POWERTOOLS_METRICS_NAMESPACE: 'idemkit',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
    },
  });
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (rest: string) => void }[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (line.startsWith(waiter.prefix)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line.slice(waiter.prefix.length));
      }
    }
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const worker: Worker = {
    child,
    lines,
    line(prefix, timeoutMs = 60_000) {
      const seen = lines.find((line) => line.startsWith(prefix));
      if (seen !== undefined) return Promise.resolve(seen.slice(prefix.length));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`no "${prefix}" line within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`)),
          timeoutMs,
        );
        waiters.push({
          prefix,
          resolve: (rest) => {
            clearTimeout(timer);
            resolve(rest);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`worker exited with ${code} before "${prefix}":\n${lines.slice(-20).join('\n')}`));
        });
      });
    },
    send(line) {
      if (child.exitCode === null && child.stdin.writable) child.stdin.write(`${line}\n`);
    },
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
  started.add(worker);
  void exited.then(() => started.delete(worker));
  return worker;
}

/** Kills every worker still running and removes the input files: call from `afterAll`. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((worker) => worker.kill()));
}

/** Removes the suite's temporary folder (`afterAll` of the last user; harmless if called twice). */
export function cleanWorkDir(): void {
  rmSync(workDir, { recursive: true, force: true });
}

/** Parses a `RESULT <json>` line. */
export async function resultOf<T>(worker: Worker, timeoutMs?: number): Promise<T> {
  return JSON.parse(await worker.line('RESULT ', timeoutMs)) as T;
}

// ---------------------------------------------------------------------------------------------------------
// The other end: what a fixture worker reads, and how it waits for the test's commands.

/** What every fixture worker's input file holds, besides its own fields. */
export interface WorkerInputBase {
  readonly mode: 'load' | 'hold';
  /** DynamoDB Local. */
  readonly endpoint: string;
  readonly effectsTable: string;
  /** `load` only: how long each handler works before its side effect, ms. */
  readonly workMs?: number;
}

/**
 * Inside a fixture worker: its input (the file {@link startWorker} wrote), a DynamoDB client on its endpoint,
 * and the worker's half of the stdin protocol (`go`, `go <n|*> <effect|respond|throw>`).
 */
export function workerSide<Input extends WorkerInputBase>() {
  const input = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as Input;
  const client = new DynamoDBClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    endpoint: input.endpoint,
  });
  const lines = createInterface({ input: process.stdin });
  const commands: string[] = [];
  const listeners = new Set<() => void>();
  lines.on('line', (line) => {
    commands.push(line.trim());
    for (const listener of listeners) listener();
  });

  /** Resolves with the first command line that `accept` returns a value for. */
  function command<T>(accept: (line: string) => T | undefined): Promise<T> {
    return new Promise((resolve) => {
      const check = () => {
        for (const line of commands) {
          const value = accept(line);
          if (value !== undefined) {
            listeners.delete(check);
            resolve(value);
            return;
          }
        }
      };
      listeners.add(check);
      check();
    });
  }

  return {
    input,
    client,
    /** `load`: prints `ready` and waits for `go`, so every worker starts at once. */
    async ready(): Promise<void> {
      process.stdout.write('ready\n');
      await command((line) => (line === 'go' ? true : undefined));
    },
    /**
     * The work of job `n` before it answers: in `hold`, prints `CLAIMED <n>` and does what `go <n|*> <what>`
     * says; in `load`, waits `workMs` and records the effect. `throw` throws `failure`, `effect` adds 1 to
     * `k<n>` in the effects table, `respond` does neither.
     */
    async work(n: number, failure: string): Promise<void> {
      let action = 'effect';
      if (input.mode === 'hold') {
        process.stdout.write(`CLAIMED ${n}\n`);
        action = await command((line) => {
          const [word, target, what] = line.split(' ');
          return word === 'go' && (target === '*' || target === String(n)) ? what : undefined;
        });
      } else {
        await sleep(input.workMs ?? 0);
      }
      if (action === 'throw') throw new Error(failure);
      if (action === 'effect') await recordEffect(client, input.effectsTable, `k${n}`);
    },
    /** Prints `RESULT <json>` and lets the process exit. */
    finish(result: unknown): void {
      process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
      lines.close();
      client.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Seeded randomness and store faults.

/** A small seeded PRNG (mulberry32): the same seed gives the same faults. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The faults of scenario 3, each as the SDK surfaces it to the store. */
export const StoreFault = {
  /** HTTP 400 `ThrottlingException`; the write did not happen. */
  Throttling: 'throttling',
  /** HTTP 500 `InternalServerError`; the write did not happen. */
  ServerError: 'server-error',
  /** The answer never came (`TimeoutError`) although the server applied the write. */
  TimeoutAfterWrite: 'timeout-after-write',
  /** `ECONNRESET` before the request reached the server. */
  ConnectionReset: 'connection-reset',
} as const;
export type StoreFault = (typeof StoreFault)[keyof typeof StoreFault];

/** What a fault injector did. */
export interface FaultLog {
  enabled: boolean;
  calls: number;
  readonly injected: Record<StoreFault, number>;
  /** Injected faults by command name. */
  readonly byCommand: Record<string, number>;
}

function jsonError(statusCode: number, type: string, message: string) {
  return {
    response: {
      statusCode,
      reason: undefined,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'fault-injected' },
      body: Buffer.from(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message })),
    },
  };
}

/**
 * Adds an SDK middleware below the deserializer that fails `rate` of the commands with one of the
 * {@link StoreFault}s, chosen by a seeded PRNG. Build the client with `maxAttempts: 1`, so that every
 * injected fault reaches idemkit instead of being retried away by the SDK.
 */
export function injectFaults(client: DynamoDBClient, rate: number, seed: number): FaultLog {
  const random = seeded(seed);
  const kinds = Object.values(StoreFault);
  const log: FaultLog = {
    enabled: true,
    calls: 0,
    injected: { throttling: 0, 'server-error': 0, 'timeout-after-write': 0, 'connection-reset': 0 },
    byCommand: {},
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      log.calls += 1;
      if (!log.enabled || random() >= rate) return next(args);
      const fault = kinds[Math.floor(random() * kinds.length)] as StoreFault;
      log.injected[fault] += 1;
      const command = String(context.commandName);
      log.byCommand[command] = (log.byCommand[command] ?? 0) + 1;
      switch (fault) {
        case 'throttling':
          return jsonError(
            400,
            'ThrottlingException',
            'Rate of requests exceeds the allowed throughput.',
          ) as never;
        case 'server-error':
          return jsonError(500, 'InternalServerError', 'Internal server error') as never;
        case 'timeout-after-write':
          await next(args);
          throw Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' });
        case 'connection-reset':
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
    },
    { step: 'deserialize', priority: 'low', name: 'idemkitRandomFaults' },
  );
  return log;
}

/** Runs `tasks` with at most `limit` at once. */
export async function pool<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await (tasks[index] as () => Promise<T>)();
      }
    }),
  );
  return results;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------
// SQS records as Lambda delivers them.

/** One job of the suite: its raw key and payload marker are secrets; `n` names its side effect `k<n>`. */
export interface Job {
  readonly jobKey: string;
  readonly n: number;
  readonly payload: string;
  readonly org: string;
}

/** A record of a standard queue carrying `job`, as a new message (its own `messageId`). */
export function sqsRecord(job: Job, attributes: Record<string, string> = {}): import('aws-lambda').SQSRecord {
  const messageAttributes: import('aws-lambda').SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries({ orgId: job.org, ...attributes })) {
    messageAttributes[name] = {
      stringValue: value,
      stringListValues: [],
      binaryListValues: [],
      dataType: 'String',
    };
  }
  return {
    messageId: randomUUID(),
    receiptHandle: `AQEB${randomUUID().replaceAll('-', '')}`,
    body: JSON.stringify({ jobKey: job.jobKey, n: job.n, payload: job.payload }),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'AROAXAMPLEPRODUCER:invoice-service',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes,
    md5OfBody: '0'.repeat(32),
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:send-invoice-email',
    awsRegion: 'eu-west-1',
  };
}

/** `count` jobs of `org`, each with a fresh secret key and payload. */
export function newJobs(secrets: SecretLedger, count: number, org = 'acme'): Job[] {
  return Array.from({ length: count }, (_, n) => ({
    jobKey: secrets.next('job-key'),
    n,
    payload: secrets.next('job-payload'),
    org,
  }));
}
