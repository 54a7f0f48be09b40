/**
 * What the batch core and the SQS source decide, on a memory store that counts its calls: message groups, the
 * rest of a FIFO group reported, the one batch read of a redelivered batch, replays, duplicates' answers,
 * bounded concurrency, store failures and the telemetry of a batch. The DynamoDB-backed scenarios are in
 * sqs-jobs.dynamodb.test.ts.
 */
import type { Context, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { decodeResult } from '../../src/core/codec.js';
import { recordKey } from '../../src/core/keys.js';
import { Signal } from '../../src/core/telemetry.js';
import { RecordStatus } from '../../src/core/types.js';
import { type SqsJobsOptions, sqsJobs } from '../../src/sqs/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { CountingStore } from '../support/counting-store.js';
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

const SCOPE = 'send-invoice-email';

class InvoiceRejectedError extends Error {
  override name = 'InvoiceRejectedError';
}

/** The invoice runner on a counting memory store; `runs` lists the invoice ids `processRecord` started. */
function build(overrides: Partial<SqsJobsOptions> = {}) {
  const store = new CountingStore();
  const recording = recordingTelemetry();
  const runs: string[] = [];
  const handler = sqsJobs({
    store,
    scope: SCOPE,
    environment: 'test',
    mode: 'enforce',
    telemetry: recording.telemetry,
    org: (record) => record.messageAttributes.orgId?.stringValue,
    jobKey: invoiceIdOf,
    processRecord: async (record) => {
      runs.push(invoiceIdOf(record));
      return { sent: invoiceIdOf(record) };
    },
    ...overrides,
  });
  const run = (...records: SQSRecord[]) => handler(eventOf(...records), fakeContext());
  return { handler, run, runs, store, ...recording };
}

const standard = () => loadEvent('sqs-standard-batch').Records;
const fifo = () => loadEvent('sqs-fifo-batch').Records;
/** Distinct invoices of the standard batch's first message. */
const invoices = (count: number, prefix = 'inv-b') => {
  const [template] = standard() as [SQSRecord];
  return Array.from({ length: count }, (_, index) => withInvoice(template, `${prefix}-${index}`));
};
const stored = (store: MemoryStore, invoiceId: string) => store.get(recordKey('acme', SCOPE, invoiceId));

describe('message groups', () => {
  it('reports the rest of a FIFO group after its first failure, unrun, while the other groups run on', async () => {
    const { run, runs } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        if (invoiceIdOf(record) === 'inv-2026-2002') throw new Error('template missing');
      },
    });
    const records = fifo();
    const ids = (...invoiceIds: string[]) =>
      records.filter((record) => invoiceIds.includes(invoiceIdOf(record))).map((record) => record.messageId);

    expect(reported(await run(...records))).toEqual(ids('inv-2026-2002', 'inv-2026-2003'));
    expect([...runs].sort()).toEqual([
      'inv-2026-2001',
      'inv-2026-2002',
      'inv-2026-2101',
      'inv-2026-2102',
      'inv-2026-2201',
    ]);
  });

  it('runs the messages of a FIFO queue that carry no group id as one group, in order', async () => {
    const { run, runs } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        throw new Error('down');
      },
    });
    // Some without a group id, one without any attributes.
    const records = fifo().map(({ attributes: { MessageGroupId: _, ...attributes }, ...record }, index) =>
      index === 2 ? record : { ...record, attributes },
    ) as SQSRecord[];

    expect(reported(await run(...records))).toEqual(records.map((record) => record.messageId));
    expect(runs).toEqual(['inv-2026-2001']);
  });

  it('runs the messages of a standard queue side by side: one failure reports that message alone', async () => {
    // A group id on a standard queue orders nothing, nor does a queue ARN missing from a record.
    const [first, second, third] = invoices(3).map((record) => ({
      ...record,
      attributes: { ...record.attributes, MessageGroupId: 'g' },
    })) as [SQSRecord, SQSRecord, SQSRecord];
    const { eventSourceARN: _, ...withoutArn } = third;
    const { run, runs } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        if (record.messageId === first.messageId) throw new Error('down');
      },
    });

    expect(reported(await run(first, second, withoutArn as SQSRecord))).toEqual([first.messageId]);
    expect(runs).toHaveLength(3);
  });
});

describe('a redelivered batch', () => {
  it('reads the records of two or more redelivered jobs in one getMany, and acknowledges the completed ones unwritten', async () => {
    const { run, runs, store } = build();
    const records = invoices(3);
    await run(...records);
    store.calls.length = 0;

    expect(reported(await run(...records.map(redelivered)))).toEqual([]);
    expect(store.calls).toEqual(['getMany']);
    expect(runs).toHaveLength(3);
  });

  it('claims the redelivered jobs the batch read did not find completed', async () => {
    const { run, runs, store } = build();
    const [done, released] = invoices(2);
    await run(done as SQSRecord);
    store.calls.length = 0;

    expect(reported(await run(redelivered(done as SQSRecord), redelivered(released as SQSRecord)))).toEqual(
      [],
    );
    expect(store.calls).toEqual(['getMany', 'claim', 'complete']);
    expect(runs).toHaveLength(2);
  });

  it('reads nothing first for a fresh batch, one redelivered job, or one job redelivered twice', async () => {
    const { run, store } = build();
    const [first, second] = invoices(2);
    await run(first as SQSRecord, second as SQSRecord);
    await run(redelivered(first as SQSRecord), second as SQSRecord);
    await run(redelivered(first as SQSRecord), redelivered(resent(first as SQSRecord)));
    expect(store.count('getMany')).toBe(0);
  });

  it('counts a message without a receive count as a first delivery', async () => {
    const { run, store } = build();
    const records = invoices(2).map(({ attributes: _, ...record }) => record as SQSRecord);
    expect(reported(await run(...records))).toEqual([]);
    expect(store.count('getMany')).toBe(0);
  });

  it('leaves a redelivered record without a usable job out of the batch read, and fails it alone', async () => {
    const { run, store } = build();
    const records = invoices(2).map(redelivered);
    const keyless = redelivered({ ...(invoices(1)[0] as SQSRecord), body: '{"invoiceId":null}' });

    expect(reported(await run(...records, keyless))).toEqual([keyless.messageId]);
    expect(store.count('getMany')).toBe(1);
  });

  it('is not read first in off mode', async () => {
    const { run, store, runs } = build({ mode: 'off' });
    expect(reported(await run(...invoices(2).map(redelivered)))).toEqual([]);
    expect(store.calls).toEqual([]);
    expect(runs).toHaveLength(2);
  });
});

describe('DLQ replays', () => {
  it('reopen a FAILED job only for a message carrying the replay attribute', async () => {
    const { run, runs, store } = build({
      isPermanentError: (error) => error instanceof InvoiceRejectedError,
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        if (runs.length === 1) throw new InvoiceRejectedError('no email');
      },
    });
    const [record] = invoices(1) as [SQSRecord];
    await run(record);
    expect(reported(await run(resent(record)))).toHaveLength(1);
    expect(runs).toHaveLength(1);

    // The attribute's name is what `idemkit dlq replay` of any version sets: it is written out here.
    expect(reported(await run(replayed(record, 'idemkit-replay')))).toEqual([]);
    expect(runs).toHaveLength(2);
    expect((await stored(store, invoiceIdOf(record)))?.status).toBe(RecordStatus.Completed);
  });

  it('leave a message without message attributes an ordinary delivery', async () => {
    const { run, runs } = build({ org: 'acme' });
    const { messageAttributes: _, ...bare } = invoices(1)[0] as SQSRecord;
    expect(reported(await run(bare as SQSRecord))).toEqual([]);
    expect(runs).toHaveLength(1);
  });
});

describe('the default fingerprint', () => {
  it("is the body's JSON meaning: the same fields in another order match, another amount does not", async () => {
    const { run, runs, count } = build();
    const [record] = invoices(1) as [SQSRecord];
    const body = JSON.parse(record.body) as Record<string, unknown>;
    const reordered = {
      ...resent(record),
      body: JSON.stringify(Object.fromEntries(Object.entries(body).reverse())),
    };
    const changed = { ...resent(record), body: JSON.stringify({ ...body, amountCents: -1 }) };

    expect(reported(await run(record, reordered, changed))).toEqual([changed.messageId]);
    expect(runs).toHaveLength(1);
    expect(count(Signal.Mismatch)).toBe(1);
  });

  it('is the text itself for a body that is not JSON', async () => {
    const { run, runs } = build({
      jobKey: (record) => record.body.split(' ')[0],
      processRecord: async (record) => {
        runs.push(record.body);
      },
    });
    const [record] = invoices(1) as [SQSRecord];
    const plain = { ...record, body: 'inv-77 send now' };
    const spaced = { ...resent(record), body: 'inv-77 send  now' };

    expect(reported(await run(plain, resent(plain), spaced))).toEqual([spaced.messageId]);
    expect(runs).toEqual(['inv-77 send now']);
  });
});

describe('a job held by a live lease', () => {
  it('of another message is acknowledged at once; of another delivery of this message it is reported', async () => {
    const held = gate();
    const { run, runs } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        await held.wait;
      },
    });
    const [record] = invoices(1) as [SQSRecord];
    const owner = run(record);
    await until(() => runs.length === 1);

    expect(reported(await run(resent(record)))).toEqual([]);
    expect(reported(await run(redelivered(record)))).toEqual([record.messageId]);
    held.open();
    expect(reported(await owner)).toEqual([]);
    expect(runs).toHaveLength(1);
  });
});

describe('a permanent failure', () => {
  it('is only what isPermanentError answers `true` for: another truthy answer releases the job', async () => {
    const { run, runs, store } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        throw new Error('smtp down');
      },
      isPermanentError: () => 'yes' as unknown as boolean,
    });
    const [record] = invoices(1) as [SQSRecord];
    await run(record);
    expect(store.records()).toEqual([]);
    await run(resent(record));
    expect(runs).toHaveLength(2);
  });

  it("keeps the error's name in the FAILED record, never its message", async () => {
    const { run, store } = build({
      processRecord: async () => {
        throw new InvoiceRejectedError('customer 42 has no email');
      },
      isPermanentError: () => true,
    });
    await run(invoices(1)[0] as SQSRecord);
    const [failed] = store.records();
    expect(failed?.status).toBe(RecordStatus.Failed);
    expect(decodeResult(failed?.result)).toEqual({ error: 'InvoiceRejectedError' });
  });

  it("names a thrown value's type when it is not an Error", async () => {
    const { run, signals } = build({
      processRecord: async () => {
        throw 'declined';
      },
      isPermanentError: () => true,
    });
    await run(invoices(1)[0] as SQSRecord);
    const permanent = signals.filter((entry) => entry.signal === Signal.PermanentFailure);
    expect(permanent.map((entry) => entry.facts.detail)).toEqual([{ error: 'string' }]);
  });

  it('of a job whose lease was taken over is not counted, and leaves the new owner its record', async () => {
    const now = Date.now();
    const held = gate();
    const store = new CountingStore();
    let signal: AbortSignal | undefined;
    const slow = build({
      store,
      clock: () => now,
      renewEvery: 20,
      isPermanentError: () => true,
      processRecord: async (_record, _context, lease) => {
        signal = lease.signal;
        await held.wait;
        throw new InvoiceRejectedError('no email');
      },
    });
    // Another Lambda instance whose clock is past the slow job's lease: it takes the job over.
    const taker = build({ store, clock: () => now + 600_000 });
    const [record] = invoices(1) as [SQSRecord];
    const slowRun = slow.run(record);
    await until(() => store.count('claim') === 1);
    expect(reported(await taker.run(resent(record)))).toEqual([]);
    // The slow job's next renewal finds its lease taken over: its signal tells it to stop.
    await until(() => signal?.aborted === true);
    held.open();

    expect(reported(await slowRun)).toEqual([record.messageId]);
    expect(slow.count(Signal.PermanentFailure)).toBe(0);
    expect((await stored(store, invoiceIdOf(record)))?.status).toBe(RecordStatus.Completed);
  });
});

describe('onFirstCompletion', () => {
  it('gets the record, the stored result and the invocation context', async () => {
    const audited: [SQSRecord, unknown, Context][] = [];
    const { handler } = build({
      onFirstCompletion: (record, result, context) => {
        audited.push([record, result, context]);
      },
    });
    const [record] = invoices(1) as [SQSRecord];
    const context = fakeContext();
    await handler(eventOf(record), context);
    expect(audited).toHaveLength(1);
    expect(audited[0]?.[0]).toBe(record);
    expect(audited[0]?.[1]).toEqual({ sent: invoiceIdOf(record) });
    expect(audited[0]?.[2]).toBe(context);
  });
});

describe('bounded concurrency', () => {
  it('runs at most 10 jobs at once by default, and starts the next one only when one ends', async () => {
    const log: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const records = invoices(12);
    for (const record of records) gates.set(invoiceIdOf(record), gate());
    const { run } = build({
      processRecord: async (record) => {
        log.push(`start ${invoiceIdOf(record)}`);
        await gates.get(invoiceIdOf(record))?.wait;
        log.push(`end ${invoiceIdOf(record)}`);
      },
    });
    const starts = () => log.filter((entry) => entry.startsWith('start')).length;
    const response = run(...records);
    await until(() => starts() === 10);
    gates.get('inv-b-0')?.open();
    await until(() => starts() === 11);
    for (const held of gates.values()) held.open();

    expect(reported(await response)).toEqual([]);
    const startsBeforeFirstEnd = log
      .slice(0, log.indexOf('end inv-b-0'))
      .filter((entry) => entry.startsWith('start'));
    expect(startsBeforeFirstEnd).toHaveLength(10);
  });

  it('holds the records beyond `concurrency` back in off mode too', async () => {
    let running = 0;
    let most = 0;
    const held = gate();
    const { run } = build({
      mode: 'off',
      concurrency: 2,
      processRecord: async () => {
        most = Math.max(most, ++running);
        await held.wait;
        running--;
      },
    });
    const response = run(...invoices(4));
    await until(() => running === 2);
    held.open();
    expect(reported(await response)).toEqual([]);
    expect(most).toBe(2);
  });

  it('accepts up to 1000 at cold start, not more', () => {
    expect(() => build({ concurrency: 1000 })).not.toThrow();
    expect(() => build({ concurrency: 1001 })).toThrow(/`concurrency` of `sqsJobs`/);
  });
});

describe('a store that fails', () => {
  class BrokenStore extends MemoryStore {
    override async claim(): Promise<never> {
      throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
    }
  }

  it('reports the job unrun when `strictFailClosed` is on', async () => {
    const { run, runs } = build({ store: new BrokenStore(), strictFailClosed: true });
    const [record] = invoices(1) as [SQSRecord];
    expect(reported(await run(record))).toEqual([record.messageId]);
    expect(runs).toEqual([]);
  });

  it('runs the job unguarded (fail open) and reports it when that run throws', async () => {
    const { run, runs } = build({
      store: new BrokenStore(),
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        if (runs.length === 2) throw new Error('down');
      },
    });
    const [first, second] = invoices(2) as [SQSRecord, SQSRecord];
    expect(reported(await run(first))).toEqual([]);
    expect(reported(await run(second))).toEqual([second.messageId]);
  });
});

describe('a job run under a lease', () => {
  it("gets a lease that ends with the invocation's remaining time, not the lock TTL", async () => {
    const held = gate();
    const { handler, runs, store } = build({
      processRecord: async (record) => {
        runs.push(invoiceIdOf(record));
        await held.wait;
      },
    });
    const [record] = invoices(1) as [SQSRecord];
    const running = handler(eventOf(record), fakeContext(20_000));
    await until(() => runs.length === 1);
    const leaseUntil = (await stored(store, invoiceIdOf(record)))?.leaseUntil ?? 0;
    held.open();
    await running;
    // The lock TTL is 60 s in `test`; 20 seconds were left.
    expect(leaseUntil).toBeLessThanOrEqual(Date.now() + 20_000);
    expect(leaseUntil).toBeGreaterThan(0);
  });
});

describe("a batch's telemetry", () => {
  it('warns about nothing when the job key is a business id', async () => {
    const { run, warnings } = build();
    await run(...standard());
    expect(warnings).toEqual([]);
  });

  it('is flushed once per invocation, also when the event is refused', async () => {
    let flushes = 0;
    const recording = recordingTelemetry();
    const { handler } = build({
      telemetry: { ...recording.telemetry, flush: () => flushes++ },
    });
    await handler(eventOf(...invoices(3)), fakeContext());
    expect(flushes).toBe(1);
    await expect(handler({} as never, fakeContext())).rejects.toThrow(TypeError);
    expect(flushes).toBe(2);
  });

  it("names each record's messageId as the correlation id, with the mode and scope", async () => {
    const { run, signals } = build({ org: () => undefined });
    const [record] = invoices(1) as [SQSRecord];
    await run(record);
    expect(signals.map((entry) => [entry.signal, entry.facts])).toEqual([
      [
        Signal.InvalidOrg,
        expect.objectContaining({ mode: 'enforce', scope: SCOPE, correlationId: record.messageId }),
      ],
    ]);
  });

  it('counts the first execution of a job under its messageId', async () => {
    const { run, signals } = build();
    const [record] = invoices(1) as [SQSRecord];
    await run(record);
    const first = signals.find((entry) => entry.signal === Signal.FirstExecution);
    expect(first?.facts.correlationId).toBe(record.messageId);
  });
});

describe('an unguarded run', () => {
  it('gets a lease signal that never aborts in off mode', async () => {
    const aborted: boolean[] = [];
    const { run } = build({
      mode: 'off',
      processRecord: async (_record, _context, lease) => {
        aborted.push(lease.signal.aborted);
      },
    });
    await run(...invoices(2));
    expect(aborted).toEqual([false, false]);
  });
});
