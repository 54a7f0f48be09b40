import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jobsSchema } from '../../src/batch/runner.js';
import { IdempotencyConfigError } from '../../src/core/errors.js';
import { commonOptionsShape, parseOptions, stringListSchema } from '../../src/core/options.js';
import { resolveHttpSettings, resolveSettings, VARIABLES } from '../../src/core/settings.js';
import { MemoryStore } from '../../src/stores/memory.js';

const NO_VARIABLES = {};

function configError(run: () => unknown): IdempotencyConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof IdempotencyConfigError) return error;
    throw error;
  }
  throw new Error('Expected an IdempotencyConfigError, got no error.');
}

describe('per-environment defaults (docs/protocol.md section 5)', () => {
  it.each([
    ['dev', 'observe', 30],
    ['stage', 'observe', 60],
    ['prod', 'enforce', 120],
    ['test', 'enforce', 60],
  ] as const)('%s runs in %s with a %i s lock and fails open', (environment, mode, lockTtlSeconds) => {
    expect(resolveSettings({ environment }, NO_VARIABLES)).toEqual({
      settings: {
        environment,
        mode,
        lockTtlSeconds,
        expiresAfterSeconds: 86_400,
        waitBudgetMs: 2_000,
        jitterMs: 50,
        strictFailClosed: false,
      },
      warnings: [],
    });
  });

  it('is prod when no environment is given', () => {
    expect(resolveSettings({}, NO_VARIABLES).settings).toMatchObject({
      environment: 'prod',
      mode: 'enforce',
    });
  });

  it('lets test inherit the mode from the code option', () => {
    expect(resolveSettings({ environment: 'test', mode: 'observe' }, NO_VARIABLES).settings.mode).toBe(
      'observe',
    );
    expect(resolveSettings({ environment: 'test', mode: 'off' }, NO_VARIABLES).settings.mode).toBe('off');
  });
});

describe('precedence: variable, then option, then environment default', () => {
  const cases = [
    ['IDEMPOTENCY_MODE', 'mode', 'off', 'observe', 'enforce'],
    ['IDEMPOTENCY_LOCK_TTL_S', 'lockTtlSeconds', '300', 200, 120],
    ['IDEMPOTENCY_TTL_S', 'expiresAfterSeconds', '7200', 3600, 86_400],
    ['IDEMPOTENCY_WAIT_BUDGET_MS', 'waitBudgetMs', '0', 500, 2_000],
    ['IDEMPOTENCY_JITTER_MS', 'jitterMs', '10', 0, 50],
    ['IDEMPOTENCY_STRICT_FAIL_CLOSED', 'strictFailClosed', 'true', false, false],
  ] as const;

  for (const [variable, option, fromVariable, fromOption, fromDefault] of cases) {
    const parsed =
      variable === 'IDEMPOTENCY_STRICT_FAIL_CLOSED'
        ? true
        : /^\d+$/.test(fromVariable)
          ? Number(fromVariable)
          : fromVariable;
    it(`${variable} wins over \`${option}\`, which wins over the prod default`, () => {
      const settings = (variables: Record<string, string>, options: Record<string, unknown>) =>
        resolveSettings({ environment: 'prod', ...options }, variables).settings[option];
      expect(settings({ [variable]: fromVariable }, { [option]: fromOption })).toBe(parsed);
      expect(settings({}, { [option]: fromOption })).toBe(fromOption);
      expect(settings({}, {})).toBe(fromDefault);
    });
  }

  it('IDEMPOTENCY_ENV wins over `environment` and picks that environment’s defaults', () => {
    expect(resolveSettings({ environment: 'prod' }, { IDEMPOTENCY_ENV: 'dev' }).settings).toMatchObject({
      environment: 'dev',
      mode: 'observe',
      lockTtlSeconds: 30,
    });
  });

  it('reads variables case-insensitively and ignores surrounding spaces and empty values', () => {
    expect(
      resolveSettings(
        {},
        { IDEMPOTENCY_MODE: ' OBSERVE ', IDEMPOTENCY_STRICT_FAIL_CLOSED: 'Yes', IDEMPOTENCY_TTL_S: '' },
      ).settings,
    ).toMatchObject({ mode: 'observe', strictFailClosed: true, expiresAfterSeconds: 86_400 });
  });
});

describe('lock TTL clamps', () => {
  it('raises a prod lock TTL option below 120 to 120, with a warning naming the option', () => {
    const { settings, warnings } = resolveSettings({ environment: 'prod', lockTtlSeconds: 30 }, NO_VARIABLES);
    expect(settings.lockTtlSeconds).toBe(120);
    expect(warnings).toEqual(['Expected `lockTtlSeconds` to be at least 120 in prod, got 30; using 120.']);
  });

  it('raises a prod IDEMPOTENCY_LOCK_TTL_S below 120 to 120, with a warning naming the variable', () => {
    const { settings, warnings } = resolveSettings(
      { environment: 'prod', lockTtlSeconds: 300 },
      { IDEMPOTENCY_LOCK_TTL_S: '5' },
    );
    expect(settings.lockTtlSeconds).toBe(120);
    expect(warnings).toEqual([
      'Expected `IDEMPOTENCY_LOCK_TTL_S` to be at least 120 in prod, got 5; using 120.',
    ]);
  });

  it('raises a stage lock TTL below 60 to 60', () => {
    expect(
      resolveSettings({ environment: 'stage', lockTtlSeconds: 10 }, NO_VARIABLES).settings.lockTtlSeconds,
    ).toBe(60);
  });

  it('keeps a short lock TTL in dev and test without a warning', () => {
    for (const environment of ['dev', 'test'] as const) {
      expect(resolveSettings({ environment, lockTtlSeconds: 1 }, NO_VARIABLES)).toMatchObject({
        settings: { lockTtlSeconds: 1 },
        warnings: [],
      });
    }
  });

  it('rejects a record lifetime that is not longer than the lock TTL', () => {
    expect(configError(() => resolveSettings({ expiresAfterSeconds: 120 }, NO_VARIABLES)).message).toBe(
      'Expected the record lifetime (`expiresAfterSeconds` or `IDEMPOTENCY_TTL_S`) to be longer than the lock TTL (120 s), got 120.',
    );
  });
});

describe('bad IDEMPOTENCY_* values fail at cold start, naming the variable, the value and what is allowed', () => {
  it.each([
    [
      'IDEMPOTENCY_ENV',
      'production',
      "Expected `IDEMPOTENCY_ENV` to be one of dev, stage, prod, test, got 'production'.",
    ],
    ['IDEMPOTENCY_MODE', 'on', "Expected `IDEMPOTENCY_MODE` to be one of off, observe, enforce, got 'on'."],
    [
      'IDEMPOTENCY_LOCK_TTL_S',
      '0',
      "Expected `IDEMPOTENCY_LOCK_TTL_S` to be a whole number of seconds of at least 1, got '0'.",
    ],
    [
      'IDEMPOTENCY_LOCK_TTL_S',
      '2m',
      "Expected `IDEMPOTENCY_LOCK_TTL_S` to be a whole number of seconds of at least 1, got '2m'.",
    ],
    [
      'IDEMPOTENCY_TTL_S',
      '-5',
      "Expected `IDEMPOTENCY_TTL_S` to be a whole number of seconds of at least 1, got '-5'.",
    ],
    [
      'IDEMPOTENCY_TTL_S',
      '99999999999999999999',
      "Expected `IDEMPOTENCY_TTL_S` to be a whole number of seconds of at least 1, got '99999999999999999999'.",
    ],
    [
      'IDEMPOTENCY_WAIT_BUDGET_MS',
      '1.5',
      "Expected `IDEMPOTENCY_WAIT_BUDGET_MS` to be a whole number of milliseconds (0 or more), got '1.5'.",
    ],
    [
      'IDEMPOTENCY_JITTER_MS',
      'lots',
      "Expected `IDEMPOTENCY_JITTER_MS` to be a whole number of milliseconds (0 or more), got 'lots'.",
    ],
    [
      'IDEMPOTENCY_STRICT_FAIL_CLOSED',
      'maybe',
      "Expected `IDEMPOTENCY_STRICT_FAIL_CLOSED` to be true or false, got 'maybe'.",
    ],
  ])('%s=%s', (variable, value, message) => {
    const error = configError(() => resolveSettings({}, { [variable]: value }));
    expect(error.message).toBe(message);
    expect(error.issues).toEqual([message]);
  });

  it('names every bad variable at once', () => {
    const error = configError(() =>
      resolveSettings({}, { IDEMPOTENCY_MODE: 'x', IDEMPOTENCY_JITTER_MS: 'y' }),
    );
    expect(error.issues).toHaveLength(2);
    expect(error.message).toMatch(
      /^Invalid idemkit configuration:\n- Expected `IDEMPOTENCY_MODE`.*\n- Expected `IDEMPOTENCY_JITTER_MS`/,
    );
  });

  it('does not echo a long bad value', () => {
    const error = configError(() => resolveSettings({}, { IDEMPOTENCY_MODE: 'x'.repeat(500) }));
    expect(error.message).toContain('got a string of 500 characters');
    expect(error.message).not.toContain('x'.repeat(41));
  });
});

describe('parseOptions', () => {
  const schema = z.strictObject(commonOptionsShape);
  const store = new MemoryStore();

  it('accepts every common option', () => {
    const options = {
      store,
      environment: 'dev',
      mode: 'observe',
      lockTtlSeconds: 5,
      expiresAfterSeconds: 60,
      waitBudgetMs: 0,
      jitterMs: 0,
      strictFailClosed: true,
      cache: { maxEntries: 10, maxBytes: 1024 },
      clock: Date.now,
    };
    expect(parseOptions(schema, options, 'test')).toEqual(options);
  });

  it('rejects an unknown option with a did-you-mean', () => {
    expect(
      configError(() => parseOptions(schema, { store, lockTtlSecond: 5 }, 'httpIdempotency')).message,
    ).toBe(
      'Unknown option `lockTtlSecond` passed to `httpIdempotency`; remove it or check its spelling (did you mean `lockTtlSeconds`?).',
    );
  });

  it('rejects an unknown option with no close match without guessing', () => {
    expect(configError(() => parseOptions(schema, { store, banana: 1 }, 'w')).message).toBe(
      'Unknown option `banana` passed to `w`; remove it or check its spelling.',
    );
  });

  it('rejects an unknown nested cache option, naming its path', () => {
    expect(configError(() => parseOptions(schema, { store, cache: { maxEntrys: 1 } }, 'w')).message).toBe(
      'Unknown option `cache.maxEntrys` passed to `w`; remove it or check its spelling (did you mean `cache.maxEntries`?).',
    );
  });

  it.each([
    [{ lockTtlSeconds: 0 }, 'Expected `lockTtlSeconds` of `w` to be a number greater than 0, got 0.'],
    [{ lockTtlSeconds: 1.5 }, 'Expected `lockTtlSeconds` of `w` to be an integer, got 1.5.'],
    [{ waitBudgetMs: -1 }, 'Expected `waitBudgetMs` of `w` to be a number of at least 0, got -1.'],
    [{ mode: 'on' }, "Expected `mode` of `w` to be one of 'off', 'observe', 'enforce', got 'on'."],
    [{ strictFailClosed: 'yes' }, "Expected `strictFailClosed` of `w` to be a boolean, got 'yes'."],
    [
      { store: {} },
      'Expected `store` of `w` to be a store (`new DynamoDBStore(...)` or `new MemoryStore()`), got an object.',
    ],
    [{ lockTtlSeconds: Number.NaN }, 'Expected `lockTtlSeconds` of `w` to be a number, got NaN.'],
    [{ jitterMs: '5' }, "Expected `jitterMs` of `w` to be a number, got '5'."],
    [
      { expiresAfterSeconds: 2 ** 53 },
      'Expected `expiresAfterSeconds` of `w` to be a number of at most 9007199254740991, got 9007199254740992.',
    ],
    [
      { waitBudgetMs: -(2 ** 53) },
      'Expected `waitBudgetMs` of `w` to be a number of at least 0, got -9007199254740992.',
    ],
    [
      { environment: 'production' },
      "Expected `environment` of `w` to be one of 'dev', 'stage', 'prod', 'test', got 'production'.",
    ],
    [{ cache: 'yes' }, "Expected `cache` of `w` to be a boolean, or an object, got 'yes'."],
    [
      { cache: { maxEntries: -1 } },
      'Expected `cache.maxEntries` of `w` to be a number of at least 0, got -1.',
    ],
    [{ cache: { maxEntries: 1.5 } }, 'Expected `cache.maxEntries` of `w` to be an integer, got 1.5.'],
    [{ cache: { maxBytes: 'x' } }, "Expected `cache.maxBytes` of `w` to be a number, got 'x'."],
    [{ clock: 'now' }, "Expected `clock` of `w` to be a function, got 'now'."],
  ])('rejects %o in one sentence', (options, message) => {
    expect(configError(() => parseOptions(schema, { store, ...options }, 'w')).message).toBe(message);
  });

  it('accepts the edges of every whole-number option', () => {
    const edges = {
      lockTtlSeconds: 1,
      expiresAfterSeconds: Number.MAX_SAFE_INTEGER,
      waitBudgetMs: 0,
      jitterMs: -0,
    };
    expect(parseOptions(schema, { store, ...edges }, 'w')).toEqual({ store, ...edges });
  });

  it('rejects options that are not an object', () => {
    expect(configError(() => parseOptions(schema, null, 'w')).message).toBe(
      'Expected `options` of `w` to be an object, got null.',
    );
  });

  it('names every bad value at once, in the order of the options', () => {
    expect(
      configError(() => parseOptions(schema, { store, mode: 'x', jitterMs: -1, banana: 1 }, 'w')).issues,
    ).toEqual([
      "Expected `mode` of `w` to be one of 'off', 'observe', 'enforce', got 'x'.",
      'Expected `jitterMs` of `w` to be a number of at least 0, got -1.',
      'Unknown option `banana` passed to `w`; remove it or check its spelling.',
    ]);
  });
});

describe('a bounded whole number shared between doors', () => {
  const jobs = { store: new MemoryStore(), scope: 's', org: 'o', jobKey: () => 'k', processRecord: () => 1 };

  it.each([
    [1, undefined],
    [1000, undefined],
    [0, 'Expected `concurrency` of `sqsJobs` to be a number of at least 1, got 0.'],
    [1001, 'Expected `concurrency` of `sqsJobs` to be a number of at most 1000, got 1001.'],
    [2.5, 'Expected `concurrency` of `sqsJobs` to be an integer, got 2.5.'],
  ])('concurrency %j', (concurrency, message) => {
    const parse = () => parseOptions(jobsSchema, { ...jobs, concurrency }, 'sqsJobs');
    if (message === undefined) expect(parse()).toMatchObject({ concurrency });
    else expect(configError(parse).message).toBe(message);
  });
});

describe('a list of strings', () => {
  const schema = z.strictObject({ methods: z.optional(stringListSchema) });

  it('accepts an empty list and a list of strings', () => {
    expect(parseOptions(schema, { methods: [] }, 'w')).toEqual({ methods: [] });
    expect(parseOptions(schema, { methods: ['POST', 'PUT'] }, 'w')).toEqual({ methods: ['POST', 'PUT'] });
  });

  it('names each item that is not a string', () => {
    expect(
      configError(() => parseOptions(schema, { methods: ['POST', 2, 'PUT', null] }, 'w')).issues,
    ).toEqual([
      'Expected `methods.1` of `w` to be a string, got 2.',
      'Expected `methods.3` of `w` to be a string, got null.',
    ]);
  });

  it('rejects a value that is not a list', () => {
    expect(configError(() => parseOptions(schema, { methods: 'POST' }, 'w')).message).toBe(
      "Expected `methods` of `w` to be an array, got 'POST'.",
    );
  });
});

describe('IDEMPOTENCY_* values parse to what the settings use', () => {
  it.each([
    ['IDEMPOTENCY_ENV', 'stage', 'stage'],
    ['IDEMPOTENCY_MODE', 'observe', 'observe'],
    ['IDEMPOTENCY_LOCK_TTL_S', '0300', 300],
    ['IDEMPOTENCY_LOCK_TTL_S', '9007199254740991', Number.MAX_SAFE_INTEGER],
    ['IDEMPOTENCY_WAIT_BUDGET_MS', '0', 0],
    ['IDEMPOTENCY_STRICT_FAIL_CLOSED', '1', true],
    ['IDEMPOTENCY_STRICT_FAIL_CLOSED', 'no', false],
    ['IDEMPOTENCY_ENFORCE_METHODS', ' POST, ,put ', ['POST', 'put']],
    ['IDEMPOTENCY_EXCLUDE_PATHS', ',', []],
  ] as const)('%s=%j is %j', (name, raw, value) => {
    const parsed = z.safeParse(VARIABLES[name].schema, raw);
    expect(parsed).toEqual({ success: true, data: value });
  });

  it.each([
    ['IDEMPOTENCY_LOCK_TTL_S', '9007199254740992'],
    ['IDEMPOTENCY_LOCK_TTL_S', '+5'],
    ['IDEMPOTENCY_LOCK_TTL_S', ' 5'],
    ['IDEMPOTENCY_JITTER_MS', '-0'],
    ['IDEMPOTENCY_STRICT_FAIL_CLOSED', 'on'],
    ['IDEMPOTENCY_MODE', 'OFF'],
  ] as const)('%s=%j is refused by its schema', (name, raw) => {
    expect(z.safeParse(VARIABLES[name].schema, raw).success).toBe(false);
  });

  it.each([
    'IDEMPOTENCY_LOCK_TTL_S',
    'IDEMPOTENCY_STRICT_FAIL_CLOSED',
    'IDEMPOTENCY_EXCLUDE_PATHS',
    'IDEMPOTENCY_MODE',
  ] as const)('%s refuses a value that is not a string', (name) => {
    for (const value of [5, true, null, undefined, ['/a']]) {
      expect(z.safeParse(VARIABLES[name].schema, value).success).toBe(false);
    }
  });

  it('reads a list variable over the option and upper-cases the methods', () => {
    const { enforceMethods, excludePaths } = resolveHttpSettings(
      { enforceMethods: ['DELETE'], excludePaths: ['/a'] },
      { IDEMPOTENCY_ENFORCE_METHODS: 'post,Put', IDEMPOTENCY_EXCLUDE_PATHS: '/health, /internal/*' },
    );
    expect([...enforceMethods]).toEqual(['POST', 'PUT']);
    expect(excludePaths).toEqual(['/health', '/internal/*']);
  });
});
