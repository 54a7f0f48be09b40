import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS } from './metrics.js';

/**
 * Every decision and incident idemkit logs and counts (docs/protocol.md section 7). The value is the metric name.
 */
export const Signal = {
  FirstExecution: 'first_execution',
  Resumed: 'resumed',
  Replay: 'replay',
  Mismatch: 'mismatch',
  InProgress: 'in_progress',
  Waited: 'waited',
  LeaseLost: 'lease_lost',
  Released: 'released',
  StoreError: 'store_error',
  ResultTooLarge: 'result_too_large',
  MissingKey: 'missing_key',
  InvalidKey: 'invalid_key',
  InvalidOrg: 'invalid_org',
  WouldReplay: 'would_replay',
  WouldReject: 'would_reject',
  PermanentFailure: 'permanent_failure',
  PreviouslyFailed: 'previously_failed',
} as const;

/** One of {@link Signal}. */
export type Signal = (typeof Signal)[keyof typeof Signal];

/** What is known about one signal. Never a raw key, payload or result: only digests and names. */
export interface SignalFacts {
  readonly mode: string;
  readonly scope: string;
  readonly org?: string;
  readonly keyDigest?: string;
  readonly correlationId?: string;
  /** Extra numbers and names for the log line (`waitedMs`, `retryAfterSeconds`, an error's name). */
  readonly detail?: Readonly<Record<string, string | number | boolean | undefined>>;
}

/**
 * Where signals go. The default writes a Powertools Logger JSON line and one EMF metric per signal;
 * tests and other runtimes may pass their own.
 *
 * @example
 * const telemetry: Telemetry = { emit: (signal) => counts.set(signal, (counts.get(signal) ?? 0) + 1), warn() {} };
 */
export interface Telemetry {
  emit(signal: Signal, facts: SignalFacts): void;
  /** A configuration warning, once at cold start (a lock TTL raised to the environment's minimum). */
  warn(message: string): void;
}

/** Options of {@link createTelemetry}. */
export interface TelemetryOptions {
  /**
   * The Powertools logger to write to.
   * @default a new `Logger` with service name `idemkit` (or `POWERTOOLS_SERVICE_NAME`)
   */
  readonly logger?: Logger;
  /**
   * The CloudWatch namespace of the EMF metrics.
   * @default `POWERTOOLS_METRICS_NAMESPACE`, else 'idemkit'
   */
  readonly namespace?: string;
}

const WARNINGS = new Set<Signal>([
  Signal.Mismatch,
  Signal.LeaseLost,
  Signal.ResultTooLarge,
  Signal.WouldReject,
  Signal.PermanentFailure,
]);

/**
 * The default {@link Telemetry}: Powertools Logger and Metrics, with `mode` and `scope` as dimensions.
 *
 * @example
 * const telemetry = createTelemetry({ logger: new Logger({ serviceName: 'orders' }) });
 */
export function createTelemetry(options: TelemetryOptions = {}): Telemetry {
  const logger =
    options.logger ?? new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'idemkit' });
  const namespace = options.namespace ?? process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS.defaultNamespace;
  // One Metrics per (mode, scope), made once, whose EMF line is written straight to stdout. Measured: (1)
  // `singleMetric()` per signal built a new Metrics and Console each time (~90 us, +7 KB retained per
  // signal); (2) two Console objects writing to one stream in turn, as the Logger's and a single-metric
  // Metrics' do, retain ~0.5 KB per pair of writes on Node 22, while a Console alternating with a raw
  // `stdout.write` retains nothing.
  const emitters = new Map<string, Metrics>();
  // As Powertools Metrics reads it: POWERTOOLS_METRICS_DISABLED, else off in POWERTOOLS_DEV mode.
  const disabledVariable = process.env.POWERTOOLS_METRICS_DISABLED?.trim().toLowerCase();
  const metricsDisabled =
    disabledVariable === undefined || disabledVariable === ''
      ? process.env.POWERTOOLS_DEV?.trim().toLowerCase() === 'true'
      : ['true', '1', 'yes'].includes(disabledVariable);
  const emitterFor = (mode: string, scope: string): Metrics => {
    const id = `${mode}\u0000${scope}`;
    let emitter = emitters.get(id);
    if (emitter === undefined) {
      emitter = new Metrics({ namespace, serviceName: METRICS.service, defaultDimensions: { mode, scope } });
      emitters.set(id, emitter);
    }
    return emitter;
  };
  return {
    emit(signal, facts) {
      const line = {
        idempotency: signal,
        mode: facts.mode,
        scope: facts.scope,
        org: facts.org,
        key_digest: facts.keyDigest,
        correlation_id: facts.correlationId,
        ...facts.detail,
      };
      if (signal === Signal.StoreError) logger.error(`idempotency ${signal}`, line);
      else if (WARNINGS.has(signal)) logger.warn(`idempotency ${signal}`, line);
      else logger.info(`idempotency ${signal}`, line);
      const emitter = emitterFor(facts.mode, facts.scope);
      emitter.addMetric(signal, MetricUnit.Count, 1);
      // The wait itself, as a value, so operators can read its distribution (p50, p99) per scope and mode.
      if (signal === Signal.Waited && typeof facts.detail?.waitedMs === 'number')
        emitter.addMetric(METRICS.waitTime, MetricUnit.Milliseconds, facts.detail.waitedMs);
      if (!metricsDisabled) process.stdout.write(`${JSON.stringify(emitter.serializeMetrics())}\n`);
      emitter.clearMetrics();
    },
    warn(message) {
      logger.warn(message);
    },
  };
}

/** A {@link Telemetry} that drops everything. */
export const silentTelemetry: Telemetry = { emit() {}, warn() {} };
