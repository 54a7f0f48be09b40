import * as z from 'zod/mini';
import type { CacheOptions } from './cache.js';
import { IdempotencyConfigError } from './errors.js';
import { assertValidName, MAX_NAME_LENGTH } from './keys.js';
import type { Telemetry } from './telemetry.js';
import type { Store } from './types.js';

/** Rollout modes (docs/protocol.md section 5). */
export const Mode = { Off: 'off', Observe: 'observe', Enforce: 'enforce' } as const;
/** One of {@link Mode}. */
export type Mode = (typeof Mode)[keyof typeof Mode];

/** Deployment environments with their own defaults (docs/protocol.md section 5). */
export const Environment = { Dev: 'dev', Stage: 'stage', Prod: 'prod', Test: 'test' } as const;
/** One of {@link Environment}. */
export type Environment = (typeof Environment)[keyof typeof Environment];

const MODES = Object.values(Mode);
const ENVIRONMENTS = Object.values(Environment);

interface EnvironmentDefaults {
  readonly mode: Mode | undefined;
  readonly lockTtlSeconds: number;
  readonly minLockTtlSeconds: number;
  readonly strictFailClosed: boolean;
}

/** The rollout guide's table. `test` inherits the mode from the code option (else `enforce`). */
export const ENVIRONMENT_DEFAULTS: Readonly<Record<Environment, EnvironmentDefaults>> = {
  dev: { mode: Mode.Observe, lockTtlSeconds: 30, minLockTtlSeconds: 1, strictFailClosed: false },
  stage: { mode: Mode.Observe, lockTtlSeconds: 60, minLockTtlSeconds: 60, strictFailClosed: false },
  prod: { mode: Mode.Enforce, lockTtlSeconds: 120, minLockTtlSeconds: 120, strictFailClosed: false },
  test: { mode: undefined, lockTtlSeconds: 60, minLockTtlSeconds: 1, strictFailClosed: false },
};

/** Defaults that do not depend on the environment. */
export const DEFAULTS = {
  environment: Environment.Prod,
  expiresAfterSeconds: 86_400,
  waitBudgetMs: 2_000,
  jitterMs: 50,
} as const;

/**
 * Options every door (HTTP middleware, job runner, generic wrapper) accepts.
 *
 * @example
 * { store: new MemoryStore(), scope: 'charge', mode: 'enforce', lockTtlSeconds: 120 }
 */
export interface CommonOptions {
  /** Where records live. */
  readonly store: Store;
  /**
   * Which environment's defaults apply; `IDEMPOTENCY_ENV` wins over it.
   * @default 'prod'
   */
  readonly environment?: Environment;
  /**
   * `off` (no store calls), `observe` (measure, never block) or `enforce`; `IDEMPOTENCY_MODE` wins over it.
   * @default the environment's mode: `observe` in dev and stage, `enforce` in prod and test
   */
  readonly mode?: Mode;
  /**
   * How long a claim's lease lasts, in seconds, before another invocation may take over. Raised to the
   * environment's minimum (120 in prod, 60 in stage) with a warning. `IDEMPOTENCY_LOCK_TTL_S` wins over it.
   * @default the environment's: 30 dev, 60 stage, 120 prod, 60 test
   */
  readonly lockTtlSeconds?: number;
  /**
   * How long a record lives, in seconds (the TTL attribute). `IDEMPOTENCY_TTL_S` wins over it.
   * @default 86400 (24 h, as Stripe keeps keys)
   */
  readonly expiresAfterSeconds?: number;
  /**
   * How long a duplicate waits for a running first request before answering "in progress", in ms.
   * `IDEMPOTENCY_WAIT_BUDGET_MS` wins over it.
   * @default 2000
   */
  readonly waitBudgetMs?: number;
  /**
   * The most random jitter added to each wait poll, in ms. `IDEMPOTENCY_JITTER_MS` wins over it.
   * @default 50
   */
  readonly jitterMs?: number;
  /**
   * When the store fails: `false` runs the operation anyway (fail open), `true` refuses it (HTTP 503).
   * `IDEMPOTENCY_STRICT_FAIL_CLOSED` wins over it.
   * @default false
   */
  readonly strictFailClosed?: boolean;
  /**
   * The in-process cache of completed records: `true` for the default bounds, or the bounds.
   * @default false
   */
  readonly cache?: boolean | CacheOptions;
  /**
   * Where decisions are logged and counted.
   * @default Powertools Logger and Metrics (`createTelemetry()`)
   */
  readonly telemetry?: Telemetry;
  /**
   * How often a running operation renews its lease, in ms; shorter than the lock TTL. Every door keeps its
   * lease alive this way, so a short lock TTL means fast recovery after a crash, never a second run.
   * @default a third of the lock TTL
   */
  readonly renewEvery?: number;
  /**
   * The clock, epoch ms. For tests.
   * @default Date.now
   */
  readonly clock?: () => number;
}

/** The settings that the environment variables can change, after precedence and clamps. */
export interface Settings {
  readonly environment: Environment;
  readonly mode: Mode;
  readonly lockTtlSeconds: number;
  readonly expiresAfterSeconds: number;
  readonly waitBudgetMs: number;
  readonly jitterMs: number;
  readonly strictFailClosed: boolean;
}

const positiveInt = z.int().check(z.positive());
const nonNegativeInt = z.int().check(z.nonnegative());

/** A zod schema for an option that must be a function. */
export const functionSchema = z.custom<(...args: never[]) => unknown>(
  (value) => typeof value === 'function',
  {
    message: 'a function',
  },
);

const NAME_RULE = `1 to ${MAX_NAME_LENGTH} printable characters with no \`#\`, \`*\` or surrounding spaces`;

function isValidName(field: 'org' | 'scope', value: unknown): boolean {
  try {
    assertValidName(field, value);
    return true;
  } catch {
    return false;
  }
}

/** A zod schema for a `scope` option: it can lead a record key. Checked once at creation, not per call. */
export const scopeSchema = z.custom<string>((value) => isValidName('scope', value), { message: NAME_RULE });

/** A zod schema for an `org` option: a function of the input, or a constant that can lead a record key. */
export const orgSchema = z.custom<string | ((...args: never[]) => unknown)>(
  (value) => typeof value === 'function' || isValidName('org', value),
  { message: `a function, or ${NAME_RULE}` },
);

/** The zod shape of {@link CommonOptions}; doors extend it with their own options. */
export const commonOptionsShape = {
  store: z.custom<Store>(
    (value: unknown) =>
      typeof value === 'object' &&
      value !== null &&
      ['claim', 'get', 'complete', 'release', 'renew'].every(
        (method) => typeof (value as Record<string, unknown>)[method] === 'function',
      ),
    { message: 'a store (`new DynamoDBStore(...)` or `new MemoryStore()`)' },
  ),
  environment: z.optional(z.enum(ENVIRONMENTS)),
  mode: z.optional(z.enum(MODES)),
  lockTtlSeconds: z.optional(positiveInt),
  expiresAfterSeconds: z.optional(positiveInt),
  waitBudgetMs: z.optional(nonNegativeInt),
  jitterMs: z.optional(nonNegativeInt),
  strictFailClosed: z.optional(z.boolean()),
  cache: z.optional(
    z.union([
      z.boolean(),
      z.strictObject({ maxEntries: z.optional(nonNegativeInt), maxBytes: z.optional(nonNegativeInt) }),
    ]),
  ),
  telemetry: z.optional(
    z.custom<Telemetry>(
      (value) =>
        typeof value === 'object' && value !== null && typeof (value as Telemetry).emit === 'function',
      { message: 'an object with an `emit(signal, facts)` method' },
    ),
  ),
  renewEvery: z.optional(positiveInt),
  clock: z.optional(functionSchema),
};

/**
 * Validates `options` against a strict zod schema, so a misspelled option is an error, and throws
 * {@link IdempotencyConfigError} with one sentence per problem.
 *
 * @example
 * const parsed = parseOptions(z.strictObject(commonOptionsShape), options, 'makeIdempotent');
 */
export function parseOptions<T extends z.core.$ZodType>(
  schema: T,
  options: unknown,
  where: string,
): z.infer<T> {
  const parsed = z.safeParse(schema, options);
  if (parsed.success) return parsed.data;
  throw new IdempotencyConfigError(
    parsed.error.issues.map((issue) => describeIssue(issue, options, where, schema)),
  );
}

/** The option names a schema accepts at `path` (through optionals and unions), for did-you-mean. */
function knownKeys(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  // Read the definitions zod's classic and mini schemas share, so either kind of schema works here.
  const def = schema._zod.def as {
    type: string;
    innerType?: z.core.$ZodType;
    options?: z.core.$ZodType[];
    shape?: Record<PropertyKey, z.core.$ZodType | undefined>;
  };
  if (def.type === 'optional' && def.innerType !== undefined) return knownKeys(def.innerType, path);
  if (def.type === 'union') return (def.options ?? []).flatMap((option) => knownKeys(option, path));
  if (def.type !== 'object' || def.shape === undefined) return [];
  const [head, ...rest] = path;
  if (head === undefined) return Object.keys(def.shape);
  const member = def.shape[head];
  return member === undefined ? [] : knownKeys(member, rest);
}

function describeIssue(
  issue: z.core.$ZodIssue,
  options: unknown,
  where: string,
  schema: z.core.$ZodType,
): string {
  const name = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    // Suggest from the door's own options (`scope`, `key`...) and nested ones (`cache.maxEntries`).
    const known = knownKeys(schema, issue.path);
    const prefix = name === '' ? '' : `${name}.`;
    return issue.keys
      .map(
        (key) =>
          `Unknown option \`${prefix}${key}\` passed to \`${where}\`; remove it or check its spelling${suggest(key, known, prefix)}.`,
      )
      .join(' ');
  }
  const received = issue.path.reduce<unknown>(
    (value, segment) =>
      value !== null && typeof value === 'object'
        ? (value as Record<PropertyKey, unknown>)[segment]
        : undefined,
    options,
  );
  return `Expected \`${name || 'options'}\` of \`${where}\` to be ${expectation(issue)}, got ${show(received)}.`;
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `one of ${issue.values.map((value) => `'${String(value)}'`).join(', ')}`;
    case 'too_small':
      return `${issue.origin === 'number' ? 'a number' : 'a value'} ${issue.inclusive ? 'of at least' : 'greater than'} ${String(issue.minimum)}`;
    case 'invalid_type':
      return issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`;
    case 'custom':
      return issue.message;
    default:
      return issue.message.replace(/^Invalid input: expected /, 'a ');
  }
}

function suggest(key: string, known: readonly string[], prefix = ''): string {
  const close = known.find((name) => name.toLowerCase() === key.toLowerCase() || levenshtein(name, key) <= 2);
  return close === undefined ? '' : ` (did you mean \`${prefix}${close}\`?)`;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min(current + 1, (row[j - 1] ?? 0) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

/** Shows a received value in an error message without echoing long strings. */
export function show(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 40 ? `a string of ${value.length} characters` : `'${value}'`;
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads one `IDEMPOTENCY_*` variable with a parser; a bad value becomes a sentence naming the variable. */
function readVariable<T>(
  env: Env,
  name: string,
  allowed: string,
  parse: (raw: string) => T | undefined,
  issues: string[],
): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = parse(raw.trim());
  if (value === undefined) issues.push(`Expected \`${name}\` to be ${allowed}, got ${show(raw)}.`);
  return value;
}

const parseInteger = (min: number) => (raw: string) => {
  if (!/^\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) && value >= min ? value : undefined;
};
const parseEnum =
  <T extends string>(values: readonly T[]) =>
  (raw: string) =>
    values.find((value) => value === raw.toLowerCase());
const parseBoolean = (raw: string) => {
  const lower = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(lower)) return true;
  if (['false', '0', 'no'].includes(lower)) return false;
  return undefined;
};

/** What {@link resolveSettings} found besides the settings: warnings to log once. */
export interface Resolution<S> {
  readonly settings: S;
  readonly warnings: readonly string[];
}

/**
 * Applies precedence (environment variable, then the code option, then the environment's default) and the
 * per-environment clamps, once at cold start. Throws {@link IdempotencyConfigError} naming every bad
 * variable with its value and what is allowed.
 *
 * @example
 * const { settings } = resolveSettings({ mode: 'observe' }, process.env);
 */
export function resolveSettings(
  options: Omit<CommonOptions, 'store'>,
  env: Env = process.env,
): Resolution<Settings> {
  const issues: string[] = [];
  const warnings: string[] = [];
  const environment =
    readVariable(
      env,
      'IDEMPOTENCY_ENV',
      `one of ${ENVIRONMENTS.join(', ')}`,
      parseEnum(ENVIRONMENTS),
      issues,
    ) ??
    options.environment ??
    DEFAULTS.environment;
  const defaults = ENVIRONMENT_DEFAULTS[environment];
  const mode =
    readVariable(env, 'IDEMPOTENCY_MODE', `one of ${MODES.join(', ')}`, parseEnum(MODES), issues) ??
    options.mode ??
    defaults.mode ??
    Mode.Enforce;
  const lockFromVariable = readVariable(
    env,
    'IDEMPOTENCY_LOCK_TTL_S',
    'a whole number of seconds of at least 1',
    parseInteger(1),
    issues,
  );
  let lockTtlSeconds = lockFromVariable ?? options.lockTtlSeconds ?? defaults.lockTtlSeconds;
  if (lockTtlSeconds < defaults.minLockTtlSeconds) {
    const source = lockFromVariable === undefined ? '`lockTtlSeconds`' : '`IDEMPOTENCY_LOCK_TTL_S`';
    warnings.push(
      `Expected ${source} to be at least ${defaults.minLockTtlSeconds} in ${environment}, got ${lockTtlSeconds}; using ${defaults.minLockTtlSeconds}.`,
    );
    lockTtlSeconds = defaults.minLockTtlSeconds;
  }
  const expiresAfterSeconds =
    readVariable(
      env,
      'IDEMPOTENCY_TTL_S',
      'a whole number of seconds of at least 1',
      parseInteger(1),
      issues,
    ) ??
    options.expiresAfterSeconds ??
    DEFAULTS.expiresAfterSeconds;
  const waitBudgetMs =
    readVariable(
      env,
      'IDEMPOTENCY_WAIT_BUDGET_MS',
      'a whole number of milliseconds (0 or more)',
      parseInteger(0),
      issues,
    ) ??
    options.waitBudgetMs ??
    DEFAULTS.waitBudgetMs;
  const jitterMs =
    readVariable(
      env,
      'IDEMPOTENCY_JITTER_MS',
      'a whole number of milliseconds (0 or more)',
      parseInteger(0),
      issues,
    ) ??
    options.jitterMs ??
    DEFAULTS.jitterMs;
  const strictFailClosed =
    readVariable(env, 'IDEMPOTENCY_STRICT_FAIL_CLOSED', 'true or false', parseBoolean, issues) ??
    options.strictFailClosed ??
    defaults.strictFailClosed;
  if (issues.length === 0 && expiresAfterSeconds <= lockTtlSeconds) {
    issues.push(
      `Expected the record lifetime (\`expiresAfterSeconds\` or \`IDEMPOTENCY_TTL_S\`) to be longer than the lock TTL (${lockTtlSeconds} s), got ${expiresAfterSeconds}.`,
    );
  }
  if (issues.length > 0) throw new IdempotencyConfigError(issues);
  return {
    settings: {
      environment,
      mode,
      lockTtlSeconds,
      expiresAfterSeconds,
      waitBudgetMs,
      jitterMs,
      strictFailClosed,
    },
    warnings,
  };
}

/** Reads a comma-separated `IDEMPOTENCY_*` list variable (methods, path globs); `undefined` when unset. */
export function readListVariable(env: Env, name: string): string[] | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
