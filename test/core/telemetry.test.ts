import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { createTelemetry, Signal, type TelemetryLogger } from '../../src/core/telemetry.js';
import { captureLogs, type LogCapture } from '../support/log-capture.js';

const facts = { mode: 'enforce', scope: 'send-invoice', org: 'acme', keyDigest: 'digest-1' };
const emf = (lines: readonly string[]) =>
  lines.filter((line) => line.includes('"_aws"')).map((line) => JSON.parse(line) as Record<string, unknown>);

let logs: LogCapture | undefined;
afterEach(() => logs?.stop());

describe('the default telemetry', () => {
  it("counts a batch's decisions in one EMF document, written when the door flushes", () => {
    logs = captureLogs();
    const telemetry = createTelemetry();
    for (let index = 0; index < 7; index++) telemetry.emit(Signal.FirstExecution, facts);
    telemetry.emit(Signal.Replay, facts);
    telemetry.emit(Signal.Waited, { ...facts, detail: { waitedMs: 40 } });
    telemetry.emit(Signal.Waited, { ...facts, detail: { waitedMs: 90 } });
    expect(emf(logs.lines)).toEqual([]);
    telemetry.flush?.();
    telemetry.flush?.();
    const documents = emf(logs.lines);
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({
      service: 'idemkit',
      mode: 'enforce',
      scope: 'send-invoice',
      first_execution: 7,
      replay: 1,
      waited: 2,
      wait_time: [40, 90],
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'idemkit',
            Dimensions: [['service', 'mode', 'scope']],
            Metrics: expect.arrayContaining([
              { Name: 'first_execution', Unit: 'Count' },
              { Name: 'wait_time', Unit: 'Milliseconds' },
            ]),
          },
        ],
      },
    });
  });

  it('writes one document per mode and scope an invocation touched', () => {
    logs = captureLogs();
    const telemetry = createTelemetry();
    telemetry.emit(Signal.FirstExecution, facts);
    telemetry.emit(Signal.WouldReplay, { ...facts, mode: 'observe' });
    telemetry.flush?.();
    expect(emf(logs.lines).map((document) => [document.mode, document.scope])).toEqual([
      ['enforce', 'send-invoice'],
      ['observe', 'send-invoice'],
    ]);
  });

  it('still writes what no door flushed, a moment later', async () => {
    logs = captureLogs();
    const telemetry = createTelemetry();
    telemetry.emit(Signal.StoreError, facts);
    const capture = logs;
    await expect.poll(() => emf(capture.lines).length, { timeout: 30_000, interval: 50 }).toBe(1);
  });

  it('logs what an operator acts on at its level, and the routine decisions not at INFO', () => {
    logs = captureLogs();
    const telemetry = createTelemetry();
    telemetry.emit(Signal.FirstExecution, facts);
    telemetry.emit(Signal.Replay, facts);
    telemetry.emit(Signal.InProgress, facts);
    telemetry.emit(Signal.Mismatch, facts);
    telemetry.emit(Signal.StoreError, { ...facts, detail: { error: 'TimeoutError' } });
    const lines = logs.lines.filter((line) => line.includes('"idempotency"')).map((line) => JSON.parse(line));
    expect(lines.map((line) => [line.level, line.idempotency])).toEqual([
      ['INFO', 'in_progress'],
      ['WARN', 'mismatch'],
      ['ERROR', 'store_error'],
    ]);
    expect(lines[2]).toMatchObject({
      message: 'idempotency store_error',
      service: 'idemkit',
      sampling_rate: 0,
      scope: 'send-invoice',
      org: 'acme',
      key_digest: 'digest-1',
      error: 'TimeoutError',
    });
  });

  it('writes no EMF when POWERTOOLS_METRICS_DISABLED says so', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    try {
      logs = captureLogs();
      const telemetry = createTelemetry();
      telemetry.emit(Signal.FirstExecution, facts);
      telemetry.flush?.();
      expect(emf(logs.lines)).toEqual([]);
    } finally {
      delete process.env.POWERTOOLS_METRICS_DISABLED;
    }
  });
});

describe('with your own Powertools Logger and Metrics', () => {
  it('logs through your logger, with every level left to it', () => {
    const calls: [string, string][] = [];
    const record =
      (level: string) =>
      (message: string): void => {
        calls.push([level, message]);
      };
    const logger: TelemetryLogger = {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
    const telemetry = createTelemetry({ logger });
    telemetry.emit(Signal.FirstExecution, facts);
    telemetry.emit(Signal.LeaseLost, facts);
    telemetry.warn('lock TTL raised');
    expect(calls).toEqual([
      ['debug', 'idempotency first_execution'],
      ['warn', 'idempotency lease_lost'],
      ['warn', 'lock TTL raised'],
    ]);
  });

  it("serializes idemkit's document with your Metrics' class, in idemkit's namespace and dimensions", () => {
    logs = captureLogs();
    const metrics = new Metrics({ namespace: 'orders', serviceName: 'orders-api' });
    const logger = new Logger({ serviceName: 'orders-api' });
    const telemetry = createTelemetry({ logger, metrics });
    telemetry.emit(Signal.Replay, facts);
    telemetry.emit(Signal.Replay, facts);
    telemetry.emit(Signal.Waited, { ...facts, detail: { waitedMs: 12 } });
    telemetry.flush?.();
    const documents = emf(logs.lines);
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({
      service: 'idemkit',
      mode: 'enforce',
      scope: 'send-invoice',
      replay: 2,
      wait_time: 12,
      _aws: { CloudWatchMetrics: [{ Namespace: 'idemkit' }] },
    });
    // Your own metrics stay yours: nothing of idemkit's is left in them.
    expect(JSON.stringify(metrics.serializeMetrics())).not.toContain('replay');
  });
});
