/**
 * The start-up errors people read: one sentence per problem, naming the option in backticks, what was expected
 * and what was received (never a long value echoed), and for a misspelling the option meant.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { didYouMean, expected, show } from '../../src/core/messages.js';
import { commonOptionsShape, orgSchema, parseOptions, scopeSchema } from '../../src/core/options.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { issues } from '../support/config-issues.js';

describe('a sentence of the form "Expected ... to be ..., got ..."', () => {
  it('names the subject, the expectation and the value received', () => {
    expect(expected('`maxReceiveCount` of JobQueue', 'a whole number from 1 to 1000', 0)).toBe(
      'Expected `maxReceiveCount` of JobQueue to be a whole number from 1 to 1000, got 0.',
    );
  });

  it('ends with the fix when there is one', () => {
    expect(expected('`renewEvery`', 'shorter than the lock TTL', 90, 'leave it unset')).toBe(
      'Expected `renewEvery` to be shorter than the lock TTL, got 90; leave it unset.',
    );
  });
});

describe('a received value shown in a message', () => {
  it.each([
    ['a short string, quoted', 'prod', "'prod'"],
    ['a string of 40 characters, whole', 'x'.repeat(40), `'${'x'.repeat(40)}'`],
    ['a longer string, by its length only', 'x'.repeat(41), 'a string of 41 characters'],
    ['a function, by its kind', () => 1, 'a function'],
    ['an array, by its kind', [1, 2], 'an array'],
    ['an object, by its kind', { secret: 'k' }, 'an object'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a number', 12.5, '12.5'],
    ['a boolean', false, 'false'],
  ])('%s', (_what, value, shown) => {
    expect(show(value)).toBe(shown);
  });
});

describe('did you mean', () => {
  const known = ['lockTtlSeconds', 'scope', 'waitBudgetMs'];

  it.each([
    ['lockTtlSecond', ' (did you mean `lockTtlSeconds`?)'],
    ['lockTTLseconds', ' (did you mean `lockTtlSeconds`?)'],
    ['LOCKTTLSECONDS', ' (did you mean `lockTtlSeconds`?)'],
    ['scpoe', ' (did you mean `scope`?)'],
    ['scopes', ' (did you mean `scope`?)'],
    ['sco', ' (did you mean `scope`?)'],
    ['sc', ''],
    ['xcopezz', ''],
    ['banana', ''],
  ])('%s: %j', (key, suggestion) => {
    expect(didYouMean(key, known)).toBe(suggestion);
  });

  it('suggests no short option for a longer key that shares a letter or two with it', () => {
    expect(didYouMean('mdoe', ['key', 'org'])).toBe('');
    expect(didYouMean('scpoe', ['key'])).toBe('');
  });

  it('names the nested option with its path', () => {
    expect(didYouMean('maxEntrys', ['maxEntries', 'maxBytes'], 'cache.')).toBe(
      ' (did you mean `cache.maxEntries`?)',
    );
  });
});

describe('an option refused by its schema', () => {
  it('names each unknown option of one object, with what it may have meant', () => {
    const schema = z.strictObject({ scope: z.string(), waitBudgetMs: z.optional(z.number()) });
    expect(issues(() => parseOptions(schema, { scope: 's', scpoe: 1, waitBudgetMS: 2 }, 'w'))).toEqual([
      'Unknown option `scpoe` passed to `w`; remove it or check its spelling (did you mean `scope`?). Unknown option `waitBudgetMS` passed to `w`; remove it or check its spelling (did you mean `waitBudgetMs`?).',
    ]);
  });

  it('suggests from an option that is optional, or one member of a union, at its path', () => {
    const schema = z.strictObject({
      retry: z.optional(
        z.union([z.boolean(), z.strictObject({ attempts: z.optional(z.number()), delayMs: z.number() })]),
      ),
    });
    expect(issues(() => parseOptions(schema, { retry: { attempt: 3, delayMs: 1 } }, 'w'))).toEqual([
      'Unknown option `retry.attempt` passed to `w`; remove it or check its spelling (did you mean `retry.attempts`?).',
    ]);
  });

  it('suggests from two levels down', () => {
    const schema = z.strictObject({
      outer: z.strictObject({ inner: z.strictObject({ limit: z.number() }) }),
    });
    expect(issues(() => parseOptions(schema, { outer: { inner: { limt: 1, limit: 1 } } }, 'w'))).toEqual([
      'Unknown option `outer.inner.limt` passed to `w`; remove it or check its spelling (did you mean `outer.inner.limit`?).',
    ]);
  });

  it('guesses nothing where the schema does not say which options a nested object takes', () => {
    const schema = z.strictObject({ bag: z.record(z.string(), z.strictObject({ size: z.number() })) });
    expect(issues(() => parseOptions(schema, { bag: { a: { siz: 1, size: 1 } } }, 'w'))).toEqual([
      'Unknown option `bag.a.siz` passed to `w`; remove it or check its spelling.',
    ]);
  });

  it.each([
    [
      'a value from a list',
      z.strictObject({ tier: z.enum(['gold', 'silver']) }),
      { tier: 'bronze' },
      "Expected `tier` of `w` to be one of 'gold', 'silver', got 'bronze'.",
    ],
    [
      'a number of at least a bound',
      z.strictObject({ size: z.number().check(z.minimum(3)) }),
      { size: 2 },
      'Expected `size` of `w` to be a number of at least 3, got 2.',
    ],
    [
      'a number above a bound',
      z.strictObject({ size: z.number().check(z.positive()) }),
      { size: 0 },
      'Expected `size` of `w` to be a number greater than 0, got 0.',
    ],
    [
      'a long enough text',
      z.strictObject({ name: z.string().check(z.minLength(3)) }),
      { name: 'ab' },
      "Expected `name` of `w` to be a value of at least 3, got 'ab'.",
    ],
    [
      'an integer',
      z.strictObject({ count: z.int() }),
      { count: 1.5 },
      'Expected `count` of `w` to be an integer, got 1.5.',
    ],
    [
      'a value of a type',
      z.strictObject({ name: z.string() }),
      { name: 5 },
      'Expected `name` of `w` to be a string, got 5.',
    ],
    [
      'a value its own check describes',
      z.strictObject({ hook: z.custom((value) => typeof value === 'function', { message: 'a hook' }) }),
      { hook: 1 },
      'Expected `hook` of `w` to be a hook, got 1.',
    ],
  ])('says what was expected of %s and what was received', (_what, schema, options, message) => {
    expect(issues(() => parseOptions(schema, options, 'w'))).toEqual([message]);
  });

  it('shows a nested value that is missing as undefined', () => {
    const schema = z.strictObject({ limits: z.strictObject({ max: z.number() }) });
    expect(issues(() => parseOptions(schema, { limits: {} }, 'w'))).toEqual([
      'Expected `limits.max` of `w` to be a number, got undefined.',
    ]);
  });

  it('calls the whole options `options` when they are not an object', () => {
    const schema = z.strictObject({ scope: z.string() });
    expect(issues(() => parseOptions(schema, 'scope', 'w'))).toEqual([
      "Expected `options` of `w` to be an object, got 'scope'.",
    ]);
  });
});

describe('the options every door takes', () => {
  const schema = z.strictObject({ ...commonOptionsShape, scope: scopeSchema, org: orgSchema });
  const store = new MemoryStore();
  const valid = { store, scope: 'charge', org: 'acme' };
  const refusal = (options: Record<string, unknown>) =>
    issues(() => parseOptions(schema, { ...valid, ...options }, 'w'));

  it('accepts a telemetry, a large-result store, a renewal period, a cache switch and an org function', () => {
    const options = {
      ...valid,
      org: () => 'acme',
      telemetry: { emit() {}, warn() {} },
      largeResults: { put: async () => 'key', get: async () => undefined },
      renewEvery: 1,
      cache: true,
    };
    expect(parseOptions(schema, options, 'w')).toEqual(options);
    expect(parseOptions(schema, { ...valid, cache: false }, 'w')).toMatchObject({ cache: false });
  });

  it.each(['claim', 'get', 'complete', 'release', 'renew'])('refuses a store without `%s`', (method) => {
    const partial = Object.fromEntries(
      ['claim', 'get', 'complete', 'release', 'renew']
        .filter((name) => name !== method)
        .map((name) => [name, () => 1]),
    );
    expect(refusal({ store: partial })).toEqual([
      'Expected `store` of `w` to be a store (`new DynamoDBStore(...)` or `new MemoryStore()`), got an object.',
    ]);
  });

  it('refuses a store that is null', () => {
    expect(refusal({ store: null })).toEqual([
      'Expected `store` of `w` to be a store (`new DynamoDBStore(...)` or `new MemoryStore()`), got null.',
    ]);
  });

  it.each([[{}], [{ put: async () => 'key' }], [null]])(
    'refuses the large-result store %o',
    (largeResults) => {
      expect(refusal({ largeResults })).toEqual([
        `Expected \`largeResults\` of \`w\` to be a large-result store (\`new S3ResultStore(...)\` from \`idemkit/s3\`), got ${largeResults === null ? 'null' : 'an object'}.`,
      ]);
    },
  );

  it.each([[{ warn() {} }], [null], ['stdout']])('refuses the telemetry %o', (telemetry) => {
    expect(refusal({ telemetry })).toEqual([
      `Expected \`telemetry\` of \`w\` to be an object with an \`emit(signal, facts)\` method, got ${show(telemetry)}.`,
    ]);
  });

  it('refuses a scope that cannot lead a record key, saying what a name may hold', () => {
    expect(refusal({ scope: 'charge#1' })).toEqual([
      "Expected `scope` of `w` to be 1 to 128 printable characters with no `#`, `*` or surrounding spaces, got 'charge#1'.",
    ]);
  });

  it('refuses a constant org that cannot lead a record key, saying a function would do', () => {
    expect(refusal({ org: ' acme' })).toEqual([
      "Expected `org` of `w` to be a function, or 1 to 128 printable characters with no `#`, `*` or surrounding spaces, got ' acme'.",
    ]);
  });

  it.each([
    [{ renewEvery: 0 }, 'Expected `renewEvery` of `w` to be a number greater than 0, got 0.'],
    [
      { lockTtlSeconds: Number.POSITIVE_INFINITY },
      'Expected `lockTtlSeconds` of `w` to be a number, got Infinity.',
    ],
    [{ jitterMs: null }, 'Expected `jitterMs` of `w` to be a number, got null.'],
  ])('refuses %o', (options, message) => {
    expect(refusal(options)).toEqual([message]);
  });
});

describe('options that must be objects', () => {
  const schema = z.strictObject({ ...commonOptionsShape, scope: scopeSchema, org: orgSchema });
  const methods = Object.fromEntries(
    ['claim', 'get', 'complete', 'release', 'renew'].map((name) => [name, () => 1]),
  );

  it('refuses a function as the store, even one carrying the five methods', () => {
    const store = Object.assign(() => 1, methods);
    expect(issues(() => parseOptions(schema, { store, scope: 's', org: 'o' }, 'w'))).toEqual([
      'Expected `store` of `w` to be a store (`new DynamoDBStore(...)` or `new MemoryStore()`), got a function.',
    ]);
  });

  it('refuses a function as the telemetry, even one carrying `emit`', () => {
    const telemetry = Object.assign(() => 1, { emit() {}, warn() {} });
    expect(
      issues(() => parseOptions(schema, { store: new MemoryStore(), scope: 's', org: 'o', telemetry }, 'w')),
    ).toEqual([
      'Expected `telemetry` of `w` to be an object with an `emit(signal, facts)` method, got a function.',
    ]);
  });
});
