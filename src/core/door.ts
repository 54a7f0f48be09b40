import { RecordCache } from './cache.js';
import { IdempotencyEngine } from './engine.js';
import { Guard } from './guard.js';
import type { CommonOptions } from './options.js';
import { resolveSettings } from './settings.js';
import { createTelemetry } from './telemetry.js';

/**
 * Builds the engine a door (middleware, job runner, wrapper) uses, once at cold start: settings resolved
 * from the `IDEMPOTENCY_*` variables and the options, warnings logged, the cache sized.
 *
 * @example
 * const engine = buildEngine(parsedOptions);
 */
export function buildEngine(
  options: CommonOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
): IdempotencyEngine {
  const { settings, warnings } = resolveSettings(options, env);
  const telemetry = options.telemetry ?? createTelemetry();
  for (const warning of warnings) telemetry.warn(warning);
  const cache =
    options.cache === undefined || options.cache === false
      ? undefined
      : new RecordCache(options.cache === true ? {} : options.cache);
  return new IdempotencyEngine({
    store: options.store,
    settings,
    telemetry,
    cache,
    clock: options.clock,
    largeResults: options.largeResults,
  });
}

/**
 * Builds the guard a door calls, once at cold start: the engine, and the renewal period checked against the
 * lock TTL.
 *
 * @example
 * const guard = buildGuard(parsedOptions, 'makeIdempotent');
 */
export function buildGuard(
  options: CommonOptions,
  door: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Guard {
  return new Guard(buildEngine(options, env), { door, renewEveryMs: options.renewEvery });
}
