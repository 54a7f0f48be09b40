/**
 * Scenario 1's HTTP load, on any store: one worker process per store given, each firing concurrent requests
 * over the same keys, and what they answered, ran and logged.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { HttpAnswer, HttpWorkerStore } from './fixtures/http-worker.js';
import {
  createEffectsTable,
  readEffects,
  resultOf,
  type SecretLedger,
  signalCounts,
  startWorker,
  statusCounts,
  tally,
} from './support.js';

/** What {@link httpLoad} saw: the answers, the effects counted per key, the signals and every log line. */
export interface HttpLoad {
  /** The raw keys (secrets), request `i` of worker `p` used key `(i + 13 p) % keys.length`. */
  readonly keys: readonly string[];
  readonly answers: readonly HttpAnswer[];
  readonly effects: ReadonlyMap<string, number>;
  readonly counted: ReturnType<typeof tally>;
  readonly statuses: Record<string, number>;
  /** Whether every 201 for one key carries the body of its one execution. */
  readonly oneRunPerKey: boolean;
  readonly signals: Record<string, number>;
  readonly lines: readonly string[];
}

/**
 * Runs `invocations` concurrent requests in each of one worker per store, over `keyCount` keys, started together.
 *
 * @example
 * const run = await httpLoad({ endpoint, client, secrets, stores: [{ tableName }, { tableName }], keyCount: 50, invocations: 100 });
 */
export async function httpLoad(options: {
  readonly endpoint: string;
  /** The DynamoDB Local client of the effects table. */
  readonly client: DynamoDBClient;
  readonly secrets: SecretLedger;
  readonly stores: readonly HttpWorkerStore[];
  readonly keyCount: number;
  readonly invocations: number;
}): Promise<HttpLoad> {
  const { endpoint, client, secrets } = options;
  const effectsTable = await createEffectsTable(client);
  const keys = Array.from({ length: options.keyCount }, () => secrets.next('load-key'));
  const payloads = keys.map(() => secrets.next('load-payload'));
  const results = keys.map(() => secrets.next('load-result'));
  const workers = options.stores.map((store, p) =>
    startWorker('http-worker.ts', {
      ...store,
      mode: 'load',
      endpoint,
      effectsTable,
      lockTtlSeconds: 30,
      waitBudgetMs: 10_000,
      keys,
      payloads,
      results,
      invocations: options.invocations,
      offset: p * 13,
      workMs: 20,
    }),
  );
  await Promise.all(workers.map((worker) => worker.line('ready')));
  for (const worker of workers) worker.send('go');
  const answers = (
    await Promise.all(workers.map((worker) => resultOf<HttpAnswer[]>(worker, 120_000)))
  ).flat();

  const effects = await readEffects(client, effectsTable);
  const runsPerKey = new Map<number, Set<string>>();
  for (const answer of answers.filter((a) => a.status === 201)) {
    const runs = runsPerKey.get(answer.index) ?? new Set<string>();
    runs.add(answer.run ?? '');
    runsPerKey.set(answer.index, runs);
  }
  const lines = workers.flatMap((worker) => worker.lines);
  return {
    keys,
    answers,
    effects,
    counted: tally(
      effects,
      keys.map((_, index) => `k${index}`),
    ),
    statuses: statusCounts(answers),
    oneRunPerKey: [...runsPerKey.values()].every((runs) => runs.size === 1),
    signals: signalCounts(lines),
    lines,
  };
}
