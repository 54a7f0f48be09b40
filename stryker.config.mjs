// Mutation testing (docs/testing.md): `npm run mutate`, or one file with `npx stryker run --mutate src/core/keys.ts`.
// Not part of `npm test` or CI: a full run takes about 70 minutes on two cores (docs/testing.md).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.stryker.config.ts' },
  checkers: ['typescript'],
  // The mutated folders only (and what they import): the checker builds this program once per worker.
  tsconfigFile: 'tsconfig.stryker.json',
  mutate: [
    'src/{core,stores,http,sqs,batch,kinesis,dynamodb-streams,kafka,edge}/**/*.ts',
    // Type-only and re-export files: nothing in them runs.
    '!src/**/index.ts',
    '!src/core/types.ts',
  ],
  // One checker and one test runner; Stryker adds a second test runner once every mutant is compiled.
  concurrency: 1,
  coverageAnalysis: 'perTest',
  // A loaded machine is slow: a mutant counts as timed out only well past the dry run's own time.
  timeoutMS: 20_000,
  timeoutFactor: 2.5,
  incremental: true,
  incrementalFile: '.cache/stryker/incremental.json',
  tempDirName: '.cache/stryker/tmp',
  cleanTempDir: 'always',
  ignorePatterns: ['.tools', '.cache', 'dist', 'cdk.out', 'coverage', 'bench/.tmp'],
  reporters: ['clear-text', 'html', 'json', 'progress'],
  htmlReporter: { fileName: '.cache/stryker/reports/mutation.html' },
  jsonReporter: { fileName: '.cache/stryker/reports/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  thresholds: { high: 90, low: 80, break: null },
};
