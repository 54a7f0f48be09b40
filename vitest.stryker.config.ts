import { defineConfig } from 'vitest/config';

// `IDEMKIT_MUTATE_TESTS=test/core/keys.test.ts,test/core/properties.test.ts` narrows a scoped run to the tests
// written for one file: faster on a shared machine, and a lower bound of the score the full set gives.
const narrowed = process.env.IDEMKIT_MUTATE_TESTS?.split(',').filter((glob) => glob !== '');
// `IDEMKIT_MUTATE_DYNAMODB=0` with tests that need no DynamoDB Local (memory stores): a test runner restarted after a
// timed-out mutant then starts in seconds instead of waiting for Java.
const withDynamoDB = process.env.IDEMKIT_MUTATE_DYNAMODB !== '0';

/**
 * The tests Stryker runs against each mutant (stryker.config.mjs): the ones that exercise the core, the stores
 * and the doors in process. End-to-end, playground, CDK, CLI and soak tests start processes and take minutes;
 * they do not cover the mutated files any better and would multiply a mutation run's length.
 */
export default defineConfig({
  test: {
    include: narrowed ?? [
      'test/core/**/*.test.ts',
      'test/http/**/*.test.ts',
      'test/stores/**/*.test.ts',
      'test/sqs/**/*.test.ts',
      'test/streams/**/*.test.ts',
      'test/edge/**/*.test.ts',
      'test/durable/**/*.test.ts',
    ],
    exclude: [
      '**/*.e2e.test.ts',
      'test/edge/bundled-handler.dynamodb.test.ts',
      'test/edge/entry-point.test.ts',
    ],
    globalSetup: withDynamoDB ? ['test/support/global-setup.ts'] : [],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Each file in a fresh worker (vitest's default): with \`isolate: false\` a module stays loaded between mutants,
    // so a mutant in module-level code (a constant list of header names) is never run and wrongly survives.
  },
});
