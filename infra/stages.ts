/**
 * The one source of truth for the reference stack's stages: the `IDEMPOTENCY_*` variables of every
 * handler (docs/protocol.md section 5) and the names and settings of the table and queues. Plain data with no
 * CDK import, so a local playground can create the same resources without synthesizing.
 *
 * @example
 * import { stageSettings } from './infra/stages.js';
 * const { table, jobs } = stageSettings('dev');
 */

/** The stages the reference stack deploys; pick one with `--context stage=<name>`. */
export const STAGE_NAMES = ['dev', 'stage', 'prod'] as const;
/** One of {@link STAGE_NAMES}. */
export type StageName = (typeof STAGE_NAMES)[number];
/** The stage used when `--context stage` is not given. */
export const DEFAULT_STAGE: StageName = 'dev';

/** The `IDEMPOTENCY_*` variables every reference handler gets. */
export interface IdempotencyEnvironment {
  readonly IDEMPOTENCY_ENV: StageName;
  readonly IDEMPOTENCY_MODE: 'off' | 'observe' | 'enforce';
  readonly IDEMPOTENCY_LOCK_TTL_S: string;
  readonly IDEMPOTENCY_STRICT_FAIL_CLOSED: 'true' | 'false';
  readonly IDEMPOTENCY_TTL_S: string;
}

/** Everything one stage of the reference stack declares. */
export interface StageSettings {
  readonly stage: StageName;
  /** The CloudFormation stack's name. */
  readonly stackName: string;
  /** Given to both handlers (the middleware and the job runner read them once at cold start). */
  readonly environment: IdempotencyEnvironment;
  /** The idempotency table (partition key `pk` String, TTL on `expiresAt`). */
  readonly table: { readonly tableName: string };
  /** The invoice job queue and its dead-letter queue. */
  readonly jobs: {
    readonly queueName: string;
    readonly deadLetterQueueName: string;
    readonly maxReceiveCount: number;
    /** Six times `worker.timeoutSeconds`, as Lambda advises for SQS sources. */
    readonly visibilityTimeoutSeconds: number;
    readonly retentionPeriodSeconds: number;
    readonly deadLetterRetentionSeconds: number;
    readonly batchSize: number;
    readonly maxBatchingWindowSeconds: number;
  };
  /** The `POST /orders` handler. */
  readonly api: {
    readonly timeoutSeconds: number;
    readonly memoryMiB: number;
    /** Steady-state requests per second of the HTTP API's default stage. */
    readonly throttleRateLimit: number;
    readonly throttleBurstLimit: number;
  };
  /** The invoice job worker. */
  readonly worker: { readonly timeoutSeconds: number; readonly memoryMiB: number };
  /** How long the functions' and the API's logs are kept. */
  readonly logRetentionDays: number;
}

const DAY_S = 86_400;
/** Stripe keeps keys 24 h; docs/protocol.md section 5 `IDEMPOTENCY_TTL_S`. */
const RECORD_LIFETIME_S = '86400';
const WORKER_TIMEOUT_S = 30;

function settings(
  stage: StageName,
  idempotency: Pick<IdempotencyEnvironment, 'IDEMPOTENCY_MODE' | 'IDEMPOTENCY_LOCK_TTL_S'>,
  logRetentionDays: number,
): StageSettings {
  const prefix = `idemkit-${stage}`;
  return {
    stage,
    stackName: prefix,
    environment: {
      IDEMPOTENCY_ENV: stage,
      ...idempotency,
      IDEMPOTENCY_STRICT_FAIL_CLOSED: 'false',
      IDEMPOTENCY_TTL_S: RECORD_LIFETIME_S,
    },
    table: { tableName: `${prefix}-idempotency` },
    jobs: {
      queueName: `${prefix}-invoice-jobs`,
      deadLetterQueueName: `${prefix}-invoice-jobs-dlq`,
      maxReceiveCount: 5,
      visibilityTimeoutSeconds: 6 * WORKER_TIMEOUT_S,
      retentionPeriodSeconds: 4 * DAY_S,
      deadLetterRetentionSeconds: 14 * DAY_S,
      batchSize: 10,
      maxBatchingWindowSeconds: 1,
    },
    api: { timeoutSeconds: 10, memoryMiB: 512, throttleRateLimit: 50, throttleBurstLimit: 100 },
    worker: { timeoutSeconds: WORKER_TIMEOUT_S, memoryMiB: 512 },
    logRetentionDays,
  };
}

/**
 * Every stage's settings. Modes and lock TTLs follow the rollout guide: observe in dev (30 s) and stage
 * (60 s), enforce in prod (120 s, never lower); fail open everywhere.
 */
export const STAGES: Readonly<Record<StageName, StageSettings>> = {
  dev: settings('dev', { IDEMPOTENCY_MODE: 'observe', IDEMPOTENCY_LOCK_TTL_S: '30' }, 7),
  stage: settings('stage', { IDEMPOTENCY_MODE: 'observe', IDEMPOTENCY_LOCK_TTL_S: '60' }, 30),
  prod: settings('prod', { IDEMPOTENCY_MODE: 'enforce', IDEMPOTENCY_LOCK_TTL_S: '120' }, 90),
};

/**
 * The settings of `stage`, or an error naming the allowed stages.
 *
 * @example
 * stageSettings(app.node.tryGetContext('stage') ?? DEFAULT_STAGE);
 */
export function stageSettings(stage: unknown): StageSettings {
  if (typeof stage === 'string' && (STAGE_NAMES as readonly string[]).includes(stage)) {
    return STAGES[stage as StageName];
  }
  throw new Error(
    `Expected the \`stage\` context to be one of ${STAGE_NAMES.join(', ')}, got ${JSON.stringify(stage)}; pass --context stage=dev.`,
  );
}

/**
 * Where a stage runs beyond one Region; pick one with `--context layout=<name>` (any stage):
 * - `single-region`: the table and the API in the stack's Region (the default).
 * - `global`: the table as a multi-Region strongly consistent global table (three US Regions), no TTL, and the
 *   sweep scheduled instead.
 * - `edge`: `global`, plus a CloudFront distribution in us-east-1 whose `/api/*` behaviour runs
 *   `edgeIdempotency` on origin request.
 */
export const LAYOUT_NAMES = ['single-region', 'global', 'edge'] as const;
/** One of {@link LAYOUT_NAMES}. */
export type LayoutName = (typeof LAYOUT_NAMES)[number];

/** What a layout adds to a stage. */
export interface LayoutSettings {
  readonly layout: LayoutName;
  /** The Region of the stack that owns the table and the API; `undefined` keeps the CLI's. */
  readonly homeRegion?: string;
  /** Replicas besides the home Region, and how they agree. */
  readonly replicas?: {
    readonly regions: readonly string[];
    readonly consistency: 'strong' | 'eventual';
    readonly witnessRegion?: string;
  };
  /** The edge stack (always us-east-1, as Lambda@Edge requires). */
  readonly edge?: {
    readonly stackSuffix: string;
    readonly eventType: 'origin-request' | 'viewer-request';
    /** The origin's domain when none is given with `--context edgeOriginDomain=...`. */
    readonly placeholderOriginDomain: string;
  };
}

const GLOBAL_REPLICAS = { regions: ['us-east-2', 'us-west-2'], consistency: 'strong' } as const;

/** Every layout's settings. */
export const LAYOUTS: Readonly<Record<LayoutName, LayoutSettings>> = {
  'single-region': { layout: 'single-region' },
  global: { layout: 'global', homeRegion: 'us-east-1', replicas: GLOBAL_REPLICAS },
  edge: {
    layout: 'edge',
    homeRegion: 'us-east-1',
    replicas: GLOBAL_REPLICAS,
    edge: { stackSuffix: 'edge', eventType: 'origin-request', placeholderOriginDomain: 'orders.invalid' },
  },
};

/**
 * The settings of `layout`, or an error naming the allowed layouts.
 *
 * @example
 * layoutSettings(app.node.tryGetContext('layout') ?? 'single-region');
 */
export function layoutSettings(layout: unknown): LayoutSettings {
  if (typeof layout === 'string' && (LAYOUT_NAMES as readonly string[]).includes(layout)) {
    return LAYOUTS[layout as LayoutName];
  }
  throw new Error(
    `Expected the \`layout\` context to be one of ${LAYOUT_NAMES.join(', ')}, got ${JSON.stringify(layout)}; pass --context layout=global.`,
  );
}
