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
 * Where signals go. The default logs the signals an operator acts on and counts every signal in one EMF
 * document per invocation; tests and other runtimes may pass their own.
 *
 * @example
 * const telemetry: Telemetry = { emit: (signal) => counts.set(signal, (counts.get(signal) ?? 0) + 1), warn() {} };
 */
export interface Telemetry {
  emit(signal: Signal, facts: SignalFacts): void;
  /** A configuration warning, once at cold start (a lock TTL raised to the environment's minimum). */
  warn(message: string): void;
  /**
   * Writes what this invocation counted. Every door calls it once an invocation is answered; optional, so
   * a telemetry that writes at once needs none.
   */
  flush?(): void;
}

/** The methods of a Powertools `Logger` idemkit writes with, so yours can be shared (no import of ours). */
export interface TelemetryLogger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** The methods of a Powertools `Metrics` idemkit writes with, so yours can be shared (no import of ours). */
export interface TelemetryMetrics {
  addMetric(name: string, unit: 'Count' | 'Milliseconds', value: number): unknown;
  serializeMetrics(): object;
  clearMetrics(): void;
}

/** Options of {@link createTelemetry}. */
export interface TelemetryOptions {
  /**
   * Your Powertools `Logger`: idemkit's lines then carry its service name, level, keys and context.
   * @default a built-in writer of the same JSON line, service `POWERTOOLS_SERVICE_NAME` or 'idemkit'
   */
  readonly logger?: TelemetryLogger;
  /**
   * Your Powertools `Metrics`: idemkit's documents are then serialized by its class (one instance per mode and
   * scope, with idemkit's namespace and dimensions, so the `IdempotencyDashboard` graphs them).
   * @default a built-in EMF writer
   */
  readonly metrics?: TelemetryMetrics;
  /**
   * The CloudWatch namespace of the EMF metrics.
   * @default `POWERTOOLS_METRICS_NAMESPACE`, else 'idemkit'
   */
  readonly namespace?: string;
}

type Level = 'debug' | 'info' | 'warn' | 'error';

// What an operator acts on is logged; the routine decisions (a first run, a replay, a wait) are only counted,
// and logged at DEBUG for whoever follows every decision (the playground does).
const LEVELS: Readonly<Record<Signal, Level>> = {
  first_execution: 'debug',
  resumed: 'debug',
  replay: 'debug',
  waited: 'debug',
  would_replay: 'debug',
  in_progress: 'info',
  released: 'info',
  missing_key: 'info',
  invalid_key: 'info',
  invalid_org: 'info',
  previously_failed: 'info',
  mismatch: 'warn',
  lease_lost: 'warn',
  result_too_large: 'warn',
  would_reject: 'warn',
  permanent_failure: 'warn',
  store_error: 'error',
};

// As Powertools Logger numbers them.
const THRESHOLDS: Readonly<Record<string, number>> = {
  TRACE: 6,
  DEBUG: 8,
  INFO: 12,
  WARN: 16,
  ERROR: 20,
  CRITICAL: 24,
  SILENT: 28,
};
const LEVEL_VALUES: Readonly<Record<Level, number>> = { debug: 8, info: 12, warn: 16, error: 20 };

// A buffer nobody flushed (an engine used without a door) is still written, a little later.
const FALLBACK_FLUSH_MS = 1000;

/** The level below which lines are dropped, read once as Powertools Logger reads it. */
function logThreshold(env: Readonly<Record<string, string | undefined>>): number {
  const name = (env.POWERTOOLS_LOG_LEVEL || env.AWS_LAMBDA_LOG_LEVEL || env.LOG_LEVEL || 'INFO')
    .trim()
    .toUpperCase();
  return THRESHOLDS[name] ?? LEVEL_VALUES.info;
}

/** Whether EMF is off, as Powertools Metrics reads it: POWERTOOLS_METRICS_DISABLED, else POWERTOOLS_DEV. */
function metricsDisabled(env: Readonly<Record<string, string | undefined>>): boolean {
  const disabled = env.POWERTOOLS_METRICS_DISABLED?.trim().toLowerCase();
  return disabled === undefined || disabled === ''
    ? env.POWERTOOLS_DEV?.trim().toLowerCase() === 'true'
    : ['true', '1', 'yes'].includes(disabled);
}

/**
 * A Powertools-shaped JSON line (`level`, `message`, `timestamp`, `service`, `sampling_rate`, `xray_trace_id`,
 * then the fields) in one `stdout.write`: the lines Logs Insights queries and the playground read.
 */
function builtInLogger(service: string, threshold: number): TelemetryLogger {
  const write = (level: Level, message: string, extra: Record<string, unknown>[]) => {
    if (LEVEL_VALUES[level] < threshold) return;
    const trace = process.env._X_AMZN_TRACE_ID;
    const root = trace === undefined ? undefined : /Root=([^;]+)/.exec(trace)?.[1];
    const line = Object.assign(
      {
        level: level.toUpperCase(),
        message,
        timestamp: new Date().toISOString(),
        service,
        sampling_rate: 0,
        xray_trace_id: root,
      },
      ...extra,
    );
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  return {
    debug: (message, ...extra) => write('debug', message, extra),
    info: (message, ...extra) => write('info', message, extra),
    warn: (message, ...extra) => write('warn', message, extra),
    error: (message, ...extra) => write('error', message, extra),
  };
}

/** What one (mode, scope) counted since the last flush. */
interface Tally {
  readonly mode: string;
  readonly scope: string;
  readonly counts: Map<Signal, number>;
  readonly waits: number[];
}

/** One EMF document (the CloudWatch embedded metric format) for a tally. */
function emfDocument(namespace: string, tally: Tally, timestamp: number): string {
  const metrics: { Name: string; Unit: string }[] = [];
  const values: Record<string, number | number[]> = {};
  for (const [signal, count] of tally.counts) {
    metrics.push({ Name: signal, Unit: 'Count' });
    values[signal] = count;
  }
  if (tally.waits.length > 0) {
    metrics.push({ Name: METRICS.waitTime, Unit: 'Milliseconds' });
    values[METRICS.waitTime] = tally.waits.length === 1 ? (tally.waits[0] as number) : tally.waits;
  }
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [[...METRICS.dimensions]], Metrics: metrics }],
    },
    service: METRICS.service,
    mode: tally.mode,
    scope: tally.scope,
    ...values,
  });
}

/**
 * The default {@link Telemetry}: a JSON log line for what an operator acts on (levels as Powertools Logger
 * reads them), and every signal counted in one EMF document per (mode, scope) per invocation, written when
 * the door flushes, with `mode` and `scope` as dimensions. Pass your Powertools `Logger` and `Metrics` to
 * share them; without them idemkit carries no logging or metrics library.
 *
 * @example
 * const telemetry = createTelemetry({ logger, metrics }); // the handler's own Powertools Logger and Metrics
 */
export function createTelemetry(options: TelemetryOptions = {}): Telemetry {
  const env = process.env;
  // A shared logger filters by its own level; the built-in one by the environment's, read once.
  const threshold = options.logger === undefined ? logThreshold(env) : 0;
  const logger = options.logger ?? builtInLogger(env.POWERTOOLS_SERVICE_NAME || 'idemkit', threshold);
  const namespace = options.namespace ?? env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS.defaultNamespace;
  const disabled = metricsDisabled(env);
  const tallies = new Map<string, Tally>();
  // The user's Metrics class serializes our documents when they share one; one instance per (mode, scope),
  // made once, written with one `stdout.write`: a Metrics per signal cost ~90 us and retained 7 KB, and two
  // Console objects taking turns on stdout retain ~0.5 KB per pair of writes on Node 22 (bench/analysis.md).
  const shared = new Map<string, TelemetryMetrics>();
  const SharedClass = options.metrics?.constructor as
    | (new (config: {
        namespace: string;
        serviceName: string;
        defaultDimensions: Record<string, string>;
      }) => TelemetryMetrics)
    | undefined;
  // One timer for the life of the telemetry, refreshed at the first signal after each flush rather than made and
  // cleared per invocation; once flushed it may still fire, and then finds nothing to write.
  let fallback: ReturnType<typeof setTimeout> | undefined;
  let armed = false;
  // The tally of the last signal: a door's signals are all of one mode and scope, so this skips the lookup.
  let last: Tally | undefined;

  const serialize = (id: string, tally: Tally, timestamp: number): string => {
    if (SharedClass === undefined) return emfDocument(namespace, tally, timestamp);
    let emitter = shared.get(id);
    if (emitter === undefined) {
      emitter = new SharedClass({
        namespace,
        serviceName: METRICS.service,
        defaultDimensions: { mode: tally.mode, scope: tally.scope },
      });
      shared.set(id, emitter);
    }
    for (const [signal, count] of tally.counts) emitter.addMetric(signal, 'Count', count);
    for (const wait of tally.waits) emitter.addMetric(METRICS.waitTime, 'Milliseconds', wait);
    const document = JSON.stringify(emitter.serializeMetrics());
    emitter.clearMetrics();
    return document;
  };

  const flush = () => {
    armed = false;
    last = undefined;
    if (tallies.size === 0) return;
    const timestamp = Date.now();
    let out = '';
    for (const [id, tally] of tallies) out += `${serialize(id, tally, timestamp)}\n`;
    tallies.clear();
    process.stdout.write(out);
  };

  return {
    emit(signal, facts) {
      const level = LEVELS[signal];
      // The fields are built only for a line that is written: the routine decisions are not, by default.
      if (LEVEL_VALUES[level] >= threshold)
        logger[level](`idempotency ${signal}`, {
          idempotency: signal,
          mode: facts.mode,
          scope: facts.scope,
          org: facts.org,
          key_digest: facts.keyDigest,
          correlation_id: facts.correlationId,
          ...facts.detail,
        });
      if (disabled) return;
      let tally = last;
      if (tally === undefined || tally.mode !== facts.mode || tally.scope !== facts.scope) {
        const id = `${facts.mode}\u0000${facts.scope}`;
        tally = tallies.get(id);
        if (tally === undefined) {
          tally = { mode: facts.mode, scope: facts.scope, counts: new Map(), waits: [] };
          tallies.set(id, tally);
        }
        last = tally;
      }
      tally.counts.set(signal, (tally.counts.get(signal) ?? 0) + 1);
      // The wait itself, as a value, so operators can read its distribution (p50, p99) per scope and mode.
      if (signal === Signal.Waited && typeof facts.detail?.waitedMs === 'number')
        tally.waits.push(facts.detail.waitedMs);
      if (!armed) {
        armed = true;
        if (fallback === undefined) {
          fallback = setTimeout(flush, FALLBACK_FLUSH_MS);
          fallback.unref();
        } else fallback.refresh();
      }
    },
    warn(message) {
      logger.warn(message);
    },
    flush,
  };
}

/** A {@link Telemetry} that drops everything. */
export const silentTelemetry: Telemetry = { emit() {}, warn() {} };
