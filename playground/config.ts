import { type StageSettings, stageSettings } from '../infra/stages.js';

/** The playground's own knobs, read once at start; the `IDEMPOTENCY_*` variables are the library's. */
export interface PlaygroundConfig {
  /** The reference stack's stage whose names and settings are used. */
  readonly settings: StageSettings;
  /** Where the HTTP API listens. */
  readonly port: number;
  /** The largest request body accepted, in bytes; larger ones get 413. */
  readonly maxBodyBytes: number;
  /** DynamoDB Local's (or dynalite's) port; `0` picks a free one. */
  readonly dynamodbPort: number;
  /** The SQS emulator's port; `0` picks a free one. */
  readonly sqsPort: number;
  /**
   * The job queue's visibility timeout: short, so a poison job reaches the DLQ in seconds rather than the
   * stage's minutes (`PLAYGROUND_VISIBILITY_TIMEOUT_S`).
   */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before the redrive policy moves a message to the DLQ (`PLAYGROUND_MAX_RECEIVE_COUNT`). */
  readonly maxReceiveCount: number;
  /** `auto`, `dynamodb-local` or `dynalite`. */
  readonly dynamodb: 'auto' | 'dynamodb-local' | 'dynalite';
  /** How many pollers run the worker at once, as Lambda runs several for one SQS source. */
  readonly pollers: number;
}

/** API Gateway's own payload limit (10 MB), so the playground refuses what the real API would. */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** The port of `npm start` unless `PORT` says otherwise. */
export const DEFAULT_PORT = 3000;
/**
 * Fixed ports for the local servers, so the commands in the README and the banner are the same on every
 * machine: DynamoDB Local's own default, and the one ElasticMQ made usual for a local SQS.
 */
export const DEFAULT_DYNAMODB_PORT = 8000;
export const DEFAULT_SQS_PORT = 9324;
/**
 * The playground's queue: 3 receives, 3 s apart, so a poison job is in the DLQ about 10 s after it was
 * sent. The stage's own settings (180 s, 5 receives) would take 15 minutes.
 */
export const DEFAULT_VISIBILITY_TIMEOUT_S = 3;
export const DEFAULT_MAX_RECEIVE_COUNT = 3;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads `PORT` and the `PLAYGROUND_*` variables; a bad value is an error naming the variable, the value
 * and what is allowed.
 *
 * @example
 * const config = readPlaygroundConfig(process.env);
 */
export function readPlaygroundConfig(env: Env = process.env, overrides: Partial<PlaygroundConfig> = {}) {
  const problems: string[] = [];
  const integer = (name: string, min: number, max: number, fallback: number): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (/^\d+$/.test(raw) && value >= min && value <= max) return value;
    problems.push(`Expected \`${name}\` to be a whole number from ${min} to ${max}, got '${raw}'.`);
    return fallback;
  };
  let settings: StageSettings | undefined;
  try {
    settings = stageSettings(env.PLAYGROUND_STAGE?.trim() || 'dev');
  } catch {
    problems.push(
      `Expected \`PLAYGROUND_STAGE\` to be one of dev, stage, prod, got '${env.PLAYGROUND_STAGE}'.`,
    );
  }
  const dynamodb = (env.PLAYGROUND_DYNAMODB?.trim() || 'auto') as PlaygroundConfig['dynamodb'];
  if (!['auto', 'dynamodb-local', 'dynalite'].includes(dynamodb)) {
    problems.push(
      `Expected \`PLAYGROUND_DYNAMODB\` to be auto, dynamodb-local or dynalite, got '${env.PLAYGROUND_DYNAMODB}'.`,
    );
  }
  const config: PlaygroundConfig = {
    settings: settings ?? stageSettings('dev'),
    port: integer('PORT', 0, 65_535, DEFAULT_PORT),
    maxBodyBytes: integer('PLAYGROUND_MAX_BODY_BYTES', 1, 100 * 1024 * 1024, DEFAULT_MAX_BODY_BYTES),
    dynamodbPort: integer('PLAYGROUND_DYNAMODB_PORT', 0, 65_535, DEFAULT_DYNAMODB_PORT),
    sqsPort: integer('PLAYGROUND_SQS_PORT', 0, 65_535, DEFAULT_SQS_PORT),
    visibilityTimeoutSeconds: integer(
      'PLAYGROUND_VISIBILITY_TIMEOUT_S',
      0,
      43_200,
      DEFAULT_VISIBILITY_TIMEOUT_S,
    ),
    maxReceiveCount: integer('PLAYGROUND_MAX_RECEIVE_COUNT', 1, 1000, DEFAULT_MAX_RECEIVE_COUNT),
    dynamodb,
    pollers: integer('PLAYGROUND_POLLERS', 1, 10, 2),
    ...overrides,
  };
  if (problems.length > 0) throw new PlaygroundConfigError(problems);
  return config;
}

/** A bad `PORT` or `PLAYGROUND_*` variable; the message has one sentence per problem. */
export class PlaygroundConfigError extends Error {
  override name = 'PlaygroundConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join(' '));
  }
}

/**
 * The `IDEMPOTENCY_*` variables the handlers read: the stage's, except that the playground enforces by
 * default; a variable already set in the environment wins, as it does for operators in a real stage.
 *
 * @example
 * Object.assign(process.env, idempotencyEnvironment(config.settings, process.env));
 */
export function idempotencyEnvironment(settings: StageSettings, env: Env): Record<string, string> {
  const defaults: Record<string, string> = { ...settings.environment, IDEMPOTENCY_MODE: 'enforce' };
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(defaults)) result[name] = env[name] ?? value;
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('IDEMPOTENCY_') && value !== undefined) result[name] = value;
  }
  return result;
}
