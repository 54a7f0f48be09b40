import { performance } from 'node:perf_hooks';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { idempotencyEnvironment, type PlaygroundConfig, readPlaygroundConfig } from './config.js';
import { captureHandlerLogs, DecisionFeed } from './decisions.js';
import { SqsEventSource } from './event-source.js';
import {
  type Gateway,
  type GatewayRequest,
  type GatewayResponse,
  type GatewayRoute,
  problem,
  startGateway,
} from './gateway.js';
import type { LocalFunction } from './lambda.js';
import { LiveView, PAGE_PATH } from './page.js';
import { createResources, type PlaygroundResources } from './resources.js';
import { LOCAL_CLIENT_CONFIG, type LocalDynamoDB, startLocalDynamoDB } from './servers/dynamodb-local.js';
import { type LocalSqs, startSqs } from './servers/sqs.js';
import { type WorkerToggles, withLegacyJobFix } from './worker.js';

/** Options of {@link startPlayground}. */
export interface PlaygroundOptions {
  /** Where `PORT`, `PLAYGROUND_*` and `IDEMPOTENCY_*` are read. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Settings that win over the environment (the demo picks a free port and a short visibility timeout). */
  readonly overrides?: Partial<PlaygroundConfig>;
  /** Where the playground's own lines go (warnings, access lines, crashes). @default stderr */
  readonly log?: (line: string) => void;
  /** Gives up starting (a Ctrl-C during start-up); what was started is stopped. @default never */
  readonly signal?: AbortSignal;
}

/** A running playground. */
export interface Playground {
  /** The HTTP API, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  /** The page with the live decisions and the dashboard's counts, e.g. `http://127.0.0.1:3000/_playground/`. */
  readonly pageUrl: string;
  readonly config: PlaygroundConfig;
  readonly resources: PlaygroundResources;
  /** The local servers' endpoints (give them to `--endpoint`). */
  readonly endpoints: { readonly dynamodb: string; readonly sqs: string };
  /** `dynamodb-local` or `dynalite`. */
  readonly dynamodbEngine: string;
  /** The variables the handlers got: what another local tool needs to run a handler against this playground. */
  readonly handlerEnvironment: Readonly<Record<string, string>>;
  /** Every idempotency decision the handlers logged, as they log them. */
  readonly feed: DecisionFeed;
  /** What the page shows: the counts and the open pages' event streams. */
  readonly view: LiveView;
  /** The worker's switches: flip `fixed` to deploy "the fix". */
  readonly toggles: WorkerToggles;
  /** Extra milliseconds on each SQS send by the API handler: makes a first request slow. */
  readonly latency: { ms: number };
  /** The worker's event source; emits `batch` after each invocation. */
  readonly worker: SqsEventSource;
  /** Milliseconds from process start to ready. */
  readonly readyAfterMs: number;
  /** Settles, with why, if a server the playground needs exits before `stop()` was called. */
  readonly serverExited: Promise<string>;
  /** Stops every server and poller it started; safe to call twice. */
  stop(): Promise<void>;
}

let started = false;

/**
 * Starts the whole toolkit on this machine: a local DynamoDB and the SQS emulator, the stage's table and
 * queues from `infra/stages.ts`, the reference API handler behind a local HTTP API, and the reference worker
 * behind a local SQS event source. One per process, because the handlers are modules built once at cold
 * start, as in Lambda.
 *
 * @example
 * const playground = await startPlayground();
 * // ... curl playground.url/orders
 * await playground.stop();
 */
export async function startPlayground(options: PlaygroundOptions = {}): Promise<Playground> {
  if (started) {
    throw new Error(
      'A playground already runs in this process; stop it and start another process, because the handlers are built once per process.',
    );
  }
  started = true;
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config = readPlaygroundConfig(env, options.overrides);
  const cleanups: (() => Promise<void>)[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => log(`playground: stopping failed: ${String(error)}`));
    }
  };
  try {
    // The handlers' libraries load while the servers boot (DynamoDB Local's JVM takes seconds); the
    // handler modules themselves load after, because they read their environment at import, as in Lambda.
    const warm = warmHandlerLibraries();
    warm.catch(() => undefined); // awaited below; a failed start must not leave it unhandled
    const [dynamodb, sqs] = await startServers(config, log, cleanups, options.signal);
    await warm;
    const resources = await createResources({
      settings: config.settings,
      dynamodbEndpoint: dynamodb.endpoint,
      sqsEndpoint: sqs.endpoint,
      visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
      maxReceiveCount: config.maxReceiveCount,
      onWarning: log,
    });

    // What the stack gives each function, pointed at the local servers. Nothing here can reach AWS.
    const handlerEnvironment = {
      ...idempotencyEnvironment(config.settings, env),
      ...localAwsEnvironment(dynamodb.endpoint, sqs.handlerEndpoint),
      IDEMPOTENCY_TABLE: resources.tableName,
      INVOICE_JOBS_QUEUE_URL: sqs.handlerQueueUrl(resources.queue.url),
      // DEBUG: the feed shows every decision; in Lambda the routine ones are only counted (INFO).
      POWERTOOLS_LOG_LEVEL: env.POWERTOOLS_LOG_LEVEL ?? 'DEBUG',
    };
    Object.assign(process.env, handlerEnvironment);
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;

    const feed = new DecisionFeed();
    const restoreLogs = captureHandlerLogs(feed);
    cleanups.push(async () => restoreLogs());
    feed.on('log', ({ level, message }) => log(`${level.toLowerCase()}: ${message}`));
    const view = new LiveView(feed);
    cleanups.push(async () => view.close());

    const api = await loadHandler<GatewayRoute['handler']>('orders-api', '../infra/handlers/orders-api.js');
    const referenceWorker = await loadHandler<(e: SQSEvent, c: Context) => Promise<SQSBatchResponse>>(
      'invoice-worker',
      '../infra/handlers/invoice-worker.js',
    );
    const toggles: WorkerToggles = { fixed: false };

    const workerSqs = new SQSClient({ ...LOCAL_CLIENT_CONFIG, endpoint: sqs.endpoint });
    const worker = new SqsEventSource({
      sqs: workerSqs,
      queueUrl: resources.queue.url,
      queueArn: resources.queue.arn,
      fn: localFunction('invoice-worker', config.settings.worker),
      handler: withLegacyJobFix(referenceWorker, toggles),
      batchSize: config.settings.jobs.batchSize,
      maxBatchingWindowMs: config.settings.jobs.maxBatchingWindowSeconds * 1000,
      pollers: config.pollers,
    });
    worker.start();
    cleanups.push(async () => {
      await worker.stop();
      workerSqs.destroy();
    });
    worker.on('batch', (outcome) => {
      if (outcome.error !== undefined)
        log(`worker: batch of ${outcome.messageIds.length} failed whole: ${outcome.error}`);
    });

    const gateway: Gateway = await startGateway({
      port: config.port,
      maxBodyBytes: config.maxBodyBytes,
      routes: new Map([
        ['POST /orders', { fn: localFunction('orders-api', config.settings.api), handler: api }],
      ]),
      admin: async (request) =>
        view.asset(request) ??
        admin(request, { toggles, latency: sqs.latency, sqs: workerSqs, queueUrl: resources.queue.url }),
      stream: (request, response) => view.stream(request, response),
      onAccess: (line) => log(`http: ${line}`),
      onCrash: (error, route) =>
        log(
          `http: ${route} crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        ),
    });
    cleanups.push(() => gateway.stop());

    return {
      url: gateway.url,
      pageUrl: `${gateway.url}${PAGE_PATH}`,
      config,
      resources,
      endpoints: { dynamodb: dynamodb.endpoint, sqs: sqs.endpoint },
      handlerEnvironment,
      dynamodbEngine: dynamodb.engine,
      feed,
      view,
      toggles,
      latency: sqs.latency,
      worker,
      readyAfterMs: Math.round(performance.now()),
      serverExited: dynamodb.ended.then((how) =>
        stopping
          ? new Promise<string>(() => undefined)
          : `${dynamodb.engine === 'dynamodb-local' ? 'DynamoDB Local' : 'dynalite'} (pid ${dynamodb.pid}) exited with ${how}`,
      ),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startServers(
  config: PlaygroundConfig,
  log: (line: string) => void,
  cleanups: (() => Promise<void>)[],
  signal: AbortSignal | undefined,
): Promise<[LocalDynamoDB, LocalSqs]> {
  const [dynamodb, sqs] = await Promise.allSettled([
    startLocalDynamoDB({
      engine: config.dynamodb,
      port: config.dynamodbPort,
      quickStart: true,
      onWarning: (message) => log(`warning: ${message}`),
      ...(signal === undefined ? {} : { signal }),
    }),
    startSqs({ port: config.sqsPort }),
  ]);
  if (dynamodb.status === 'fulfilled') cleanups.push(() => dynamodb.value.stop());
  if (sqs.status === 'fulfilled') cleanups.push(() => sqs.value.stop());
  if (dynamodb.status === 'rejected')
    throw portHint(dynamodb.reason, 'PLAYGROUND_DYNAMODB_PORT', config.dynamodbPort);
  if (sqs.status === 'rejected') throw portHint(sqs.reason, 'PLAYGROUND_SQS_PORT', config.sqsPort);
  return [dynamodb.value, sqs.value];
}

/** A server that could not bind its port: say which variable moves it. */
function portHint(error: unknown, variable: string, port: number): unknown {
  const message = error instanceof Error ? error.message : String(error);
  if (!/EADDRINUSE|Address already in use/.test(message)) return error;
  return new Error(
    `Port ${port} is taken by another program; stop it, or set \`${variable}\` to a free port (0 picks one). ${message}`,
    { cause: error },
  );
}

/** Loads what the reference handlers import, none of which reads the environment at import. */
async function warmHandlerLibraries(): Promise<void> {
  await Promise.all([
    import('@middy/core'),
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/client-sqs'),
    import('../src/http/index.js'),
    import('../src/sqs/index.js'),
    import('../src/stores/dynamodb.js'),
  ]);
}

/** Imports a reference handler as Lambda would at cold start, with its own service name in the logs. */
async function loadHandler<H>(service: string, path: string): Promise<H> {
  process.env.POWERTOOLS_SERVICE_NAME = service;
  const module = (await import(path)) as { handler?: H };
  if (typeof module.handler !== 'function') {
    throw new Error(`Expected ${path} to export a \`handler\` function, got ${typeof module.handler}.`);
  }
  return module.handler;
}

/**
 * The AWS variables of a handler that must only ever talk to local servers: dummy credentials, one region,
 * and the endpoints of DynamoDB and SQS (SDK v3 reads `AWS_ENDPOINT_URL_<SERVICE>`). Metrics stay off:
 * their EMF lines would only repeat the decision lines.
 *
 * @example
 * Object.assign(process.env, localAwsEnvironment(dynamodbEndpoint, sqsEndpoint));
 */
export function localAwsEnvironment(dynamodbEndpoint: string, sqsEndpoint: string): Record<string, string> {
  return {
    AWS_REGION: LOCAL_CLIENT_CONFIG.region,
    AWS_ACCESS_KEY_ID: LOCAL_CLIENT_CONFIG.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CLIENT_CONFIG.credentials.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
}

function localFunction(
  functionName: string,
  settings: { readonly timeoutSeconds: number; readonly memoryMiB: number },
): LocalFunction {
  return { functionName, timeoutMs: settings.timeoutSeconds * 1000, memoryMiB: settings.memoryMiB };
}

interface AdminState {
  readonly toggles: WorkerToggles;
  readonly latency: { ms: number };
  readonly sqs: SQSClient;
  readonly queueUrl: string;
}

/**
 * The playground's own routes, not part of the reference API:
 * `POST /_playground/fix` `{"fixed":true}`, `POST /_playground/latency` `{"ms":1500}`,
 * `POST /_playground/jobs` (a raw job body, sent to the queue with the token's org), `GET /_playground/health`;
 * the page (`GET /_playground/`) and its events are {@link LiveView}'s.
 */
async function admin(request: GatewayRequest, state: AdminState): Promise<GatewayResponse | undefined> {
  const route = `${request.method} ${request.path}`;
  if (route === 'GET /_playground/health') {
    return json(200, { ok: true, fixed: state.toggles.fixed, latencyMs: state.latency.ms });
  }
  if (route === 'POST /_playground/fix') {
    const body = parseJson(request.body) as { fixed?: unknown } | undefined;
    if (typeof body?.fixed !== 'boolean') return badBody('{"fixed": true} or {"fixed": false}');
    state.toggles.fixed = body.fixed;
    return json(200, { fixed: state.toggles.fixed });
  }
  if (route === 'POST /_playground/latency') {
    const body = parseJson(request.body) as { ms?: unknown } | undefined;
    const ms = body?.ms;
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 60_000) {
      return badBody('{"ms": 1500}, a whole number of milliseconds from 0 to 60000');
    }
    state.latency.ms = ms;
    return json(200, { latencyMs: ms });
  }
  if (route === 'POST /_playground/jobs') {
    if (request.org === undefined) {
      return problem(
        401,
        'unauthorized',
        'Development token required',
        'Send `Authorization: Bearer dev:<org>`: the job carries the org as its orgId attribute.',
      );
    }
    if (parseJson(request.body) === undefined)
      return badBody('a JSON job such as {"invoiceId":"inv-7","orderId":7}');
    const { MessageId } = await state.sqs.send(
      new SendMessageCommand({
        QueueUrl: state.queueUrl,
        MessageBody: request.body.toString('utf8'),
        MessageAttributes: { orgId: { DataType: 'String', StringValue: request.org } },
      }),
    );
    return json(202, { messageId: MessageId });
  }
  return undefined;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function badBody(expected: string): GatewayResponse {
  return problem(400, 'bad-request', 'Unexpected body', `Send ${expected}.`);
}

function json(statusCode: number, body: unknown): GatewayResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
