import * as z from 'zod/mini';
import type { CacheOptions } from './cache.js';
import { IdempotencyConfigError } from './errors.js';
import { assertValidName, MAX_NAME_LENGTH } from './keys.js';
import { isLargeResultStore } from './large-result.js';
import { describeIssue } from './messages.js';
import type { Telemetry } from './telemetry.js';
import type { LargeResultStore, Store } from './types.js';

/** Rollout modes (docs/protocol.md section 5). */
export const Mode = { Off: 'off', Observe: 'observe', Enforce: 'enforce' } as const;
/** One of {@link Mode}. */
export type Mode = (typeof Mode)[keyof typeof Mode];

/** Deployment environments with their own defaults (docs/protocol.md section 5). */
export const Environment = { Dev: 'dev', Stage: 'stage', Prod: 'prod', Test: 'test' } as const;
/** One of {@link Environment}. */
export type Environment = (typeof Environment)[keyof typeof Environment];

export const MODES = Object.values(Mode);
export const ENVIRONMENTS = Object.values(Environment);

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
   * Where a result too large for its record is kept whole and replayed from (`new S3ResultStore({ bucket })` from
   * `idemkit/s3`): the object is written before the record completes and verified on every replay.
   * @default none - such a result is stored without its body and replayed with `Idempotent-Result-Omitted`
   */
  readonly largeResults?: LargeResultStore;
  /**
   * The in-process cache of completed records: `true` for the default bounds, or the bounds.
   * @default false
   */
  readonly cache?: boolean | CacheOptions;
  /**
   * Where decisions are logged and counted.
   * @default `createTelemetry()`: JSON log lines where an operator acts, one EMF document per invocation
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

/**
 * A zod schema for one option value: `test` accepts it, else the refusal says `expectation` (the middle of
 * "Expected `x` of `door` to be ..., got ..."), fixed or worked out from the value. Every leaf of every door's
 * options is one of these, so a door's bundle carries zod's object, optional, union and custom schemas only,
 * not its string, number, enum and array types (bench/analysis.md, section 5).
 *
 * @example
 * const flag = optionSchema<boolean>((value) => typeof value === 'boolean', 'a boolean');
 */
/* @__NO_SIDE_EFFECTS__ */
export function optionSchema<T>(
  test: (value: unknown) => boolean,
  expectation: string | ((value: unknown) => string),
  { abort = true }: { readonly abort?: boolean } = {},
): z.ZodMiniCustom<T> {
  return z.custom<T>(test, {
    abort,
    error: typeof expectation === 'string' ? expectation : (issue) => expectation(issue.input),
  });
}

/**
 * A zod schema for a whole-number option of at least `min` (above `min` when `exclusive`); the refusal says
 * which of number, integer and bound failed, in zod's words.
 *
 * @example
 * const concurrency = wholeNumberSchema(1, { max: 1000 }); // refuses 0, 2.5, 1001 and '5'
 */
/* @__NO_SIDE_EFFECTS__ */
export function wholeNumberSchema(
  min: number,
  options: { readonly exclusive?: boolean; readonly max?: number } = {},
): z.ZodMiniCustom<number> {
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const aboveMin = (value: number) => (options.exclusive === true ? value > min : value >= min);
  return optionSchema<number>(
    (value) => Number.isInteger(value) && aboveMin(value as number) && (value as number) <= max,
    (value) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'a number';
      if (!Number.isInteger(value)) return 'an integer';
      if (value > max) return `a number of at most ${max}`;
      return `a number ${options.exclusive === true ? 'greater than' : 'of at least'} ${min}`;
    },
    // Not aborting, so `cache: { maxEntries: 1.5 }` is refused for `cache.maxEntries`: a union (the cache's
    // `true` or bounds) reports the one member whose type the value has, and only when that member did not abort.
    { abort: false },
  );
}

/**
 * A zod schema for an option that must be one of `values`.
 *
 * @example
 * const mode = oneOfSchema(['off', 'observe', 'enforce']);
 */
/* @__NO_SIDE_EFFECTS__ */
export function oneOfSchema<const T extends string>(values: readonly T[]): z.ZodMiniCustom<T> {
  return optionSchema<T>(
    (value) => (values as readonly unknown[]).includes(value),
    `one of ${values.map((value) => `'${value}'`).join(', ')}`,
  );
}

// Every top-level call below is marked pure: esbuild does not carry zod's own side-effect-free marks across
// modules, so a bundle that imports this file for `parseOptions` alone (the edge) would keep every schema.
const positiveInt = /* @__PURE__ */ wholeNumberSchema(0, { exclusive: true });
const nonNegativeInt = /* @__PURE__ */ wholeNumberSchema(0);
const booleanSchema = /* @__PURE__ */ optionSchema<boolean>(
  (value) => typeof value === 'boolean',
  'a boolean',
);

/** A zod schema for an option that must be a list of strings; a refusal names each item that is not. */
export const stringListSchema = /* @__PURE__ */ optionSchema<readonly string[]>(
  Array.isArray,
  'an array',
).check(
  z.check<readonly unknown[]>((payload) => {
    payload.value.forEach((item, index) => {
      if (typeof item !== 'string')
        payload.issues.push({ code: 'custom', message: 'a string', input: item, path: [index] });
    });
  }),
);

/** A zod schema for an option that must be a function. */
export const functionSchema = /* @__PURE__ */ optionSchema<(...args: never[]) => unknown>(
  (value) => typeof value === 'function',
  'a function',
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
export const scopeSchema = /* @__PURE__ */ optionSchema<string>(
  (value) => isValidName('scope', value),
  NAME_RULE,
);

/** A zod schema for an `org` option: a function of the input, or a constant that can lead a record key. */
export const orgSchema = /* @__PURE__ */ optionSchema<string | ((...args: never[]) => unknown)>(
  (value) => typeof value === 'function' || isValidName('org', value),
  `a function, or ${NAME_RULE}`,
);

/** The zod shape of {@link CommonOptions}; doors extend it with their own options. */
export const commonOptionsShape = {
  store: /* @__PURE__ */ optionSchema<Store>(
    (value: unknown) =>
      typeof value === 'object' &&
      value !== null &&
      ['claim', 'get', 'complete', 'release', 'renew'].every(
        (method) => typeof (value as Record<string, unknown>)[method] === 'function',
      ),
    'a store (`new DynamoDBStore(...)` or `new MemoryStore()`)',
  ),
  environment: /* @__PURE__ */ z.optional(/* @__PURE__ */ oneOfSchema(ENVIRONMENTS)),
  mode: /* @__PURE__ */ z.optional(/* @__PURE__ */ oneOfSchema(MODES)),
  lockTtlSeconds: /* @__PURE__ */ z.optional(positiveInt),
  expiresAfterSeconds: /* @__PURE__ */ z.optional(positiveInt),
  waitBudgetMs: /* @__PURE__ */ z.optional(nonNegativeInt),
  jitterMs: /* @__PURE__ */ z.optional(nonNegativeInt),
  strictFailClosed: /* @__PURE__ */ z.optional(booleanSchema),
  largeResults: /* @__PURE__ */ z.optional(
    /* @__PURE__ */ optionSchema<LargeResultStore>(
      isLargeResultStore,
      'a large-result store (`new S3ResultStore(...)` from `idemkit/s3`)',
    ),
  ),
  cache: /* @__PURE__ */ z.optional(
    /* @__PURE__ */ z.union([
      booleanSchema,
      /* @__PURE__ */ z.strictObject({
        maxEntries: /* @__PURE__ */ z.optional(nonNegativeInt),
        maxBytes: /* @__PURE__ */ z.optional(nonNegativeInt),
      }),
    ]),
  ),
  telemetry: /* @__PURE__ */ z.optional(
    /* @__PURE__ */ optionSchema<Telemetry>(
      (value) =>
        typeof value === 'object' && value !== null && typeof (value as Telemetry).emit === 'function',
      'an object with an `emit(signal, facts)` method',
    ),
  ),
  renewEvery: /* @__PURE__ */ z.optional(positiveInt),
  clock: /* @__PURE__ */ z.optional(functionSchema),
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
