import { IdempotencyConfigError } from '../../src/core/errors.js';

/** The issues of the IdempotencyConfigError `run` throws; any other outcome fails the test. */
export function issues(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof IdempotencyConfigError) return error.issues;
    throw error;
  }
  throw new Error('Expected an IdempotencyConfigError, got no error.');
}
