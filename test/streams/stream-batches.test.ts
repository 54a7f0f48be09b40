/**
 * What the batch core decides for every stream source, on a memory store: order per unit, which failure of a unit
 * is named and how, in-batch duplicates collapsed, a retried record's own live lease, and the rollout modes. The
 * same scenarios against DynamoDB Local are in stream-jobs.dynamodb.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Signal } from '../../src/core/telemetry.js';
import { RecordStatus } from '../../src/core/types.js';
import { fakeContext, gate, recordingTelemetry, until } from '../sqs/support.js';
import { CountingStore } from '../support/counting-store.js';
import { freshJob, type Payload, SOURCES, type SourceHarness } from './sources.js';
import type { Spec } from './specs.js';

const SCOPE = 'stream-job';

class RejectedError extends Error {
  override name = 'RejectedError';
}

/**
 * A handler on a fresh memory store; `runs` lists each job `processRecord` started, in order. A job named in
 * `held` waits until the test opens its gate.
 */
function build(
  source: SourceHarness,
  options: { mode?: 'enforce' | 'observe' | 'off'; held?: Map<string, { wait: Promise<void> }> } = {},
) {
  const store = new CountingStore();
  const recording = recordingTelemetry();
  const runs: string[] = [];
  const handler = source.handler({
    store,
    scope: SCOPE,
    environment: 'test',
    mode: options.mode ?? 'enforce',
    telemetry: recording.telemetry,
    isPermanentError: (error) => error instanceof RejectedError,
    processRecord: async (payload: Payload) => {
      runs.push(payload.job);
      await options.held?.get(payload.job)?.wait;
      if (payload.fail === 'retryable') throw new Error('try again');
      if (payload.fail === 'permanent') throw new RejectedError('never');
      return { done: payload.job };
    },
  });
  const invoke = (event: unknown) => handler(event as never, fakeContext() as never);
  return { invoke, runs, store, ...recording };
}

const spec = (unit: string, job: string, extra: Partial<Payload> = {}, place: Partial<Spec> = {}): Spec => ({
  unit,
  payload: { job, org: 'acme', ...extra },
  ...place,
});
const identifiers = (response: { batchItemFailures: { itemIdentifier: unknown }[] }) =>
  response.batchItemFailures.map((failure) => failure.itemIdentifier);

describe.each(SOURCES)('$name on a memory store', (source) => {
  it('names only the first failure of each unit, in delivery order, and runs nothing after it in that unit', async () => {
    const { invoke, runs } = build(source);
    const [a1, a2, a3, b1, b2, c1] = [freshJob(), freshJob(), freshJob(), freshJob(), freshJob(), freshJob()];
    const { event, failures } = source.event([
      spec('u0', a1),
      // Named before b1 (delivered before it) though it fails after b1 does: it waits for a1 first.
      spec('u0', a2, { fail: 'retryable' }),
      spec('u1', b1, { fail: 'retryable' }),
      spec('u0', a3, { fail: 'retryable' }),
      spec('u2', c1),
      spec('u1', b2),
    ]);

    expect(identifiers(await invoke(event))).toEqual([failures[1], failures[2]]);
    expect([...runs].sort()).toEqual([a1, a2, b1, c1].sort());
  });

  it('runs the records of one unit one at a time, in order, and the units side by side', async () => {
    const [a1, a2, b1] = [freshJob(), freshJob(), freshJob()];
    const held = new Map([a1, a2, b1].map((job) => [job, gate()]));
    const { invoke, runs } = build(source, { held });
    const { event } = source.event([spec('u0', a1), spec('u0', a2), spec('u1', b1)]);

    const response = invoke(event);
    await until(() => runs.length === 2);
    expect([...runs].sort()).toEqual([a1, b1].sort());
    held.get(b1)?.open();
    held.get(a1)?.open();
    await until(() => runs.length === 3);
    expect(runs[2]).toBe(a2);
    held.get(a2)?.open();
    expect(identifiers(await response)).toEqual([]);
  });

  it('runs a job carried by records of several units once, and acknowledges them all', async () => {
    const { invoke, runs, store } = build(source);
    const job = freshJob();
    const { event } = source.event([spec('u0', job), spec('u1', job), spec('u2', job)]);

    expect(identifiers(await invoke(event))).toEqual([]);
    expect(runs).toEqual([job]);
    expect(store.count('claim')).toBe(1);
  });

  it("names every unit's record of a job whose one run failed", async () => {
    const { invoke, runs } = build(source);
    const job = freshJob();
    const { event, failures } = source.event([
      spec('u0', job, { fail: 'retryable' }),
      spec('u1', job, { fail: 'retryable' }),
    ]);

    expect(identifiers(await invoke(event))).toEqual([failures[0], failures[1]]);
    expect(runs).toEqual([job]);
  });

  it('names a record that reuses a job key of the batch with another meaning, counted as an in-batch mismatch', async () => {
    const { invoke, runs, signals } = build(source);
    const job = freshJob();
    const { event, failures } = source.event([
      spec('u0', job, { version: 1 }),
      spec('u1', job, { version: 2 }),
    ]);

    expect(identifiers(await invoke(event))).toEqual([failures[1]]);
    expect(runs).toEqual([job]);
    const mismatches = signals.filter((entry) => entry.signal === Signal.Mismatch);
    expect(mismatches.map((entry) => entry.facts.detail)).toEqual([{ inBatch: true }]);
    expect(mismatches[0]?.facts).toMatchObject({ org: 'acme', scope: SCOPE, mode: 'enforce' });
    expect(JSON.stringify(mismatches)).not.toContain(job);
  });

  it('keeps the same job key of two orgs in one batch as two jobs', async () => {
    const { invoke, runs } = build(source);
    const job = freshJob();
    const { event } = source.event([spec('u0', job), spec('u1', job, { org: 'globex' })]);

    expect(identifiers(await invoke(event))).toEqual([]);
    expect(runs).toEqual([job, job]);
  });

  it("names a retried record that finds its own earlier delivery's lease live, and acknowledges another record of the job", async () => {
    const job = freshJob();
    const held = new Map([[job, gate()]]);
    const { invoke, runs } = build(source, { held });
    const original = source.event([spec('u0', job)]);
    const running = invoke(original.event);
    await until(() => runs.length === 1);

    // Lambda retried the batch while the first invocation still runs it: the same record, the same identity.
    expect(identifiers(await invoke(source.event([spec('u0', job)]).event))).toEqual([original.failures[0]]);
    // Another record of the job (a producer's repeat): the running delivery still guards it.
    const repeat = source.event([
      spec('u0', job, {}, { sequence: '49000000000000000000000999', offset: 999 }),
    ]);
    expect(identifiers(await invoke(repeat.event))).toEqual([]);

    held.get(job)?.open();
    expect(identifiers(await running)).toEqual([]);
    expect(runs).toEqual([job]);
  });

  it('keeps a permanently failed job FAILED and names it again on a retry without running it', async () => {
    const { invoke, runs, store, count } = build(source);
    const poisoned = freshJob();
    const specs = [spec('u0', poisoned, { fail: 'permanent' })];
    const { event, failures } = source.event(specs);

    expect(identifiers(await invoke(event))).toEqual([failures[0]]);
    expect(store.records().map((record) => record.status)).toEqual([RecordStatus.Failed]);
    expect(count(Signal.PermanentFailure)).toBe(1);
    expect(identifiers(await invoke(source.event(specs).event))).toEqual([failures[0]]);
    // A stream has no replay marker: another record of the job (a producer's repeat) does not reopen it either.
    const repeat = source.event([
      spec('u0', poisoned, { fail: 'permanent' }, { sequence: '49000000000000000000000999', offset: 999 }),
    ]);
    expect(identifiers(await invoke(repeat.event))).toEqual([repeat.failures[0]]);
    expect(runs).toEqual([poisoned]);
  });

  it('acknowledges a completed job delivered again without running it, and reads no batch first', async () => {
    const { invoke, runs, store } = build(source);
    const specs = [spec('u0', freshJob()), spec('u1', freshJob())];
    await invoke(source.event(specs).event);
    store.calls.length = 0;

    expect(identifiers(await invoke(source.event(specs).event))).toEqual([]);
    expect(runs).toHaveLength(2);
    // A stream does not say which records it delivered before: each job is claimed, none is read in a batch.
    expect(store.calls).toEqual(['claim', 'claim']);
  });

  it('runs every record in observe mode, duplicates of the batch too', async () => {
    const { invoke, runs } = build(source, { mode: 'observe' });
    const job = freshJob();
    const { event } = source.event([spec('u0', job), spec('u1', job)]);

    expect(identifiers(await invoke(event))).toEqual([]);
    expect(runs).toEqual([job, job]);
  });

  it('in off mode runs every record, keeps order per unit, names the first failure and never calls the store', async () => {
    const { invoke, runs, store } = build(source, { mode: 'off' });
    const [a1, a2, b1] = [freshJob(), freshJob(), freshJob()];
    const { event, failures } = source.event([
      spec('u0', a1, { fail: 'retryable' }),
      spec('u0', a2),
      spec('u1', b1),
      spec('u1', b1),
    ]);

    expect(identifiers(await invoke(event))).toEqual([failures[0]]);
    expect([...runs].sort()).toEqual([a1, b1, b1].sort());
    expect(store.calls).toEqual([]);
  });
});
