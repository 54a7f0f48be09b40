import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { Meter, type Tally } from '../lib/metering.js';
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
} from '../lib/sides.js';
import { orderFor } from '../lib/stats.js';
import { createSideTable } from '../lib/tables.js';
import { workerMain } from '../lib/worker.js';

export interface PathsInput {
  readonly endpoint: string;
  readonly repeats: number;
}

/** One path's measurements for one side, one entry per repeat. */
export interface PathSample {
  readonly tallies: Tally[];
  readonly outcomes: string[];
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

type Measured = { readonly tally: Tally; readonly outcome: string };

interface Scenario {
  readonly id: string;
  readonly label: string;
  readonly note?: string;
  run(env: Env, round: RoundState): Promise<Measured>;
}

/** Jobs shared between scenarios of one round (the redelivery replays the first batch's jobs). */
interface RoundState {
  lastBatch: Record<Side, SQSRecord[]>;
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
    return measure(env, async () => {
      try {
        const response = (await handler(event, lambdaContext())) as SQSBatchResponse;
        return `${response.batchItemFailures.length} of 10 reported failed`;
      } catch (error) {
        return errorOf(error);
      }
    });
  };
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
];

workerMain<PathsInput, PathsOutput>(async (input) => {
  const envs = {} as Record<Side, Env>;
  const meter = new Meter();
  for (const side of SIDES) {
    const client = benchClient(input.endpoint);
    const sideMeter = new Meter();
    sideMeter.install(client, { askCapacity: true });
    envs[side] = { side, client, tableName: await createSideTable(client, side), meter: sideMeter };
  }
  const results = SCENARIOS.map(
    (scenario): PathResult => ({
      id: scenario.id,
      label: scenario.label,
      note: scenario.note,
      sides: { idemkit: { tallies: [], outcomes: [] }, powertools: { tallies: [], outcomes: [] } },
    }),
  );
  for (let round = 0; round < input.repeats; round++) {
    const state: RoundState = { lastBatch: { idemkit: [], powertools: [] } };
    for (const [index, scenario] of SCENARIOS.entries()) {
      for (const side of orderFor(round, SIDES)) {
        const measured = await scenario.run(envs[side], state);
        const sample = results[index]?.sides[side];
        sample?.tallies.push(measured.tally);
        sample?.outcomes.push(measured.outcome);
      }
    }
  }
  for (const side of SIDES) {
    meter.sizeCheck.matched += envs[side].meter.sizeCheck.matched;
    meter.sizeCheck.mismatched += envs[side].meter.sizeCheck.mismatched;
    envs[side].client.destroy();
  }
  return { paths: results, sizeCheck: meter.sizeCheck };
});
