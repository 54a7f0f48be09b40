import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { Meter, type Tally } from './metering.js';
import {
  benchClient,
  type HttpSideOptions,
  httpHandler,
  invoiceRecord,
  lambdaContext,
  orderBody,
  orderEvent,
  SIDES,
  type Side,
  sqsHandler,
} from './sides.js';
import { orderFor } from './stats.js';
import { type OrderChange, type StreamSource, streamBatch, streamHandler } from './stream-sides.js';
import { createSideTable } from './tables.js';

export interface PathsInput {
  readonly endpoint: string;
  readonly repeats: number;
}

/** One path's measurements for one side, one entry per repeat. */
export interface PathSample {
  readonly tallies: Tally[];
  readonly outcomes: string[];
  /** Batch paths only: the records the side reported failed (Lambda redelivers them). */
  readonly failed?: number[];
  /** Batch paths only: how many times the side ran the job itself. */
  readonly runs?: number[];
}

export interface PathResult {
  readonly id: string;
  readonly label: string;
  readonly note?: string;
  readonly sides: Record<Side, PathSample>;
}

export interface PathsOutput {
  readonly paths: PathResult[];
  readonly sizeCheck: { matched: number; mismatched: number };
}

interface Env {
  readonly side: Side;
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly meter: Meter;
}

type Measured = {
  readonly tally: Tally;
  readonly outcome: string;
  readonly failed?: number;
  readonly runs?: number;
};

export interface Scenario {
  readonly id: string;
  readonly label: string;
  readonly note?: string;
  run(env: Env, round: RoundState): Promise<Measured>;
}

/**
 * Jobs shared between scenarios of one round (a redelivery replays the first batch's jobs). Stream batches
 * are built once per round and given to both sides, so both handle the very same records.
 */
interface RoundState {
  lastBatch: Record<Side, SQSRecord[]>;
  streamBatches: Map<string, { Records: unknown[] }>;
}

const SMALL = orderBody(1024, 1);
const LARGE = orderBody(64 * 1024, 2);

function statusOf(response: unknown): string {
  const result = response as { statusCode?: number; headers?: Record<string, string> } | undefined;
  if (result?.statusCode === undefined) return 'no response';
  const replayed = Object.entries(result.headers ?? {}).some(
    ([name, value]) => name.toLowerCase() === 'idempotent-replayed' && value === 'true',
  );
  return `${result.statusCode}${replayed ? ' replayed' : ''}`;
}

function errorOf(error: unknown): string {
  return error instanceof Error ? `threw ${error.name}` : 'threw';
}

async function measure(env: Env, work: () => Promise<string>): Promise<Measured> {
  const from = env.meter.calls.length;
  const outcome = await work();
  return { tally: env.meter.tally(from), outcome };
}

function http(env: Env, options: Omit<HttpSideOptions, 'client' | 'tableName'> = {}) {
  const handler = httpHandler(env.side, { client: env.client, tableName: env.tableName, ...options });
  return (key: string, body: string) => handler(orderEvent(key, body), lambdaContext());
}

function firstExecution(body: string): Scenario['run'] {
  return async (env) => {
    const invoke = http(env);
    return measure(env, async () => statusOf(await invoke(randomUUID(), body)));
  };
}

function replay(body: string, cache: boolean): Scenario['run'] {
  return async (env) => {
    const invoke = http(env, { cache });
    const key = randomUUID();
    await invoke(key, body);
    return measure(env, async () => statusOf(await invoke(key, body)));
  };
}

function concurrentDuplicate(waitBudgetMs: number): Scenario['run'] {
  return async (env) => {
    const invoke = http(env, { delayMs: 150, waitBudgetMs });
    const key = randomUUID();
    return measure(env, async () => {
      const first = invoke(key, SMALL);
      await sleep(30);
      const duplicate = await invoke(key, SMALL).then(statusOf, errorOf);
      const original = await first.then(statusOf, errorOf);
      return `first ${original}, duplicate ${duplicate}`;
    });
  };
}

function batch(kind: 'distinct' | 'pairs' | 'redelivery' | 'one-job'): Scenario['run'] {
  return async (env, round) => {
    const handler = sqsHandler(env.side, { client: env.client, tableName: env.tableName });
    let records: SQSRecord[];
    if (kind === 'distinct') {
      records = Array.from({ length: 10 }, () => invoiceRecord(`inv-${randomUUID()}`));
      round.lastBatch[env.side] = records;
    } else if (kind === 'pairs') {
      const five = Array.from({ length: 5 }, () => `inv-${randomUUID()}`);
      records = [...five, ...five].map(invoiceRecord);
    } else if (kind === 'redelivery') {
      // What SQS redelivers: the same messages (same messageId), with the receive count raised.
      records = round.lastBatch[env.side].map((record) => ({
        ...record,
        attributes: { ...record.attributes, ApproximateReceiveCount: '2' },
      }));
    } else {
      const one = `inv-${randomUUID()}`;
      records = Array.from({ length: 10 }, () => invoiceRecord(one));
    }
    const event = { Records: records };
    let failed: number | undefined;
    const measured = await measure(env, async () => {
      try {
        const response = (await handler(event, lambdaContext())) as SQSBatchResponse;
        failed = response.batchItemFailures.length;
        return `${failed} of 10 reported failed`;
      } catch (error) {
        return errorOf(error);
      }
    });
    return failed === undefined ? measured : { ...measured, failed };
  };
}

/** Ten changes of ten orders, of three orders (4, 3 and 3 records, interleaved), or the clean batch again. */
type StreamKind = 'clean' | 'duplicates' | 'redelivery';

function changes(kind: Exclude<StreamKind, 'redelivery'>): OrderChange[] {
  const orders = Array.from({ length: kind === 'clean' ? 10 : 3 }, () => `o-${randomUUID()}`);
  return Array.from({ length: 10 }, (_, index) => ({
    orderId: orders[index % orders.length] as string,
    orgId: 'acme',
    total: 100,
  }));
}

function streamScenario(source: StreamSource, kind: StreamKind): Scenario['run'] {
  return async (env, round) => {
    let runs = 0;
    const handler = streamHandler(env.side, source, {
      client: env.client,
      tableName: env.tableName,
      onRun: () => {
        runs++;
      },
    });
    // What Lambda redelivers after a retry: the same records, same sequence numbers.
    const built = kind === 'redelivery' ? 'clean' : kind;
    let event = round.streamBatches.get(`${source}:${built}`);
    if (event === undefined) {
      if (kind === 'redelivery')
        throw new Error(`the ${source} redelivery needs the clean batch of its round`);
      event = streamBatch(source, changes(kind));
      round.streamBatches.set(`${source}:${built}`, event);
    }
    const from = env.meter.calls.length;
    let failed: number | undefined;
    let outcome: string;
    try {
      const response = await handler(structuredClone(event), lambdaContext());
      failed = response.batchItemFailures.length;
      outcome = `${failed} of ${event.Records.length} reported failed, ${runs} jobs ran`;
    } catch (error) {
      outcome = errorOf(error);
    }
    return { tally: env.meter.tally(from), outcome, runs, ...(failed === undefined ? {} : { failed }) };
  };
}

const STREAM_LABELS: Record<StreamSource, string> = {
  kinesis: 'Kinesis',
  'dynamodb-streams': 'DynamoDB Streams',
};

function streamScenarios(source: StreamSource): Scenario[] {
  const name = STREAM_LABELS[source];
  return [
    { id: `${source}-clean`, label: `${name} batch of 10, 10 jobs`, run: streamScenario(source, 'clean') },
    {
      id: `${source}-duplicates`,
      label: `${name} batch of 10, 3 jobs`,
      note: 'in-batch duplicates: 3 orders with 4, 3 and 3 identical records, interleaved',
      run: streamScenario(source, 'duplicates'),
    },
    {
      id: `${source}-redelivery`,
      label: `${name} batch of 10, redelivered`,
      note: 'the 10-job batch again after it completed: what Lambda sends after a retry or a bisect',
      run: streamScenario(source, 'redelivery'),
    },
  ];
}

export const SCENARIOS: readonly Scenario[] = [
  { id: 'first-1k', label: 'first execution (1 KB body)', run: firstExecution(SMALL) },
  { id: 'first-64k', label: 'first execution (64 KB body)', run: firstExecution(LARGE) },
  { id: 'replay-1k', label: 'replay (1 KB)', run: replay(SMALL, false) },
  { id: 'replay-64k', label: 'replay (64 KB)', run: replay(LARGE, false) },
  { id: 'replay-warm', label: 'replay, warm local cache (1 KB)', run: replay(SMALL, true) },
  {
    id: 'concurrent',
    label: 'concurrent duplicate (pair, no wait)',
    note: 'idemkit waitBudgetMs 0: both sides answer the duplicate at once; counts cover both invocations',
    run: concurrentDuplicate(0),
  },
  {
    id: 'concurrent-wait',
    label: 'concurrent duplicate (pair, idemkit waits)',
    note: 'idemkit default waitBudgetMs 2000: the duplicate polls and replays; Powertools cannot wait (same run as above)',
    run: async (env, round) => concurrentDuplicate(env.side === 'idemkit' ? 2000 : 0)(env, round),
  },
  {
    id: 'error',
    label: 'handler error (1 KB)',
    run: async (env) => {
      const invoke = http(env, { fail: true });
      return measure(env, async () => invoke(randomUUID(), SMALL).then(statusOf, errorOf));
    },
  },
  { id: 'batch-0', label: 'SQS batch of 10, 0 duplicates', run: batch('distinct') },
  {
    id: 'batch-5',
    label: 'SQS batch of 10, 5 duplicates',
    note: '5 jobs, each sent twice in the batch',
    run: batch('pairs'),
  },
  {
    id: 'batch-10',
    label: 'SQS batch of 10, 10 duplicates',
    note: 'an SQS redelivery of the 0-duplicate batch: same messages, ApproximateReceiveCount 2, all jobs already completed',
    run: batch('redelivery'),
  },
  {
    id: 'batch-one-job',
    label: 'SQS batch of 10, one job 10 times',
    note: '9 in-batch duplicates of one new job',
    run: batch('one-job'),
  },
  ...streamScenarios('kinesis'),
  ...streamScenarios('dynamodb-streams'),
];

/**
 * Runs every scenario `input.repeats` times per side, alternating which side goes first, each side on its own
 * table of the same server, and returns what each sent and answered.
 */
export async function measurePaths(
  input: PathsInput,
  scenarios: readonly Scenario[] = SCENARIOS,
): Promise<PathsOutput> {
  const envs = {} as Record<Side, Env>;
  const meter = new Meter();
  for (const side of SIDES) {
    const client = benchClient(input.endpoint);
    const sideMeter = new Meter();
    sideMeter.install(client, { askCapacity: true });
    envs[side] = { side, client, tableName: await createSideTable(client, side), meter: sideMeter };
  }
  const results = scenarios.map(
    (scenario): PathResult => ({
      id: scenario.id,
      label: scenario.label,
      note: scenario.note,
      sides: {
        idemkit: { tallies: [], outcomes: [], failed: [], runs: [] },
        powertools: { tallies: [], outcomes: [], failed: [], runs: [] },
      },
    }),
  );
  for (let round = 0; round < input.repeats; round++) {
    const state: RoundState = { lastBatch: { idemkit: [], powertools: [] }, streamBatches: new Map() };
    for (const [index, scenario] of scenarios.entries()) {
      for (const side of orderFor(round, SIDES)) {
        const measured = await scenario.run(envs[side], state);
        const sample = results[index]?.sides[side];
        sample?.tallies.push(measured.tally);
        sample?.outcomes.push(measured.outcome);
        if (measured.failed !== undefined) sample?.failed?.push(measured.failed);
        if (measured.runs !== undefined) sample?.runs?.push(measured.runs);
      }
    }
  }
  for (const side of SIDES) {
    meter.sizeCheck.matched += envs[side].meter.sizeCheck.matched;
    meter.sizeCheck.mismatched += envs[side].meter.sizeCheck.mismatched;
    envs[side].client.destroy();
  }
  // Only batch paths report failures and runs; the others keep the shape they always had.
  for (const result of results) {
    for (const side of SIDES) {
      const sample = result.sides[side] as { failed?: number[]; runs?: number[] };
      if (sample.failed?.length === 0) delete sample.failed;
      if (sample.runs?.length === 0) delete sample.runs;
    }
  }
  return { paths: results, sizeCheck: meter.sizeCheck };
}
