import * as z from 'zod/mini';
import { IdempotencyConfigError } from './errors.js';
import { expected } from './messages.js';
import { type CommonOptions, ENVIRONMENTS, Environment, MODES, Mode, oneOfSchema } from './options.js';

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

// Each schema reads the variable's value with surrounding spaces removed (and lower-cased where `caseless`).
// The refusal is the table's `allowed`, so a schema only says whether `parse` understood the value; a value that
// is not a string (a caller of the exported table) is refused, as zod's string schema refused it.
const parsed = <T>(parse: (raw: string) => T | undefined) =>
  z.transform<string, T>((raw, payload) => {
    const value = typeof raw === 'string' ? parse(raw) : undefined;
    if (value === undefined) payload.issues.push({ code: 'custom', message: 'not allowed', input: raw });
    return value as T;
  });
const wholeNumber = (min: number) =>
  parsed((raw) =>
    /^\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) && Number(raw) >= min ? Number(raw) : undefined,
  );
const list = parsed((raw) =>
  raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== ''),
);
const boolean = parsed((raw) =>
  ['true', '1', 'yes'].includes(raw) ? true : ['false', '0', 'no'].includes(raw) ? false : undefined,
);

/**
 * Every `IDEMPOTENCY_*` variable idemkit reads (docs/protocol.md section 5), what it allows and how it parses:
 * the one table settings are resolved from, at cold start. A set variable wins over the option in code.
 */
export const VARIABLES = {
  IDEMPOTENCY_ENV: {
    allowed: `one of ${ENVIRONMENTS.join(', ')}`,
    schema: oneOfSchema(ENVIRONMENTS),
    caseless: true,
  },
  IDEMPOTENCY_MODE: { allowed: `one of ${MODES.join(', ')}`, schema: oneOfSchema(MODES), caseless: true },
  IDEMPOTENCY_LOCK_TTL_S: { allowed: 'a whole number of seconds of at least 1', schema: wholeNumber(1) },
  IDEMPOTENCY_TTL_S: { allowed: 'a whole number of seconds of at least 1', schema: wholeNumber(1) },
  IDEMPOTENCY_WAIT_BUDGET_MS: {
    allowed: 'a whole number of milliseconds (0 or more)',
    schema: wholeNumber(0),
  },
  IDEMPOTENCY_JITTER_MS: { allowed: 'a whole number of milliseconds (0 or more)', schema: wholeNumber(0) },
  IDEMPOTENCY_STRICT_FAIL_CLOSED: { allowed: 'true or false', schema: boolean, caseless: true },
  IDEMPOTENCY_ENFORCE_METHODS: {
    allowed: 'HTTP methods such as POST,PATCH',
    // Each method is checked by `resolveHttpSettings`, so the message can name the one that is wrong.
    schema: list,
  },
  IDEMPOTENCY_EXCLUDE_PATHS: { allowed: 'path globs such as /health,/internal/*', schema: list },
} as const;

/** The name of one `IDEMPOTENCY_*` variable. */
export type VariableName = keyof typeof VARIABLES;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads one variable through the table; `undefined` when unset or blank. A bad value adds a sentence naming
 * the variable, what is allowed and what was received to `issues`.
 *
 * @example
 * const methods = readVariable(process.env, 'IDEMPOTENCY_ENFORCE_METHODS', issues);
 */
export function readVariable<N extends VariableName>(
  env: Env,
  name: N,
  issues: string[],
): z.output<(typeof VARIABLES)[N]['schema']> | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const variable: { readonly schema: z.ZodMiniType; readonly allowed: string; readonly caseless?: boolean } =
    VARIABLES[name];
  const value = variable.caseless === true ? raw.trim().toLowerCase() : raw.trim();
  const parsed = z.safeParse(variable.schema, value);
  if (parsed.success) return parsed.data as z.output<(typeof VARIABLES)[N]['schema']>;
  issues.push(expected(`\`${name}\``, variable.allowed, raw));
  return undefined;
}

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
    readVariable(env, 'IDEMPOTENCY_ENV', issues) ?? options.environment ?? DEFAULTS.environment;
  const defaults = ENVIRONMENT_DEFAULTS[environment];
  const mode = readVariable(env, 'IDEMPOTENCY_MODE', issues) ?? options.mode ?? defaults.mode ?? Mode.Enforce;
  const lockFromVariable = readVariable(env, 'IDEMPOTENCY_LOCK_TTL_S', issues);
  let lockTtlSeconds = lockFromVariable ?? options.lockTtlSeconds ?? defaults.lockTtlSeconds;
  if (lockTtlSeconds < defaults.minLockTtlSeconds) {
    const source = lockFromVariable === undefined ? '`lockTtlSeconds`' : '`IDEMPOTENCY_LOCK_TTL_S`';
    warnings.push(
      `Expected ${source} to be at least ${defaults.minLockTtlSeconds} in ${environment}, got ${lockTtlSeconds}; using ${defaults.minLockTtlSeconds}.`,
    );
    lockTtlSeconds = defaults.minLockTtlSeconds;
  }
  const expiresAfterSeconds =
    readVariable(env, 'IDEMPOTENCY_TTL_S', issues) ??
    options.expiresAfterSeconds ??
    DEFAULTS.expiresAfterSeconds;
  const waitBudgetMs =
    readVariable(env, 'IDEMPOTENCY_WAIT_BUDGET_MS', issues) ?? options.waitBudgetMs ?? DEFAULTS.waitBudgetMs;
  const jitterMs =
    readVariable(env, 'IDEMPOTENCY_JITTER_MS', issues) ?? options.jitterMs ?? DEFAULTS.jitterMs;
  const strictFailClosed =
    readVariable(env, 'IDEMPOTENCY_STRICT_FAIL_CLOSED', issues) ??
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

/** The HTTP door's settings that the variables can change. */
export interface HttpSettings {
  /** Upper-case methods that require a key. */
  readonly enforceMethods: ReadonlySet<string>;
  /** Globs of paths left alone. */
  readonly excludePaths: readonly string[];
}

/**
 * Resolves the HTTP door's settings from the same table: `IDEMPOTENCY_ENFORCE_METHODS` and
 * `IDEMPOTENCY_EXCLUDE_PATHS` win over `enforceMethods` and `excludePaths`. Throws
 * {@link IdempotencyConfigError} for a bad variable or option.
 *
 * @example
 * const { enforceMethods } = resolveHttpSettings({ enforceMethods: ['POST'] }, process.env);
 */
export function resolveHttpSettings(
  options: { readonly enforceMethods?: readonly string[]; readonly excludePaths?: readonly string[] },
  env: Env = process.env,
): HttpSettings {
  const issues: string[] = [];
  const methods = readVariable(env, 'IDEMPOTENCY_ENFORCE_METHODS', issues);
  const excludePaths = readVariable(env, 'IDEMPOTENCY_EXCLUDE_PATHS', issues) ?? options.excludePaths ?? [];
  const enforceMethods = methods ?? options.enforceMethods ?? DEFAULT_ENFORCE_METHODS;
  const bad = enforceMethods.find((method) => !/^[A-Za-z]+$/.test(method));
  if (bad !== undefined) {
    const source = methods === undefined ? '`enforceMethods`' : '`IDEMPOTENCY_ENFORCE_METHODS`';
    issues.push(expected(source, VARIABLES.IDEMPOTENCY_ENFORCE_METHODS.allowed, bad));
  }
  if (issues.length > 0) throw new IdempotencyConfigError(issues);
  return { enforceMethods: new Set(enforceMethods.map((method) => method.toUpperCase())), excludePaths };
}

/** Methods that need a key unless `enforceMethods` or `IDEMPOTENCY_ENFORCE_METHODS` say otherwise. */
export const DEFAULT_ENFORCE_METHODS: readonly string[] = ['POST', 'PATCH'];
