import { basename } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// `IDEMKIT_MUTATE_TESTS=test/core/keys.test.ts,test/core/properties.test.ts` narrows a scoped run to the tests
// written for one file: faster on a shared machine, and a lower bound of the score the full set gives.
const narrowed = process.env.IDEMKIT_MUTATE_TESTS?.split(',').filter((glob) => glob !== '');
// `IDEMKIT_MUTATE_DYNAMODB=0` with tests that need no DynamoDB Local (memory stores): a test runner restarted after a
// timed-out mutant then starts in seconds instead of waiting for Java.
const withDynamoDB = process.env.IDEMKIT_MUTATE_DYNAMODB !== '0';

/**
 * The order a mutant's test files run in. Stryker stops at the first failing test (bail), so the files most
 * likely to fail come first: the test file named after the mutated module (Stryker hands vitest that module as
 * `related`), then a file that failed on an earlier mutant, then the quickest. Vitest's own order (the longest
 * file first) suits parallel workers; here one worker runs a mutant's files one after another, and a module-level
 * mutant, which runs every file that imports its module, would otherwise sit through the slowest files first.
 */
class KillFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const mutated = (this.ctx.config.related ?? []).map((file) => basename(file).replace(/\.ts$/, '.'));
    const rank = (spec: TestSpecification) => {
      const result = this.ctx.cache.getTestSpecificationResult(spec);
      return {
        named: mutated.some((prefix) => basename(spec.moduleId).startsWith(prefix)) ? 0 : 1,
        failed: result?.failed ? 0 : 1,
        duration: result?.duration ?? Number.MAX_SAFE_INTEGER,
      };
    };
    return files
      .map((spec) => ({ spec, ...rank(spec) }))
      .sort((a, b) => a.named - b.named || a.failed - b.failed || a.duration - b.duration)
      .map(({ spec }) => spec);
  }
}

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
    sequence: { sequencer: KillFirstSequencer },
    // Each file in a fresh worker (vitest's default): with \`isolate: false\` a module stays loaded between mutants,
    // so a mutant in module-level code (a constant list of header names) is never run and wrongly survives.
  },
});
