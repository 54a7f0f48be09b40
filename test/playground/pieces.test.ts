import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { STAGES } from '../../infra/stages.js';
import {
  idempotencyEnvironment,
  PlaygroundConfigError,
  readPlaygroundConfig,
} from '../../playground/config.js';
import {
  captureHandlerLogs,
  DecisionFeed,
  formatDecision,
  parseLogLine,
} from '../../playground/decisions.js';
import { upgradeLegacyJob, withLegacyJobFix } from '../../playground/worker.js';
import { createTelemetry, Signal } from '../../src/core/telemetry.js';

describe('playground settings', () => {
  it("take the table and queue names from the reference stack's stage, on the README's ports", () => {
    const config = readPlaygroundConfig({});
    expect(config.settings).toBe(STAGES.dev);
    expect([config.port, config.dynamodbPort, config.sqsPort]).toEqual([3000, 8000, 9324]);
  });

  it('give the queue a short visibility timeout and few receives, so a poison job is in the DLQ in seconds', () => {
    const config = readPlaygroundConfig({});
    expect(config.visibilityTimeoutSeconds * config.maxReceiveCount).toBeLessThanOrEqual(15);
    expect(STAGES.dev.jobs.visibilityTimeoutSeconds * STAGES.dev.jobs.maxReceiveCount).toBeGreaterThan(60);
    const chosen = readPlaygroundConfig({
      PLAYGROUND_VISIBILITY_TIMEOUT_S: '30',
      PLAYGROUND_MAX_RECEIVE_COUNT: '5',
    });
    expect([chosen.visibilityTimeoutSeconds, chosen.maxReceiveCount]).toEqual([30, 5]);
  });

  it('reject a bad variable with its name, value and what is allowed', () => {
    expect(() => readPlaygroundConfig({ PORT: 'eighty', PLAYGROUND_STAGE: 'qa' })).toThrow(
      PlaygroundConfigError,
    );
    expect(() => readPlaygroundConfig({ PORT: 'eighty' })).toThrow(
      "Expected `PORT` to be a whole number from 0 to 65535, got 'eighty'.",
    );
    expect(() => readPlaygroundConfig({ PLAYGROUND_STAGE: 'qa' })).toThrow(
      "Expected `PLAYGROUND_STAGE` to be one of dev, stage, prod, got 'qa'.",
    );
  });

  it('enforce by default, while an IDEMPOTENCY_* variable of the shell wins', () => {
    expect(idempotencyEnvironment(STAGES.dev, {})).toMatchObject({
      IDEMPOTENCY_MODE: 'enforce',
      IDEMPOTENCY_LOCK_TTL_S: STAGES.dev.environment.IDEMPOTENCY_LOCK_TTL_S,
    });
    const observed = idempotencyEnvironment(STAGES.dev, {
      IDEMPOTENCY_MODE: 'observe',
      IDEMPOTENCY_JITTER_MS: '5',
    });
    expect(observed).toMatchObject({ IDEMPOTENCY_MODE: 'observe', IDEMPOTENCY_JITTER_MS: '5' });
  });
});

const LINE = JSON.stringify({
  level: 'INFO',
  message: 'idempotency waited',
  timestamp: '2026-11-22T20:00:00.000Z',
  service: 'orders-api',
  idempotency: 'waited',
  mode: 'enforce',
  scope: 'create-order',
  org: 'acme',
  key_digest: 'Qm9vX1kP2aZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ',
  correlation_id: 'c-1',
  waitedMs: 812,
  outcome: 'replay',
});

describe('decision lines', () => {
  it('are read from the structured log line a handler writes', () => {
    const parsed = parseLogLine(LINE);
    expect(parsed).toMatchObject({
      kind: 'decision',
      record: {
        signal: 'waited',
        scope: 'create-order',
        org: 'acme',
        keyDigest: 'Qm9vX1kP2aZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ',
        detail: { waitedMs: 812, outcome: 'replay' },
      },
    });
  });

  it('say what happened on one line, with a short digest', () => {
    const parsed = parseLogLine(LINE);
    if (parsed?.kind !== 'decision') throw new Error('expected a decision');
    const line = formatDecision(parsed.record);
    expect(line).toBe(
      '20:00:00.000 create-order        waited            org=acme key#Qm9vX1kP2a… waited for the first one to finish (waitedMs=812 outcome=replay)',
    );
  });

  it("are read from the library's own telemetry, so a change of its log shape breaks this test", () => {
    const feed = new DecisionFeed();
    const previous = process.env.POWERTOOLS_METRICS_DISABLED;
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const restore = captureHandlerLogs(feed);
    try {
      createTelemetry().emit(Signal.InProgress, {
        mode: 'enforce',
        scope: 'create-order',
        org: 'acme',
        keyDigest: 'digest-1',
        correlationId: 'c-1',
        detail: { retryAfterSeconds: 3 },
      });
    } finally {
      restore();
      if (previous === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
      else process.env.POWERTOOLS_METRICS_DISABLED = previous;
    }
    expect(feed.decisions).toHaveLength(1);
    expect(feed.decisions[0]).toMatchObject({
      signal: 'in_progress',
      scope: 'create-order',
      mode: 'enforce',
      org: 'acme',
      keyDigest: 'digest-1',
      correlationId: 'c-1',
      detail: { retryAfterSeconds: 3 },
    });
  });

  it('replace the raw JSON on stdout, while other output passes through', () => {
    const feed = new DecisionFeed();
    const written: string[] = [];
    const original = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      written.push(chunk);
      return true;
    }) as typeof process.stdout.write;
    const restore = captureHandlerLogs(feed);
    try {
      process.stdout.write(`${LINE}\n`);
      process.stdout.write('plain text\n');
    } finally {
      restore();
      process.stdout.write = original;
    }
    expect(feed.count('waited')).toBe(1);
    expect(written).toEqual(['plain text\n']);
  });
});

const record = (body: string): SQSRecord => ({ messageId: 'm-1', body }) as SQSRecord;

describe('the poison job and its fix', () => {
  it("leave today's jobs and non-JSON bodies as they are", () => {
    const today = record('{"invoiceId":"inv-1","orderId":"o-1"}');
    expect(upgradeLegacyJob(today)).toBe(today);
    const garbage = record('not json');
    expect(upgradeLegacyJob(garbage)).toBe(garbage);
  });

  it("read the legacy producer's numeric orderId only once the fix is on", async () => {
    const seen: string[] = [];
    const toggles = { fixed: false };
    const worker = withLegacyJobFix(async (event) => {
      seen.push(...event.Records.map((each) => each.body));
      return { batchItemFailures: [] };
    }, toggles);
    const legacy = { Records: [record('{"invoiceId":"inv-7","orderId":7}')] };
    await worker(legacy, {} as never);
    toggles.fixed = true;
    await worker(legacy, {} as never);
    expect(seen).toEqual(['{"invoiceId":"inv-7","orderId":7}', '{"invoiceId":"inv-7","orderId":"7"}']);
  });
});
