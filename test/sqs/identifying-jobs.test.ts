import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { keyDigest } from '../../src/core/keys.js';
import { Signal } from '../../src/core/telemetry.js';
import { RecordStatus } from '../../src/core/types.js';
import { type SqsJobsOptions, sqsJobs } from '../../src/sqs/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import {
  eventOf,
  fakeContext,
  invoiceIdOf,
  loadEvent,
  recordingTelemetry,
  redelivered,
  reported,
  resent,
  withInvoice,
} from './support.js';

/** The invoice runner on a memory store, counting runs per invoice. */
function runner(options: Partial<SqsJobsOptions> = {}) {
  const store = options.store instanceof MemoryStore ? options.store : new MemoryStore();
  const telemetry = recordingTelemetry();
  const runs: string[] = [];
  const handler = sqsJobs({
    store,
    scope: 'send-invoice-email',
    org: (record) => record.messageAttributes.orgId?.stringValue,
    jobKey: invoiceIdOf,
    processRecord: async (record) => {
      runs.push(invoiceIdOf(record));
    },
    environment: 'test',
    mode: 'enforce',
    telemetry: telemetry.telemetry,
    ...options,
  });
  const run = (...records: SQSRecord[]) => handler(eventOf(...records), fakeContext());
  return { run, store, telemetry, runs };
}

const [first, second] = loadEvent('sqs-standard-batch').Records as [SQSRecord, SQSRecord];

/** The reason the one signal of an unusable record gives. */
function reasonOf(telemetry: ReturnType<typeof recordingTelemetry>, signal: Signal): string {
  const found = telemetry.signals.filter((entry) => entry.signal === signal);
  expect(found).toHaveLength(1);
  return String(found[0]?.facts.detail?.reason);
}

describe('a record whose job cannot be identified', () => {
  it('fails alone when `org` throws, counted as invalid_org with a reason naming the option', async () => {
    const { run, telemetry, runs } = runner({
      org: () => {
        throw new RangeError('no org');
      },
    });
    expect(reported(await run(first))).toEqual([first.messageId]);
    expect(reasonOf(telemetry, Signal.InvalidOrg)).toMatch(/^`org` threw RangeError;/);
    expect(runs).toEqual([]);
  });

  it('fails alone when `jobKey` or `fingerprint` throws, counted as missing_key', async () => {
    const keyless = runner({
      jobKey: () => {
        throw new SyntaxError('bad body');
      },
    });
    await keyless.run(first);
    expect(reasonOf(keyless.telemetry, Signal.MissingKey)).toMatch(/^`jobKey` threw SyntaxError;/);

    const meaningless = runner({
      fingerprint: () => {
        throw 'a string';
      },
    });
    expect(reported(await meaningless.run(first))).toEqual([first.messageId]);
    expect(reasonOf(meaningless.telemetry, Signal.MissingKey)).toMatch(/^`fingerprint` threw string;/);
  });

  it('says what `jobKey` returned instead of a string or a finite number', async () => {
    const cases: [unknown, RegExp][] = [
      [null, /got null;/],
      [Number.NaN, /got a non-finite number;/],
      [['inv-1'], /got an array;/],
      [{ id: 'inv-1' }, /got an object;/],
      [undefined, /got undefined;/],
    ];
    for (const [returned, said] of cases) {
      const { run, telemetry } = runner({ jobKey: () => returned as string });
      expect(reported(await run(first))).toEqual([first.messageId]);
      expect(reasonOf(telemetry, Signal.MissingKey)).toMatch(said);
    }
  });

  it('says what `org` returned instead of a string, and counts an unusable org as invalid_org', async () => {
    const numeric = runner({ org: () => 42 as unknown as string });
    await numeric.run(first);
    expect(reasonOf(numeric.telemetry, Signal.InvalidOrg)).toMatch(
      /^Expected `org` to return the tenant as a string, got a number;/,
    );

    const separator = runner({ org: () => 'acme#eu' });
    expect(reported(await separator.run(first))).toEqual([first.messageId]);
    expect(reasonOf(separator.telemetry, Signal.InvalidOrg)).toMatch(/`org`/);
  });

  it('counts a job key that is too long as invalid_key, not missing_key', async () => {
    const { run, telemetry } = runner({ jobKey: () => 'k'.repeat(256) });
    expect(reported(await run(first))).toEqual([first.messageId]);
    expect(reasonOf(telemetry, Signal.InvalidKey)).toMatch(/1 to 255 characters/);
  });
});

describe('a numeric job key', () => {
  it('is the same job as its decimal string', async () => {
    let asNumber = true;
    const { run, runs } = runner({ jobKey: () => (asNumber ? 1001 : '1001') });
    expect(reported(await run(first))).toEqual([]);
    asNumber = false;
    expect(reported(await run(resent(first)))).toEqual([]);
    expect(runs).toHaveLength(1);
  });
});

describe('an event that is not an SQS event', () => {
  it('is refused with the shape it expected and the door to attach', async () => {
    const handler = sqsJobs({
      store: new MemoryStore(),
      scope: 'send-invoice-email',
      org: 'acme',
      jobKey: invoiceIdOf,
      processRecord: async () => undefined,
    });
    await expect(handler(null as never, fakeContext())).rejects.toThrow(
      /^Expected an SQS event with a `Records` array, got null; attach `sqsJobs` to that event source\.$/,
    );
    await expect(handler({} as never, fakeContext())).rejects.toThrow(/got object;/);
    await expect(handler('x' as never, fakeContext())).rejects.toThrow(/got string;/);
  });
});

describe('two records of one job in a batch with different bodies', () => {
  it('counts the second as an in-batch mismatch with the key digest, never the raw key', async () => {
    const { run, telemetry, runs } = runner();
    const copy = { ...withInvoice(second, invoiceIdOf(first)) };
    expect(reported(await run(first, copy))).toEqual([copy.messageId]);
    const mismatch = telemetry.signals.find((entry) => entry.signal === Signal.Mismatch);
    expect(mismatch?.facts).toMatchObject({
      org: 'acme',
      keyDigest: keyDigest(invoiceIdOf(first)),
      detail: { inBatch: true },
    });
    expect(runs).toEqual([invoiceIdOf(first)]);
  });
});

describe('a failing job', () => {
  it('is released when isPermanentError itself throws, so a redelivery runs it again', async () => {
    let attempts = 0;
    const { run, store } = runner({
      processRecord: async () => {
        attempts++;
        throw new Error('smtp down');
      },
      isPermanentError: () => {
        throw new Error('classifier bug');
      },
    });
    await run(first);
    expect(store.records()).toEqual([]);
    await run(redelivered(first));
    expect(attempts).toBe(2);
  });

  it('is FAILED and counted as permanent_failure with the error’s name when the error is permanent', async () => {
    const { run, store, telemetry } = runner({
      processRecord: async () => {
        throw new TypeError('card declined');
      },
      isPermanentError: (error) => error instanceof TypeError,
    });
    await run(first);
    expect(store.records().map((record) => record.status)).toEqual([RecordStatus.Failed]);
    const permanent = telemetry.signals.find((entry) => entry.signal === Signal.PermanentFailure);
    expect(permanent?.facts).toMatchObject({
      keyDigest: keyDigest(invoiceIdOf(first)),
      detail: { error: 'TypeError' },
    });
  });

  it('is reported once for a message delivered twice in one batch', async () => {
    const { run } = runner({
      processRecord: async () => {
        throw new Error('smtp down');
      },
    });
    expect(reported(await run(first, first))).toEqual([first.messageId]);
  });

  it('is reported in off mode too, where nothing is recorded', async () => {
    const { run, store } = runner({
      mode: 'off',
      processRecord: async (record) => {
        if (record.messageId === first.messageId) throw new Error('smtp down');
      },
    });
    expect(reported(await run(first, second))).toEqual([first.messageId]);
    expect(store.records()).toEqual([]);
  });
});

describe('a job key that is the SQS messageId', () => {
  it('is warned about once per handler, not once per record', async () => {
    const { run, telemetry } = runner({ jobKey: (record) => record.messageId });
    await run(first, second);
    await run(resent(first));
    expect(telemetry.warnings).toHaveLength(1);
    expect(telemetry.warnings[0]).toMatch(/messageId/);
  });
});

describe('the failures of a batch', () => {
  it('are listed in delivery order', async () => {
    const { run } = runner({
      processRecord: async () => {
        throw new Error('smtp down');
      },
    });
    const records = loadEvent('sqs-standard-batch').Records.slice(0, 4);
    expect(reported(await run(...records))).toEqual(records.map((record) => record.messageId));
  });
});
