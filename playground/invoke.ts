import { readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { stageSettings } from '../infra/stages.js';
import { CliError, ExitCode } from '../src/cli/errors.js';
import { integerFlag } from '../src/cli/io.js';
import { idempotencyEnvironment } from './config.js';
import { captureHandlerLogs, DecisionFeed, formatDecision } from './decisions.js';
import { invoke, type LocalFunction } from './lambda.js';
import { localAwsEnvironment } from './playground.js';
import { createResources } from './resources.js';
import { startLocalDynamoDB } from './servers/dynamodb-local.js';
import { startSqs } from './servers/sqs.js';
import { readState, STATE_FILE } from './state.js';

/** Where `npm run invoke` keeps records: the running playground's table, or a throwaway in-memory one. */
export const InvokeStore = { Playground: 'playground', Memory: 'memory' } as const;
/** One of {@link InvokeStore}. */
export type InvokeStore = (typeof InvokeStore)[keyof typeof InvokeStore];

/**
 * Options of {@link invokeHandler}.
 *
 * @example
 * { handlerFile: 'infra/handlers/orders-api.ts', eventFile: 'events/apigw-http-api-v2.json', times: 2 }
 */
export interface InvokeOptions {
  /** A module exporting `handler` (TypeScript is fine). */
  readonly handlerFile: string;
  /** A JSON event, e.g. one of `events/`. Each invocation gets its own copy. */
  readonly eventFile: string;
  /**
   * How many times to invoke.
   * @default 1
   */
  readonly times?: number;
  /**
   * How many invocations run at once.
   * @default 1
   */
  readonly concurrency?: number;
  /**
   * `playground`: the table and queues of the running `npm start`; `memory`: a throwaway in-memory DynamoDB
   * and SQS with the same names, for this run only.
   * @default 'playground'
   */
  readonly store?: InvokeStore;
  /**
   * The function's timeout in seconds, behind `getRemainingTimeInMillis`.
   * @default 30
   */
  readonly timeoutSeconds?: number;
  /** Where result and decision lines go. @default stdout */
  readonly out?: (line: string) => void;
  /** The running playground's state file. @default `.cache/playground/state.json` */
  readonly stateFile?: string;
}

/** What one invocation returned. */
export interface InvocationResult {
  /** 1-based, in start order. */
  readonly index: number;
  readonly durationMs: number;
  /** The handler's result, when it returned one. */
  readonly result?: unknown;
  /** `Name: message` when the handler threw or timed out. */
  readonly error?: string;
}

/** A bad argument of `npm run invoke`: the message names the argument and the fix. */
export class InvokeError extends Error {
  override name = 'InvokeError';
}

/**
 * Runs a Lambda handler locally, `times` times with `concurrency` at once, each with its own copy of the
 * event and a Lambda-like context, and prints each result and each idempotency decision (digests only):
 * the quickest way to see a replay. The handler runs against the playground's table and queues, or a
 * throwaway in-memory copy with `store: 'memory'`. This is `npm run invoke`.
 *
 * @example
 * await invokeHandler({ handlerFile: 'infra/handlers/orders-api.ts', eventFile: 'events/apigw-http-api-v2.json', times: 3, store: 'memory' });
 */
export async function invokeHandler(options: InvokeOptions): Promise<InvocationResult[]> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const times = whole('--times', options.times ?? 1, 1, 1000);
  const concurrency = whole('--concurrency', options.concurrency ?? 1, 1, 100);
  const timeoutSeconds = whole('--timeout', options.timeoutSeconds ?? 30, 1, 900);
  const store = options.store ?? InvokeStore.Playground;
  if (!Object.values(InvokeStore).includes(store)) {
    throw new InvokeError(`Expected \`--store\` to be playground or memory, got '${String(store)}'.`);
  }
  const handlerPath = existingFile('<handler-file>', options.handlerFile);
  const event = readEvent(options.eventFile);

  const cleanups: (() => Promise<void>)[] = [];
  try {
    Object.assign(process.env, await environment(store, options.stateFile ?? STATE_FILE, cleanups));
    const feed = new DecisionFeed();
    const restore = captureHandlerLogs(feed);
    cleanups.push(async () => restore());
    feed.on('decision', (record) => out(`  · ${formatDecision(record)}`));
    feed.on('log', ({ level, message }) => out(`  ${level.toLowerCase()}: ${message}`));

    const handler = await loadHandler(handlerPath);
    const fn: LocalFunction = {
      functionName: basename(handlerPath).replace(/\.[cm]?[jt]s$/, ''),
      timeoutMs: timeoutSeconds * 1000,
      memoryMiB: 512,
    };
    const results: InvocationResult[] = [];
    let next = 0;
    const worker = async () => {
      while (next < times) {
        next += 1;
        const index = next;
        const startedAt = Date.now();
        try {
          const result = await invoke(fn, handler, structuredClone(event));
          results.push({ index, durationMs: Date.now() - startedAt, result });
        } catch (error) {
          results.push({ index, durationMs: Date.now() - startedAt, error: describeError(error) });
        }
        out(describeResult(results[results.length - 1] as InvocationResult));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, times) }, worker));
    return results.sort((a, b) => a.index - b.index);
  } finally {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  }
}

/** The variables the handler gets: the running playground's, or those of a throwaway in-memory copy. */
async function environment(
  store: InvokeStore,
  stateFile: string,
  cleanups: (() => Promise<void>)[],
): Promise<Record<string, string>> {
  if (store === InvokeStore.Playground) {
    const state = readState(stateFile);
    if (state === undefined) {
      throw new InvokeError(
        'No playground is running (nothing recorded in .cache/playground/state.json); start one with `npm start` in another terminal, or pass `--store memory`.',
      );
    }
    return { ...state.handlerEnvironment };
  }
  const settings = stageSettings('dev');
  // dynalite needs no Java and starts in milliseconds: right for a throwaway store.
  const dynamodb = await startLocalDynamoDB({ engine: 'dynalite' });
  cleanups.push(() => dynamodb.stop());
  const sqs = await startSqs();
  cleanups.push(() => sqs.stop());
  const resources = await createResources({
    settings,
    dynamodbEndpoint: dynamodb.endpoint,
    sqsEndpoint: sqs.endpoint,
  });
  return {
    ...idempotencyEnvironment(settings, process.env),
    ...localAwsEnvironment(dynamodb.endpoint, sqs.handlerEndpoint),
    IDEMPOTENCY_TABLE: resources.tableName,
    INVOICE_JOBS_QUEUE_URL: sqs.handlerQueueUrl(resources.queue.url),
    // Every decision is printed, also the routine ones Lambda only counts, as the running playground does.
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'DEBUG',
  };
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

async function loadHandler(path: string): Promise<Handler> {
  if (/\.[cm]?ts$/.test(path)) {
    // A TypeScript handler imports its siblings by their .js names: tsx resolves them, as esbuild does.
    const { register } = await import('tsx/esm/api');
    register();
  }
  let module: { handler?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { handler?: unknown };
  } catch (error) {
    throw new InvokeError(
      `Could not load ${path}: ${describeError(error)}; check that it runs with \`npx tsx ${path}\`.`,
    );
  }
  if (typeof module.handler !== 'function') {
    throw new InvokeError(
      `Expected ${path} to export a \`handler\` function, got ${typeof module.handler}; export the Lambda handler as \`handler\`.`,
    );
  }
  return module.handler as Handler;
}

function whole(flag: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvokeError(
      `Expected \`${flag}\` to be a whole number from ${min} to ${max}, got ${String(value)}.`,
    );
  }
  return value;
}

function existingFile(argument: string, path: string): string {
  const absolute = resolve(path);
  try {
    if (statSync(absolute).isFile()) return absolute;
  } catch {
    // Reported below.
  }
  throw new InvokeError(
    `Expected ${argument} to be a file, got '${path}', which does not exist; check the path.`,
  );
}

function readEvent(path: string): unknown {
  const absolute = existingFile('<event.json>', path);
  try {
    return JSON.parse(readFileSync(absolute, 'utf8')) as unknown;
  } catch (error) {
    throw new InvokeError(
      `Expected <event.json> to hold JSON, but ${path} does not parse (${(error as Error).message}); pick one of events/.`,
    );
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** One line per invocation: the status, whether it was a replay, and the start of the body. */
export function describeResult(result: InvocationResult): string {
  const head = `#${result.index} in ${result.durationMs} ms:`;
  if (result.error !== undefined) return `${head} threw ${result.error}`;
  const value = result.result as
    | { statusCode?: unknown; headers?: Record<string, unknown>; body?: unknown }
    | undefined;
  if (typeof value === 'object' && value !== null && typeof value.statusCode === 'number') {
    const replayed = Object.entries(value.headers ?? {}).some(
      ([name, header]) => name.toLowerCase() === 'idempotent-replayed' && String(header) === 'true',
    );
    const body = typeof value.body === 'string' ? value.body : '';
    return `${head} ${value.statusCode}${replayed ? ' (Idempotent-Replayed: true)' : ''} ${preview(body)}`;
  }
  return `${head} ${preview(JSON.stringify(value) ?? 'undefined')}`;
}

function preview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** The flags of `npm run invoke`, as the CLI parses them (strings). */
export interface InvokeFlags {
  readonly times?: string;
  readonly concurrency?: string;
  readonly store?: string;
  readonly timeout?: string;
}

/**
 * `npm run invoke -- <handler-file> <event.json>`: runs {@link invokeHandler} for the CLI and returns its exit
 * code: 0 when every invocation returned, 1 when one threw or timed out. A bad argument throws the CLI's
 * one-line error (exit 2).
 *
 * @example
 * process.exitCode = await invokeCommand('infra/handlers/orders-api.ts', 'events/apigw-http-api-v2.json', { times: '3' }, io);
 */
export async function invokeCommand(
  handlerFile: string,
  eventFile: string,
  flags: InvokeFlags,
  io: { out(line: string): void },
): Promise<number> {
  try {
    const results = await invokeHandler({
      handlerFile,
      eventFile,
      times: integerFlag('--times', flags.times ?? '1', 1, 1000) ?? 1,
      concurrency: integerFlag('--concurrency', flags.concurrency ?? '1', 1, 100) ?? 1,
      timeoutSeconds: integerFlag('--timeout', flags.timeout ?? '30', 1, 900) ?? 30,
      store: (flags.store ?? InvokeStore.Playground) as InvokeStore,
      out: (line) => io.out(line),
    });
    return results.every((result) => result.error === undefined) ? ExitCode.Ok : ExitCode.Incomplete;
  } catch (error) {
    if (error instanceof InvokeError) throw new CliError(error.message);
    throw error;
  }
}
