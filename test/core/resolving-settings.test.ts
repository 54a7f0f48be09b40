/**
 * How the `IDEMPOTENCY_*` variables and the options settle into the settings at cold start (docs/protocol.md
 * section 5), at the edges config.test.ts leaves: blanks, spaces and case, the clamps' own bounds, and the HTTP
 * door's methods and paths.
 */
import { describe, expect, it } from 'vitest';
import { resolveHttpSettings, resolveSettings } from '../../src/core/settings.js';
import { issues } from '../support/config-issues.js';

describe('reading a variable', () => {
  it('takes a variable of spaces only for unset', () => {
    expect(resolveSettings({ mode: 'observe' }, { IDEMPOTENCY_MODE: '   ' }).settings.mode).toBe('observe');
  });

  it('reads a number with spaces around it', () => {
    expect(resolveSettings({}, { IDEMPOTENCY_LOCK_TTL_S: ' 300 ' }).settings.lockTtlSeconds).toBe(300);
  });

  it('shows the value as it was set when it is refused', () => {
    expect(issues(() => resolveSettings({}, { IDEMPOTENCY_MODE: ' On ' }))).toEqual([
      "Expected `IDEMPOTENCY_MODE` to be one of off, observe, enforce, got ' On '.",
    ]);
  });
});

describe('the clamps at their bounds', () => {
  it('keeps a lock TTL at the environment minimum, without a warning', () => {
    expect(resolveSettings({ environment: 'prod', lockTtlSeconds: 120 }, {})).toMatchObject({
      settings: { lockTtlSeconds: 120 },
      warnings: [],
    });
  });

  it('accepts a record lifetime one second longer than the lock TTL', () => {
    expect(
      resolveSettings({ environment: 'prod', expiresAfterSeconds: 121 }, {}).settings.expiresAfterSeconds,
    ).toBe(121);
  });

  it('compares the lifetime with the lock TTL after the clamp', () => {
    expect(
      issues(() => resolveSettings({ environment: 'prod', lockTtlSeconds: 5, expiresAfterSeconds: 100 }, {})),
    ).toEqual([
      'Expected the record lifetime (`expiresAfterSeconds` or `IDEMPOTENCY_TTL_S`) to be longer than the lock TTL (120 s), got 100.',
    ]);
  });

  it('names only the bad variable when a variable is refused, not the lifetime it left unknown', () => {
    expect(
      issues(() =>
        resolveSettings({ lockTtlSeconds: 200, expiresAfterSeconds: 150 }, { IDEMPOTENCY_JITTER_MS: 'x' }),
      ),
    ).toEqual([
      "Expected `IDEMPOTENCY_JITTER_MS` to be a whole number of milliseconds (0 or more), got 'x'.",
    ]);
  });

  it('fails open by default in every environment', () => {
    for (const environment of ['dev', 'stage', 'prod', 'test'] as const)
      expect(resolveSettings({ environment }, {}).settings.strictFailClosed).toBe(false);
  });
});

describe("the HTTP door's methods and paths", () => {
  it('requires a key on POST and PATCH by default, and excludes no path', () => {
    const { enforceMethods, excludePaths } = resolveHttpSettings({}, {});
    expect([...enforceMethods]).toEqual(['POST', 'PATCH']);
    expect(excludePaths).toEqual([]);
  });

  it('takes the options, upper-casing the methods, when no variable is set', () => {
    const { enforceMethods, excludePaths } = resolveHttpSettings(
      { enforceMethods: ['put', 'Delete'], excludePaths: ['/Health'] },
      { IDEMPOTENCY_ENFORCE_METHODS: ' ', IDEMPOTENCY_EXCLUDE_PATHS: '' },
    );
    expect([...enforceMethods]).toEqual(['PUT', 'DELETE']);
    expect(excludePaths).toEqual(['/Health']);
  });

  it('keeps the case of excluded paths read from the variable', () => {
    expect(resolveHttpSettings({}, { IDEMPOTENCY_EXCLUDE_PATHS: '/Health/*' }).excludePaths).toEqual([
      '/Health/*',
    ]);
  });

  it('refuses a method option that is not a word, naming the option', () => {
    expect(issues(() => resolveHttpSettings({ enforceMethods: ['POST', 'GET /'] }, {}))).toEqual([
      "Expected `enforceMethods` to be HTTP methods such as POST,PATCH, got 'GET /'.",
    ]);
  });

  it.each([['POST1'], ['1POST'], ['PO ST']])('refuses the method %j in the variable, naming it', (method) => {
    expect(issues(() => resolveHttpSettings({}, { IDEMPOTENCY_ENFORCE_METHODS: `PATCH,${method}` }))).toEqual(
      [`Expected \`IDEMPOTENCY_ENFORCE_METHODS\` to be HTTP methods such as POST,PATCH, got '${method}'.`],
    );
  });
});
