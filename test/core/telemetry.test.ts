import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

  it('writes what no door flushed a second after its first signal, however many signals follow', () => {
    vi.useFakeTimers();
    try {
      logs = captureLogs();
      const telemetry = createTelemetry();
      telemetry.emit(Signal.StoreError, facts);
      vi.advanceTimersByTime(600);
      telemetry.emit(Signal.StoreError, facts);
      expect(emf(logs.lines)).toEqual([]);
      vi.advanceTimersByTime(400);
      expect(emf(logs.lines)).toMatchObject([{ store_error: 2 }]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes each later run of unflushed signals a second after its first signal, as often as one comes', () => {
    vi.useFakeTimers();
    try {
      logs = captureLogs();
      const telemetry = createTelemetry();
      for (const expected of [1, 2, 3]) {
        telemetry.emit(Signal.StoreError, facts);
        vi.advanceTimersByTime(1000);
        expect(emf(logs.lines)).toHaveLength(expected);
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts the signals of two scopes in one mode apart, however they interleave', () => {
    logs = captureLogs();
    const telemetry = createTelemetry();
    const other = { ...facts, scope: 'charge-card' };
    for (const each of [facts, other, facts, facts, other]) telemetry.emit(Signal.Replay, each);
    telemetry.flush?.();
    const counts = emf(logs.lines).map((document) => `${document.scope}: ${document.replay}`);
    expect(counts.sort()).toEqual(['charge-card: 2', 'send-invoice: 3']);
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

/** Runs `body` with the given environment variables set (`undefined` unsets one), then restores them. */
function withEnv<T>(variables: Record<string, string | undefined>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(variables);
  try {
    return body();
  } finally {
    apply(saved);
  }
}

const LEVEL_VARIABLES = {
  POWERTOOLS_LOG_LEVEL: undefined,
  AWS_LAMBDA_LOG_LEVEL: undefined,
  LOG_LEVEL: undefined,
};
const METRICS_VARIABLES = {
  POWERTOOLS_METRICS_DISABLED: undefined,
  POWERTOOLS_DEV: undefined,
  POWERTOOLS_METRICS_NAMESPACE: undefined,
};

/** The `idempotency` signals the built-in logger wrote, as `[level, signal]`. */
const logged = (lines: readonly string[]) =>
  lines
    .filter((line) => line.includes('"idempotency"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .map((line) => [line.level, line.idempotency]);

/** Emits one signal of each level (debug, info, warn, error) on a telemetry made under `variables`. */
function oneOfEachLevel(variables: Record<string, string | undefined>): unknown[][] {
  logs = captureLogs();
  const capture = logs;
  withEnv({ ...LEVEL_VARIABLES, ...variables }, () => {
    const telemetry = createTelemetry();
    telemetry.emit(Signal.Replay, facts);
    telemetry.emit(Signal.Released, facts);
    telemetry.emit(Signal.LeaseLost, facts);
    telemetry.emit(Signal.StoreError, facts);
    // Flushed, so no document is left to be written into a later test's capture.
    telemetry.flush?.();
  });
  return logged(capture.lines);
}

describe('the built-in logger reads the log level as Powertools Logger does', () => {
  const all = [
    ['DEBUG', 'replay'],
    ['INFO', 'released'],
    ['WARN', 'lease_lost'],
    ['ERROR', 'store_error'],
  ];

  it('logs from INFO up when no level is set', () => {
    expect(oneOfEachLevel({})).toEqual(all.slice(1));
  });

  it('logs the routine decisions at DEBUG when POWERTOOLS_LOG_LEVEL says DEBUG, whatever its case and spaces', () => {
    expect(oneOfEachLevel({ POWERTOOLS_LOG_LEVEL: ' debug ' })).toEqual(all);
  });

  it('logs a level at the threshold itself: WARN logs warnings and errors', () => {
    expect(oneOfEachLevel({ POWERTOOLS_LOG_LEVEL: 'WARN' })).toEqual(all.slice(2));
  });

  it('reads AWS_LAMBDA_LOG_LEVEL when POWERTOOLS_LOG_LEVEL is unset, and LOG_LEVEL after it', () => {
    expect(oneOfEachLevel({ AWS_LAMBDA_LOG_LEVEL: 'ERROR', LOG_LEVEL: 'DEBUG' })).toEqual(all.slice(3));
    expect(oneOfEachLevel({ LOG_LEVEL: 'DEBUG' })).toEqual(all);
  });

  it('lets POWERTOOLS_LOG_LEVEL win over AWS_LAMBDA_LOG_LEVEL', () => {
    expect(oneOfEachLevel({ POWERTOOLS_LOG_LEVEL: 'DEBUG', AWS_LAMBDA_LOG_LEVEL: 'ERROR' })).toEqual(all);
  });

  it('writes nothing at SILENT, and reads an unknown level as INFO', () => {
    expect(oneOfEachLevel({ POWERTOOLS_LOG_LEVEL: 'SILENT' })).toEqual([]);
    expect(oneOfEachLevel({ POWERTOOLS_LOG_LEVEL: 'LOUD' })).toEqual(all.slice(1));
  });
});

describe('the built-in log line', () => {
  it('is one JSON line with the Powertools fields, the service of POWERTOOLS_SERVICE_NAME and the trace root', () => {
    logs = captureLogs();
    withEnv(
      {
        ...LEVEL_VARIABLES,
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_SERVICE_NAME: 'orders-api',
        _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      },
      () => {
        createTelemetry().emit(Signal.Mismatch, {
          ...facts,
          correlationId: 'req-7',
          detail: { waitedMs: 3 },
        });
      },
    );
    expect(logs.lines).toHaveLength(1);
    const line = JSON.parse(logs.lines[0] as string) as Record<string, unknown>;
    expect(line).toEqual({
      level: 'WARN',
      message: 'idempotency mismatch',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      service: 'orders-api',
      sampling_rate: 0,
      xray_trace_id: '1-5759e988-bd862e3fe1be46a994272793',
      idempotency: 'mismatch',
      mode: 'enforce',
      scope: 'send-invoice',
      org: 'acme',
      key_digest: 'digest-1',
      correlation_id: 'req-7',
      waitedMs: 3,
    });
  });

  it("is the service 'idemkit' with no trace id outside a traced invocation", () => {
    logs = captureLogs();
    withEnv(
      {
        ...LEVEL_VARIABLES,
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_SERVICE_NAME: undefined,
        _X_AMZN_TRACE_ID: undefined,
      },
      () => {
        createTelemetry().emit(Signal.StoreError, facts);
      },
    );
    const line = JSON.parse(logs.lines[0] as string) as Record<string, unknown>;
    expect(line.service).toBe('idemkit');
    expect(line).not.toHaveProperty('xray_trace_id');
  });

  it('writes a configuration warning as a WARN line', () => {
    logs = captureLogs();
    withEnv(LEVEL_VARIABLES, () => createTelemetry().warn('lock TTL raised'));
    expect(logs.lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: 'WARN', message: 'lock TTL raised' }),
    ]);
  });

  it('still logs when EMF is disabled', () => {
    logs = captureLogs();
    withEnv({ ...LEVEL_VARIABLES, ...METRICS_VARIABLES, POWERTOOLS_METRICS_DISABLED: 'true' }, () => {
      const telemetry = createTelemetry();
      telemetry.emit(Signal.StoreError, facts);
      telemetry.flush?.();
    });
    expect(logged(logs.lines)).toEqual([['ERROR', 'store_error']]);
    expect(emf(logs.lines)).toEqual([]);
  });
});

describe('whether EMF is written, as Powertools Metrics reads it', () => {
  function documents(variables: Record<string, string | undefined>): number {
    logs = captureLogs();
    const capture = logs;
    withEnv({ ...METRICS_VARIABLES, ...variables }, () => {
      const telemetry = createTelemetry();
      telemetry.emit(Signal.FirstExecution, facts);
      telemetry.flush?.();
    });
    return emf(capture.lines).length;
  }

  it.each([['true'], [' TRUE '], ['1'], ['yes']])(
    'is off when POWERTOOLS_METRICS_DISABLED is %j',
    (value) => {
      expect(documents({ POWERTOOLS_METRICS_DISABLED: value })).toBe(0);
    },
  );

  it('is on when POWERTOOLS_METRICS_DISABLED says false, even with POWERTOOLS_DEV on', () => {
    expect(documents({ POWERTOOLS_METRICS_DISABLED: 'false', POWERTOOLS_DEV: 'true' })).toBe(1);
  });

  it('is off with POWERTOOLS_DEV on when POWERTOOLS_METRICS_DISABLED is unset or blank', () => {
    expect(documents({ POWERTOOLS_DEV: ' True ' })).toBe(0);
    expect(documents({ POWERTOOLS_METRICS_DISABLED: ' ', POWERTOOLS_DEV: 'true' })).toBe(0);
  });

  it('is on by default, and with POWERTOOLS_DEV off', () => {
    expect(documents({})).toBe(1);
    expect(documents({ POWERTOOLS_DEV: 'false' })).toBe(1);
  });
});

describe('the EMF document', () => {
  function flushed(
    options: Parameters<typeof createTelemetry>[0],
    emit: (t: ReturnType<typeof createTelemetry>) => void,
  ) {
    logs = captureLogs();
    const capture = logs;
    withEnv(METRICS_VARIABLES, () => {
      const telemetry = createTelemetry(options);
      emit(telemetry);
      telemetry.flush?.();
    });
    return emf(capture.lines);
  }

  it('is in the namespace option, else POWERTOOLS_METRICS_NAMESPACE', () => {
    const namespace = (document: Record<string, unknown> | undefined) =>
      (document as { _aws: { CloudWatchMetrics: { Namespace: string }[] } })._aws.CloudWatchMetrics[0]
        ?.Namespace;
    expect(namespace(flushed({ namespace: 'payments' }, (t) => t.emit(Signal.Replay, facts))[0])).toBe(
      'payments',
    );
    process.env.POWERTOOLS_METRICS_NAMESPACE = 'orders';
    try {
      logs = captureLogs();
      const telemetry = createTelemetry();
      telemetry.emit(Signal.Replay, facts);
      telemetry.flush?.();
      expect(namespace(emf(logs.lines)[0])).toBe('orders');
    } finally {
      delete process.env.POWERTOOLS_METRICS_NAMESPACE;
    }
  });

  it('has no wait_time when nothing waited, and one value for one wait', () => {
    const [none] = flushed({}, (t) => t.emit(Signal.FirstExecution, facts));
    expect(none).not.toHaveProperty('wait_time');
    expect(JSON.stringify(none)).not.toContain('Milliseconds');
    const [one] = flushed({}, (t) => t.emit(Signal.Waited, { ...facts, detail: { waitedMs: 25 } }));
    expect(one).toMatchObject({ waited: 1, wait_time: 25 });
  });

  it('counts a wait with no measured time, without a wait_time value', () => {
    const [document] = flushed({}, (t) => t.emit(Signal.Waited, { ...facts, detail: { waitedMs: 'long' } }));
    expect(document).toMatchObject({ waited: 1 });
    expect(document).not.toHaveProperty('wait_time');
  });

  it('takes a waitedMs of another signal for no wait', () => {
    const [document] = flushed({}, (t) => t.emit(Signal.InProgress, { ...facts, detail: { waitedMs: 25 } }));
    expect(document).toMatchObject({ in_progress: 1 });
    expect(document).not.toHaveProperty('wait_time');
  });

  it('keeps scopes apart that only a separator tells from each other', () => {
    const documents = flushed({}, (t) => {
      t.emit(Signal.Replay, { ...facts, mode: 'enforce', scope: 'a' });
      t.emit(Signal.Replay, { ...facts, mode: 'enforc', scope: 'ea' });
    });
    expect(documents.map((document) => [document.mode, document.scope, document.replay])).toEqual([
      ['enforce', 'a', 1],
      ['enforc', 'ea', 1],
    ]);
  });

  it('counts only what happened since the last flush', () => {
    logs = captureLogs();
    withEnv(METRICS_VARIABLES, () => {
      const telemetry = createTelemetry();
      telemetry.emit(Signal.Replay, facts);
      telemetry.emit(Signal.Replay, facts);
      telemetry.flush?.();
      telemetry.emit(Signal.Replay, facts);
      telemetry.flush?.();
    });
    expect(emf(logs.lines).map((document) => document.replay)).toEqual([2, 1]);
  });

  it('is still written a moment later for what was counted after a flush and not flushed again', async () => {
    logs = captureLogs();
    const capture = logs;
    // Its own scope: another test's telemetry left unflushed writes its own document a moment later too.
    const mine = { ...facts, scope: 'counted-after-a-flush' };
    const documents = () => emf(capture.lines).filter((document) => document.scope === mine.scope);
    const telemetry = withEnv(METRICS_VARIABLES, () => createTelemetry());
    telemetry.emit(Signal.Replay, mine);
    telemetry.flush?.();
    telemetry.emit(Signal.StoreError, mine);
    await expect.poll(() => documents().length, { timeout: 20_000, interval: 50 }).toBe(2);
    expect(documents()[1]).toMatchObject({ store_error: 1 });
  });
});

describe('with your own Powertools Metrics, across invocations', () => {
  it('writes each invocation its own counts and waits, under idemkit dimensions, one document per mode and scope', () => {
    logs = captureLogs();
    const telemetry = createTelemetry({
      logger: new Logger({ serviceName: 'orders-api' }),
      metrics: new Metrics({ namespace: 'orders', serviceName: 'orders-api' }),
    });
    telemetry.emit(Signal.Replay, facts);
    telemetry.emit(Signal.Waited, { ...facts, detail: { waitedMs: 12 } });
    telemetry.emit(Signal.Waited, { ...facts, detail: { waitedMs: 30 } });
    telemetry.emit(Signal.WouldReplay, { ...facts, mode: 'observe', scope: 'refund' });
    telemetry.flush?.();
    telemetry.emit(Signal.Replay, facts);
    telemetry.flush?.();
    const documents = emf(logs.lines);
    expect(documents.map((document) => [document.service, document.mode, document.scope])).toEqual([
      ['idemkit', 'enforce', 'send-invoice'],
      ['idemkit', 'observe', 'refund'],
      ['idemkit', 'enforce', 'send-invoice'],
    ]);
    expect(documents[0]).toMatchObject({ replay: 1, waited: 2, wait_time: [12, 30] });
    expect(documents[1]).toMatchObject({ would_replay: 1 });
    expect(documents[1]).not.toHaveProperty('replay');
    expect(documents[2]).toMatchObject({ replay: 1 });
    expect(documents[2]).not.toHaveProperty('wait_time');
  });
});

describe('with your own logger', () => {
  it('hands it every signal, the routine ones too, with the facts as fields', () => {
    const lines: [string, string, Record<string, unknown>][] = [];
    const record =
      (level: string) =>
      (message: string, ...extra: Record<string, unknown>[]): void => {
        lines.push([level, message, Object.assign({}, ...extra)]);
      };
    const telemetry = withEnv({ ...LEVEL_VARIABLES, POWERTOOLS_LOG_LEVEL: 'ERROR' }, () =>
      createTelemetry({
        logger: {
          debug: record('debug'),
          info: record('info'),
          warn: record('warn'),
          error: record('error'),
        },
      }),
    );
    telemetry.emit(Signal.Resumed, { ...facts, correlationId: 'req-1', detail: { attempt: 2 } });
    telemetry.emit(Signal.PreviouslyFailed, facts);
    telemetry.emit(Signal.PermanentFailure, facts);
    expect(lines.map(([level, message]) => [level, message])).toEqual([
      ['debug', 'idempotency resumed'],
      ['info', 'idempotency previously_failed'],
      ['warn', 'idempotency permanent_failure'],
    ]);
    expect(lines[0]?.[2]).toEqual({
      idempotency: 'resumed',
      mode: 'enforce',
      scope: 'send-invoice',
      org: 'acme',
      key_digest: 'digest-1',
      correlation_id: 'req-1',
      attempt: 2,
    });
  });
});

describe('the telemetry at the edges of its inputs', () => {
  it("writes a configuration warning at WARN's own threshold, and none under ERROR", () => {
    logs = captureLogs();
    withEnv({ ...LEVEL_VARIABLES, POWERTOOLS_LOG_LEVEL: 'WARN' }, () =>
      createTelemetry().warn('lock TTL raised'),
    );
    withEnv({ ...LEVEL_VARIABLES, POWERTOOLS_LOG_LEVEL: 'ERROR' }, () =>
      createTelemetry().warn('not written'),
    );
    expect(logs.lines.map((line) => JSON.parse(line).message)).toEqual(['lock TTL raised']);
  });

  it('writes no trace id when the trace header has no root', () => {
    logs = captureLogs();
    withEnv({ ...LEVEL_VARIABLES, _X_AMZN_TRACE_ID: 'Parent=53995c3f42cd8ad8;Sampled=1' }, () =>
      createTelemetry().warn('lock TTL raised'),
    );
    expect(JSON.parse(logs.lines[0] as string)).not.toHaveProperty('xray_trace_id');
  });

  it('counts a wait that carries no detail, without a wait_time value', () => {
    logs = captureLogs();
    withEnv(METRICS_VARIABLES, () => {
      const telemetry = createTelemetry();
      telemetry.emit(Signal.Waited, facts);
      telemetry.flush?.();
    });
    const [document] = emf(logs.lines);
    expect(document).toMatchObject({ waited: 1 });
    expect(document).not.toHaveProperty('wait_time');
  });

  it('makes one instance of your Metrics class per mode and scope, not one per flush, with the units set', () => {
    logs = captureLogs();
    let made = 0;
    class CountedMetrics extends Metrics {
      constructor(...args: ConstructorParameters<typeof Metrics>) {
        super(...args);
        made += 1;
      }
    }
    const telemetry = createTelemetry({
      logger: new Logger({ serviceName: 'orders-api' }),
      metrics: new CountedMetrics({ namespace: 'orders', serviceName: 'orders-api' }),
    });
    made = 0;
    for (let invocation = 0; invocation < 3; invocation++) {
      telemetry.emit(Signal.Replay, facts);
      telemetry.emit(Signal.Waited, { ...facts, detail: { waitedMs: 5 } });
      telemetry.flush?.();
    }
    expect(made).toBe(1);
    const documents = emf(logs.lines) as { _aws: { CloudWatchMetrics: { Metrics: unknown[] }[] } }[];
    expect(documents).toHaveLength(3);
    expect(documents[2]?._aws.CloudWatchMetrics[0]?.Metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Name: 'replay', Unit: 'Count' }),
        expect.objectContaining({ Name: 'waited', Unit: 'Count' }),
        expect.objectContaining({ Name: 'wait_time', Unit: 'Milliseconds' }),
      ]),
    );
  });
});
