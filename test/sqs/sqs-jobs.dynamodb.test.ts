import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeResult } from '../../src/core/codec.js';
import { recordKey } from '../../src/core/keys.js';
import { Signal } from '../../src/core/telemetry.js';
import { RecordStatus, type Store } from '../../src/core/types.js';
import { REPLAY_ATTRIBUTE, type SqsJobsOptions, sqsJobs } from '../../src/sqs/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import {
  eventOf,
  fakeContext,
  gate,
  invoiceIdOf,
  loadEvent,
  recordingTelemetry,
  redelivered,
  replayed,
  reported,
  resent,
  until,
  withInvoice,
} from './support.js';

const { client, counter } = localClient();
afterAll(() => client.destroy());

let store: DynamoDBStore;
beforeEach(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'sqs'), client });
  counter.reset();
});

const SCOPE = 'send-invoice-email';

/** A handler on this test's table; `runs` lists the invoice ids `processRecord` saw, in order. */
function build(overrides: Partial<SqsJobsOptions> = {}) {
  const recording = recordingTelemetry();
  const runs: string[] = [];
  const handler = sqsJobs({
    store,
    scope: SCOPE,
    environment: 'test',
    mode: 'enforce',
    telemetry: recording.telemetry,
    org: (record) => record.messageAttributes.orgId?.stringValue,
    jobKey: (record) => invoiceIdOf(record),
    processRecord: async (record) => {
      runs.push(invoiceIdOf(record));
      return { sent: invoiceIdOf(record) };
    },
    ...overrides,
  });
  return { handler, runs, ...recording };
}

const stored = (invoiceId: string, org = 'acme') => store.get(recordKey(org, SCOPE, invoiceId));
const idsOf = (records: SQSRecord[], invoiceId: string) =>
  records.filter((record) => invoiceIdOf(record) === invoiceId).map((record) => record.messageId);

describe('partial batch responses', () => {
  it('answers an empty batchItemFailures list when every job succeeded', async () => {
    const { handler, runs } = build();

    const response = await handler(loadEvent('sqs-standard-batch'), fakeContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(runs.sort()).toEqual(['inv-2026-1001', 'inv-2026-1002', 'inv-2026-1003']);
  });

  it('fails only the records without a usable job key or org, and logs why without the raw key', async () => {
    const { handler, runs, signals, text } = build();
    const [good, template] = loadEvent('sqs-standard-batch').Records as [SQSRecord, SQSRecord];
    const longKey = `inv-${'9'.repeat(300)}`;
    const notJson = { ...withInvoice(template, 'x'), body: 'invoice inv-2026-1002 for cus-42' };
    const noKey = { ...withInvoice(template, 'x'), body: JSON.stringify({ customerId: 'cus-42' }) };
    const tooLong = withInvoice(template, longKey);
    const noOrg = { ...withInvoice(template, 'inv-2026-1005'), messageAttributes: {} };
    const badOrg = {
      ...withInvoice(template, 'inv-2026-1006'),
      messageAttributes: { orgId: { ...template.messageAttributes.orgId, stringValue: 'acme#evil' } },
    } as SQSRecord;
    const unusable = [notJson, noKey, tooLong, noOrg, badOrg];

    const response = await handler(eventOf(good, ...unusable), fakeContext());

    expect(reported(response)).toEqual(unusable.map((record) => record.messageId));
    expect(runs).toEqual([invoiceIdOf(good)]);
    expect(signals.map((entry) => entry.signal)).toEqual([
      Signal.MissingKey,
      Signal.MissingKey,
      Signal.InvalidKey,
      Signal.InvalidOrg,
      Signal.InvalidOrg,
      Signal.FirstExecution,
    ]);
    const missing = signals.slice(0, unusable.length);
    expect(missing.map((entry) => entry.facts.correlationId)).toEqual(unusable.map((r) => r.messageId));
    expect(missing.map((entry) => entry.facts.detail?.reason)).toEqual([
      expect.stringContaining('`jobKey` threw SyntaxError'),
      expect.stringContaining('Expected `jobKey` to return'),
      'Expected the idempotency key to be 1 to 255 characters, got 304.',
      expect.stringContaining('Expected `org` to return the tenant as a string, got undefined'),
      expect.stringContaining('Expected `org` to be printable'),
    ]);
    expect(text()).not.toContain('999999999');
    expect(text()).not.toContain('cus-42');
  });
});

describe('duplicates in one batch', () => {
  it('collapses 10 records carrying 3 job keys into 3 claims and 3 runs', async () => {
    const { handler, runs } = build();

    const response = await handler(loadEvent('sqs-standard-batch'), fakeContext());

    expect(response.batchItemFailures).toEqual([]);
    expect(runs).toHaveLength(3);
    expect(counter.count('PutItemCommand')).toBe(3);
    // One claim and one completion per job; nothing else touches the table.
    expect(counter.count()).toBe(6);
  });

  it('reports a duplicate whose body differs as a mismatch instead of acknowledging it', async () => {
    const { handler, runs, count } = build();
    const [first] = loadEvent('sqs-standard-batch').Records as [SQSRecord];
    const changed = { ...resent(first), body: first.body.replace('12900', '12901') };

    const response = await handler(eventOf(first, changed), fakeContext());

    expect(reported(response)).toEqual([changed.messageId]);
    expect(runs).toEqual(['inv-2026-1001']);
    expect(count(Signal.Mismatch)).toBe(1);
  });

  it('reports every record of a failed job and releases it, so a redelivery runs it again', async () => {
    let failing = true;
    const { handler, runs, count } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        if (failing && invoiceIdOf(record) === 'inv-2026-1002') throw new Error('SMTP 451 try again later');
      },
    });
    const { Records } = loadEvent('sqs-standard-batch');

    const first = await handler(eventOf(...Records), fakeContext());

    expect(reported(first)).toEqual(idsOf(Records, 'inv-2026-1002'));
    expect(await stored('inv-2026-1002')).toBeUndefined();
    expect(count(Signal.Released)).toBe(1);

    failing = false;
    const retry = await handler(eventOf(...Records.map(redelivered)), fakeContext());

    expect(retry.batchItemFailures).toEqual([]);
    expect(runs.filter((id) => id === 'inv-2026-1002')).toHaveLength(2);
    expect(runs.filter((id) => id === 'inv-2026-1001')).toHaveLength(1);
    expect((await stored('inv-2026-1002'))?.status).toBe(RecordStatus.Completed);
  });
});

describe('completed and running jobs', () => {
  it('acknowledges completed jobs sent again without running them: one batch read, no write', async () => {
    const { handler, runs } = build();
    const { Records } = loadEvent('sqs-standard-batch');
    await handler(eventOf(...Records), fakeContext());
    counter.reset();

    const again = await handler(eventOf(...Records.map(resent)), fakeContext());

    expect(again.batchItemFailures).toEqual([]);
    expect(runs).toHaveLength(3);
    expect(counter.calls).toEqual(['BatchGetItemCommand']);
  });

  it('claims a first delivery without a batch read, even next to one redelivered message', async () => {
    const { handler } = build();
    // The sample batch holds one message received twice: a single redelivered job costs no extra read.
    await handler(loadEvent('sqs-standard-batch'), fakeContext());
    expect(counter.count('BatchGetItemCommand')).toBe(0);
  });

  it("acknowledges a job whose live lease belongs to another message, and leaves it to that message's run", async () => {
    const held = gate();
    const { handler, runs } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        await held.wait;
      },
    });
    const [record] = loadEvent('sqs-standard-batch').Records as [SQSRecord];
    const owner = handler(eventOf(record), fakeContext());
    await until(() => runs.length === 1);

    const copy = await handler(eventOf(resent(record)), fakeContext());

    expect(copy.batchItemFailures).toEqual([]);
    expect((await stored('inv-2026-1001'))?.owner).toBe(record.messageId);
    held.open();
    expect((await owner).batchItemFailures).toEqual([]);
    expect(runs).toEqual(['inv-2026-1001']);
  });

  it('reports a job whose live lease belongs to another delivery of the same message', async () => {
    const held = gate();
    const { handler, runs } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        await held.wait;
      },
    });
    const [record] = loadEvent('sqs-standard-batch').Records as [SQSRecord];
    const firstDelivery = handler(eventOf(record), fakeContext());
    await until(() => runs.length === 1);

    const secondDelivery = await handler(eventOf(redelivered(record)), fakeContext());

    expect(reported(secondDelivery)).toEqual([record.messageId]);
    held.open();
    expect((await firstDelivery).batchItemFailures).toEqual([]);
    expect(runs).toEqual(['inv-2026-1001']);
  });
});

/**
 * A meeting point for jobs that must overlap: `heldUntil(n)` waits until `n` callers are waiting at once (then
 * every later caller passes), or until a generous bound, so a door that never runs `n` at once fails on its
 * count instead of hanging the test.
 */
function overlap(boundMs = 20_000): { heldUntil(n: number): Promise<void> } {
  let waiting = 0;
  let open = false;
  const released: Array<() => void> = [];
  return {
    heldUntil(n) {
      waiting++;
      if (open || waiting >= n) {
        open = true;
        for (const release of released.splice(0)) release();
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, boundMs);
        released.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

describe('bounded concurrency', () => {
  it('never runs more jobs at once than `concurrency`, and does reach it', async () => {
    const allRunning = overlap();
    let running = 0;
    let most = 0;
    const { handler } = build({
      concurrency: 3,
      processRecord: async () => {
        most = Math.max(most, ++running);
        // Held until three run at once, so the bound is reached however slow the machine; a limiter that
        // never lets three run fails on `most` once the generous bound has passed.
        await allRunning.heldUntil(3);
        running--;
      },
    });
    const [template] = loadEvent('sqs-standard-batch').Records as [SQSRecord];
    const records = Array.from({ length: 10 }, (_, index) => withInvoice(template, `inv-2026-5${index}`));

    const response = await handler(eventOf(...records), fakeContext());

    expect(response.batchItemFailures).toEqual([]);
    expect(most).toBe(3);
  });

  it('rejects bad options at cold start, naming the option', () => {
    expect(() => build({ concurrency: 0 })).toThrow(
      'Expected `concurrency` of `sqsJobs` to be a number of at least 1, got 0.',
    );
    expect(() => build({ concurrency: 2.5 })).toThrow(/Expected `concurrency` of `sqsJobs` to be an integer/);
    expect(() => build({ lockTtlSeconds: 10, renewEvery: 10_000 })).toThrow(
      /Expected `renewEvery` of `sqsJobs` to be shorter than the lock TTL \(10000 ms\), got 10000/,
    );
    expect(() => build({ concurency: 3 } as Partial<SqsJobsOptions>)).toThrow(
      /Unknown option `concurency`.*did you mean `concurrency`/,
    );
    expect(() => build({ scope: 'send#invoice' })).toThrow(
      /Expected `scope` of `sqsJobs` to be .*printable.*got 'send#invoice'/,
    );
  });
});

describe('FIFO queues', () => {
  it('runs each message group in order and stops a group at its first failure while other groups carry on', async () => {
    const { handler, runs } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        if (invoiceIdOf(record) === 'inv-2026-2002') throw new Error('template missing');
      },
    });
    const { Records } = loadEvent('sqs-fifo-batch');

    const response = await handler(eventOf(...Records), fakeContext());

    expect(reported(response)).toEqual([
      ...idsOf(Records, 'inv-2026-2002'),
      ...idsOf(Records, 'inv-2026-2003'),
    ]);
    expect(runs.filter((id) => id.startsWith('inv-2026-20'))).toEqual(['inv-2026-2001', 'inv-2026-2002']);
    expect(runs.filter((id) => id.startsWith('inv-2026-21'))).toEqual(['inv-2026-2101', 'inv-2026-2102']);
    expect(runs).toContain('inv-2026-2201');
    expect(await stored('inv-2026-2003')).toBeUndefined();
  });

  it('runs message groups side by side but the records of one group one at a time', async () => {
    const overall = overlap();
    const inFlight = new Map<string, number>();
    let mostInGroup = 0;
    let mostOverall = 0;
    const { handler } = build({
      processRecord: async (record) => {
        const group = record.attributes.MessageGroupId ?? '';
        inFlight.set(group, (inFlight.get(group) ?? 0) + 1);
        mostInGroup = Math.max(mostInGroup, ...inFlight.values());
        mostOverall = Math.max(
          mostOverall,
          [...inFlight.values()].reduce((a, b) => a + b, 0),
        );
        // Held until two records run at once (two groups, if the door keeps each group to one at a time).
        await overall.heldUntil(2);
        inFlight.set(group, (inFlight.get(group) ?? 1) - 1);
      },
    });

    const response = await handler(loadEvent('sqs-fifo-batch'), fakeContext());

    expect(response.batchItemFailures).toEqual([]);
    expect(mostInGroup).toBe(1);
    expect(mostOverall).toBeGreaterThan(1);
  });
});

describe('long jobs and leases', () => {
  it('renews the lease while processRecord runs, so a copy arriving after the first lease ended is acknowledged', async () => {
    let now = Date.now();
    const clock = () => now;
    const held = gate();
    const { handler, runs } = build({
      clock,
      renewEvery: 20,
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        await held.wait;
      },
    });
    const [record] = loadEvent('sqs-standard-batch').Records as [SQSRecord];
    const owner = handler(eventOf(record), fakeContext());
    await until(() => runs.length === 1);

    // Two lock TTLs (60 s in `test`) later: without a renewal, the first lease has long ended.
    now += 120_000;
    const updatesBefore = counter.count('UpdateItemCommand');
    await until(() => counter.count('UpdateItemCommand') >= updatesBefore + 2);
    const copy = await handler(eventOf(resent(record)), fakeContext());

    expect(copy.batchItemFailures).toEqual([]);
    expect((await stored('inv-2026-1001'))?.leaseUntil).toBeGreaterThan(now);
    held.open();
    expect((await owner).batchItemFailures).toEqual([]);
    expect(runs).toEqual(['inv-2026-1001']);
    expect((await stored('inv-2026-1001'))?.status).toBe(RecordStatus.Completed);
  });

  it('writes no outcome for a job whose lease was taken over, and counts it as lease_lost', async () => {
    const now = Date.now();
    const held = gate();
    let audited = 0;
    const slow = build({
      clock: () => now,
      renewEvery: 20,
      processRecord: async () => {
        await held.wait;
        return 'slow';
      },
      onFirstCompletion: () => {
        audited++;
      },
    });
    // A second Lambda instance whose clock is past the slow job's lease: it may take the job over.
    const taker = build({ clock: () => now + 120_000, processRecord: async () => 'taker' });
    const [record] = loadEvent('sqs-standard-batch').Records as [SQSRecord];
    const slowRun = slow.handler(eventOf(record), fakeContext());
    await until(() => counter.count('UpdateItemCommand') >= 1);

    expect((await taker.handler(eventOf(resent(record)), fakeContext())).batchItemFailures).toEqual([]);
    await until(() => slow.count(Signal.LeaseLost) === 1);
    held.open();

    expect((await slowRun).batchItemFailures).toEqual([]);
    const lost = slow.signals.filter((entry) => entry.signal === Signal.LeaseLost);
    expect(lost.map((entry) => entry.facts.detail?.during)).toEqual(['renew']);
    const record_ = await stored('inv-2026-1001');
    expect(record_?.status).toBe(RecordStatus.Completed);
    expect(decodeResult(record_?.result)).toBe('taker');
    expect(audited).toBe(0);
  });
});

describe('a redelivered batch', () => {
  it('is read in one BatchGetItem first: completed jobs are acknowledged without a write or a run', async () => {
    const { handler, runs, count } = build();
    const { Records } = loadEvent('sqs-standard-batch');
    await handler(eventOf(...Records), fakeContext());
    const ran = runs.length;
    counter.reset();

    const again = await handler(eventOf(...Records.map(redelivered)), fakeContext());

    expect(reported(again)).toEqual([]);
    expect(counter.calls).toEqual(['BatchGetItemCommand']);
    expect(runs).toHaveLength(ran);
    expect(count(Signal.Replay)).toBeGreaterThanOrEqual(3);
  });

  it('claims the redelivered jobs that did not complete, after the one batch read', async () => {
    const { handler, runs } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        if (runs.length === 1) throw new Error('flaky partner');
      },
    });
    const [first, second] = loadEvent('sqs-standard-batch').Records as [SQSRecord, SQSRecord];
    const fresh = [withInvoice(first, `inv-${Date.now()}-a`), withInvoice(second, `inv-${Date.now()}-b`)];
    expect(reported(await handler(eventOf(...fresh), fakeContext()))).toHaveLength(1);
    counter.reset();

    const again = await handler(eventOf(...fresh.map(redelivered)), fakeContext());

    expect(reported(again)).toEqual([]);
    expect(counter.count('BatchGetItemCommand')).toBe(1);
    // The released job is claimed and run again; the completed one is not.
    expect(counter.count('PutItemCommand')).toBe(1);
    expect(runs).toHaveLength(3);
  });
});

describe('permanent errors and DLQ replays', () => {
  class InvoiceRejectedError extends Error {
    override name = 'InvoiceRejectedError';
  }

  it('marks a permanently failing job FAILED and reports its copies and redeliveries without running them', async () => {
    const { handler, runs, count } = build({
      isPermanentError: (error) => error instanceof InvoiceRejectedError,
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        if (invoiceIdOf(record) === 'inv-2026-1002') throw new InvoiceRejectedError('customer has no email');
      },
    });
    const { Records } = loadEvent('sqs-standard-batch');
    const copies = idsOf(Records, 'inv-2026-1002');

    const first = await handler(eventOf(...Records), fakeContext());

    expect(reported(first)).toEqual(copies);
    expect((await stored('inv-2026-1002'))?.status).toBe(RecordStatus.Failed);
    expect(count(Signal.PermanentFailure)).toBe(1);

    const failing = Records.filter((record) => invoiceIdOf(record) === 'inv-2026-1002');
    const again = await handler(
      eventOf(redelivered(failing[0] as SQSRecord), resent(failing[1] as SQSRecord)),
      fakeContext(),
    );

    expect(reported(again)).toHaveLength(2);
    expect(runs.filter((id) => id === 'inv-2026-1002')).toHaveLength(1);
  });

  it('runs a FAILED job again on a DLQ replay, while a replayed completed job is acknowledged without running', async () => {
    let fixed = false;
    const audited: string[] = [];
    const { handler, runs } = build({
      isPermanentError: (error) => error instanceof InvoiceRejectedError,
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        if (!fixed && invoiceIdOf(record) === 'inv-2026-1002') throw new InvoiceRejectedError('no email');
      },
      onFirstCompletion: (record) => {
        audited.push(invoiceIdOf(record));
      },
    });
    const [done, failed] = loadEvent('sqs-standard-batch').Records as [SQSRecord, SQSRecord];
    await handler(eventOf(done, failed), fakeContext());
    expect(audited).toEqual(['inv-2026-1001']);

    fixed = true;
    const replay = await handler(
      eventOf(replayed(done, REPLAY_ATTRIBUTE), replayed(failed, REPLAY_ATTRIBUTE)),
      fakeContext(),
    );

    expect(replay.batchItemFailures).toEqual([]);
    // The completed job did not run again; the FAILED one ran a second time, now fixed.
    expect(runs.sort()).toEqual(['inv-2026-1001', 'inv-2026-1002', 'inv-2026-1002']);
    expect((await stored('inv-2026-1002'))?.status).toBe(RecordStatus.Completed);
    expect(audited).toEqual(['inv-2026-1001', 'inv-2026-1002']);
  });

  it('runs a still-failing FAILED job once per replay, never again on redeliveries of the replayed message', async () => {
    const { handler, runs } = build({
      isPermanentError: (error) => error instanceof InvoiceRejectedError,
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        throw new InvoiceRejectedError('still no email');
      },
    });
    const [, failing] = loadEvent('sqs-standard-batch').Records as [SQSRecord, SQSRecord];
    expect(reported(await handler(eventOf(failing), fakeContext()))).toEqual([failing.messageId]);
    expect(await stored('inv-2026-1002')).toMatchObject({ status: RecordStatus.Failed, attempt: 1 });

    // One replay: it runs once and fails again; each redelivery of that same message is reported unrun.
    let message = replayed(failing, REPLAY_ATTRIBUTE);
    for (let delivery = 0; delivery < 5; delivery++) {
      expect(reported(await handler(eventOf(message), fakeContext()))).toEqual([message.messageId]);
      message = redelivered(message);
    }
    expect(runs).toHaveLength(2);
    expect(await stored('inv-2026-1002')).toMatchObject({ status: RecordStatus.Failed, attempt: 2 });

    // A second replay is a new message: it runs once more, and the attempt count keeps growing.
    const second = replayed(failing, REPLAY_ATTRIBUTE);
    await handler(eventOf(second), fakeContext());
    await handler(eventOf(redelivered(second)), fakeContext());
    expect(runs).toHaveLength(3);
    expect(await stored('inv-2026-1002')).toMatchObject({ status: RecordStatus.Failed, attempt: 3 });
  });
});

describe('onFirstCompletion', () => {
  it('runs once per job with its result, never for a duplicate, a redelivery or a replay', async () => {
    const audited: unknown[] = [];
    const { handler } = build({
      onFirstCompletion: (_record, result) => {
        audited.push(result);
      },
    });
    const { Records } = loadEvent('sqs-standard-batch');

    await handler(eventOf(...Records), fakeContext());
    await handler(eventOf(...Records.map(redelivered)), fakeContext());
    await handler(eventOf(...Records.map((record) => replayed(record, REPLAY_ATTRIBUTE))), fakeContext());

    expect(audited.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      { sent: 'inv-2026-1001' },
      { sent: 'inv-2026-1002' },
      { sent: 'inv-2026-1003' },
    ]);
  });
});

describe('message attributes', () => {
  it('reads the org from a String attribute next to Number, Binary and custom-typed ones', async () => {
    const { handler, runs } = build();

    const response = await handler(loadEvent('sqs-message-attributes'), fakeContext());

    expect(response.batchItemFailures).toEqual([]);
    expect(runs).toHaveLength(3);
    expect(await stored('inv-2026-3001', 'globex')).toMatchObject({ org: 'globex' });
    expect(await stored('inv-2026-3003', 'initech')).toMatchObject({ org: 'initech' });
    expect(await stored('inv-2026-3003', 'globex')).toBeUndefined();
  });
});

describe('store failures and rollout modes', () => {
  const broken: Store = Object.assign(new MemoryStore(), {
    claim: async () => {
      throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
    },
  });

  it('runs the job when the store fails (fail open), or reports it when `strictFailClosed` is on', async () => {
    const open = build({ store: broken });
    const closed = build({ store: broken, strictFailClosed: true });
    const [record] = loadEvent('sqs-standard-batch').Records as [SQSRecord];

    expect((await open.handler(eventOf(record), fakeContext())).batchItemFailures).toEqual([]);
    expect(open.runs).toEqual(['inv-2026-1001']);
    expect(open.count(Signal.StoreError)).toBe(1);
    expect(reported(await closed.handler(eventOf(record), fakeContext()))).toEqual([record.messageId]);
    expect(closed.runs).toEqual([]);
  });

  it('in `observe` mode runs every record and counts the duplicates it would have skipped', async () => {
    const { handler, runs, count } = build({ mode: 'observe' });

    const response = await handler(loadEvent('sqs-standard-batch'), fakeContext());

    expect(response.batchItemFailures).toEqual([]);
    expect(runs).toHaveLength(10);
    expect(count(Signal.FirstExecution)).toBe(3);
    expect(count(Signal.WouldReplay) + count(Signal.WouldReject)).toBe(7);
  });

  it('in `off` mode runs every record and never touches the table', async () => {
    const { handler, runs } = build({ mode: 'off' });

    await handler(loadEvent('sqs-standard-batch'), fakeContext());

    expect(runs).toHaveLength(10);
    expect(counter.count()).toBe(0);
  });
});

describe('inside middy()', () => {
  it('answers the same partial batch response as the plain handler', async () => {
    const { handler, runs } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        if (invoiceIdOf(record) === 'inv-2026-1003') throw new Error('timeout');
      },
    });
    const wrapped = middy<SQSEvent, SQSBatchResponse>().handler(handler);
    const event = loadEvent('sqs-standard-batch');

    const response = await wrapped(event, fakeContext());

    expect(reported(response)).toEqual(idsOf(event.Records, 'inv-2026-1003'));
    expect(runs.sort()).toEqual(['inv-2026-1001', 'inv-2026-1002', 'inv-2026-1003']);
  });
});
