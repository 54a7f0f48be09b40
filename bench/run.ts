/**
 * `npm run bench` (add `-- --quick` for a smoke run under 2 minutes): idemkit against Powertools
 * idempotency, side by side, on one DynamoDB Local and one zero-latency fake. Writes `bench/results.json` and
 * `docs/benchmarks.md` (`-- --report-only` re-renders the note from the JSON). Every DynamoDB Local it starts is stopped, also on Ctrl-C and on error.
 * `-- --only=<section>` runs one section alone (`bundle`: the two handler bundles, their composition and cold
 * imports; `overhead`: the in-process CPU rows on the fake, with their medians and ratios) and prints its figures
 * as JSON, leaving `bench/results.json` and `docs/benchmarks.md` as they are.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { hasRedisServer } from '../test/support/redis.js';
import { bundleInputs, bundleSide, coldImports } from './lib/bundle.js';
import { startBenchDynamoDB } from './lib/dynamodb-local.js';
import { measureOverhead, type OverheadOutput } from './lib/overhead.js';
import { type BenchResults, overheadOf, renderMarkdown, summarize } from './lib/report.js';
import { SIDES, type Side } from './lib/sides.js';
import { runWorker, TMP_DIR } from './lib/worker.js';
import type { LatencyInput, LatencyOutput } from './workers/latency.js';
import type { MemoryInput, MemoryOutput } from './workers/memory.js';
import type { PathsInput, PathsOutput } from './workers/paths.js';
import type { RedisBenchInput, RedisBenchOutput } from './workers/redis.js';
import type { ThroughputInput, ThroughputOutput } from './workers/throughput.js';

const quick = process.argv.includes('--quick');
const PLAN = quick
  ? {
      pathRepeats: 2,
      overhead: { rounds: 3, invocations: { '1': 300, '64': 60 }, bodiesKb: [1, 64] },
      throughput: { concurrency: [1, 32], rounds: 2, durationMs: 1500 },
      latency: { rounds: 2, invocations: 60, bodyKb: 1 },
      memory: { invocations: 10_000, checkpoints: [1_000, 5_000, 10_000] },
      coldProcesses: 5,
      redis: { invocations: 200, rounds: 3, bodyKb: 1 },
    }
  : {
      pathRepeats: 5,
      overhead: { rounds: 7, invocations: { '1': 2000, '64': 300 }, bodiesKb: [1, 64] },
      throughput: { concurrency: [1, 32], rounds: 5, durationMs: 6000 },
      latency: { rounds: 5, invocations: 300, bodyKb: 1 },
      memory: { invocations: 100_000, checkpoints: [10_000, 50_000, 100_000] },
      coldProcesses: 20,
      redis: { invocations: 1000, rounds: 7, bodyKb: 1 },
    };

const root = fileURLToPath(new URL('..', import.meta.url));
const log = (message: string) =>
  console.log(`[bench ${((performance.now() - t0) / 1000).toFixed(0)} s] ${message}`);
const t0 = performance.now();

/** The installed version of a package; `''` for idemkit itself. */
function version(name: string): string {
  const file = name === '' ? `${root}package.json` : `${root}node_modules/${name}/package.json`;
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** The commit measured, and whether `src/` had uncommitted changes (other engineers work in the same tree). */
function treeState(): { commit: string; srcChanges: string[] } {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  try {
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      srcChanges: git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean),
    };
  } catch {
    return { commit: 'unknown', srcChanges: [] };
  }
}

async function main(): Promise<void> {
  mkdirSync(TMP_DIR, { recursive: true });
  mkdirSync(`${root}docs`, { recursive: true });
  const loadAtStart = loadavg();
  log(
    `${quick ? 'quick' : 'full'} run; load average ${loadAtStart.map((value) => value.toFixed(2)).join(' ')}`,
  );

  const ddb = await startBenchDynamoDB();
  let paths: PathsOutput;
  let throughput: ThroughputOutput;
  let latency: LatencyOutput;
  try {
    log(`DynamoDB Local ${ddb.version} on ${ddb.endpoint}; round trips and write units per path`);
    paths = await runWorker<PathsOutput>('paths', {
      endpoint: ddb.endpoint,
      repeats: PLAN.pathRepeats,
    } satisfies PathsInput);
    log('throughput and latency on DynamoDB Local');
    throughput = await runWorker<ThroughputOutput>('throughput', {
      endpoint: ddb.endpoint,
      ...PLAN.throughput,
    } satisfies ThroughputInput);
    log('added latency on DynamoDB Local: the handler bare, behind idemkit, behind Powertools');
    latency = await runWorker<LatencyOutput>('latency', {
      endpoint: ddb.endpoint,
      ...PLAN.latency,
    } satisfies LatencyInput);
  } finally {
    await ddb.stop();
    log('DynamoDB Local stopped');
  }

  const overhead = await overheadSection();

  log('memory with the local cache on');
  const memory = {} as Record<Side, MemoryOutput>;
  for (const side of SIDES) {
    memory[side] = await runWorker<MemoryOutput>('memory', { side, ...PLAN.memory } satisfies MemoryInput, [
      '--expose-gc',
    ]);
  }

  let redis: RedisBenchOutput | undefined;
  if (hasRedisServer()) {
    log('RedisStore against CachePersistenceLayer on one redis-server');
    redis = await runWorker<RedisBenchOutput>('redis', PLAN.redis satisfies RedisBenchInput);
  } else {
    log('no redis-server on PATH (apt-get install -y redis-server): the Redis row is left out');
  }

  const { bundles, cold } = await bundleSection();

  const results: BenchResults = {
    generatedAt: new Date().toISOString(),
    quick,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGb: Number((totalmem() / 1024 ** 3).toFixed(1)),
      freeMemoryGbAtEnd: Number((freemem() / 1024 ** 3).toFixed(1)),
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg(),
      node: process.version,
      dynamoDBLocal: ddb.version,
    },
    versions: {
      idemkit: version(''),
      '@aws-lambda-powertools/idempotency': version('@aws-lambda-powertools/idempotency'),
      '@aws-lambda-powertools/batch': version('@aws-lambda-powertools/batch'),
      '@aws-sdk/client-dynamodb': version('@aws-sdk/client-dynamodb'),
      '@middy/core': version('@middy/core'),
      esbuild: version('esbuild'),
      '@redis/client': version('@redis/client'),
    },
    tree: treeState(),
    plan: PLAN,
    paths,
    overhead,
    throughput,
    latency,
    memory,
    bundles,
    cold,
    ...(redis === undefined ? {} : { redis }),
    summary: [],
  };
  results.summary = summarize(results);
  writeFileSync(`${root}bench/results.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${root}docs/benchmarks.md`, renderMarkdown(results));
  log('wrote bench/results.json and docs/benchmarks.md');
  const missed = results.summary.filter((row) => row.met === false);
  for (const row of missed)
    log(`target missed: ${row.metric}: ratio ${row.ratio.toFixed(2)} (target ${row.target})`);
}

/** Section 4: both handler bundles, and the cold import of each in fresh processes. */
async function bundleSection() {
  log('bundles and cold imports');
  const bundles = { idemkit: await bundleSide('idemkit'), powertools: await bundleSide('powertools') };
  const cold = coldImports(
    { idemkit: bundles.idemkit.file, powertools: bundles.powertools.file },
    PLAN.coldProcesses,
  );
  return { bundles, cold };
}

async function overheadSection(): Promise<OverheadOutput> {
  log('in-process overhead on the zero-latency fake, each variant in a process of its own');
  return measureOverhead(PLAN.overhead);
}

/** The sections `--only=<name>` can run alone, with what each prints beyond the full run's figures. */
const SECTIONS: Record<string, () => Promise<unknown>> = {
  overhead: async () => {
    const overhead = await overheadSection();
    const rows = Object.entries(overhead).map(([row, samples]) => {
      const [idemkit, silent, powertools] = (['idemkit', 'idemkit-silent', 'powertools'] as const).map(
        (variant) => overheadOf(samples, variant),
      ) as [number, number, number];
      return { row, idemkit, 'idemkit-silent': silent, powertools, ratio: idemkit / powertools };
    });
    return { medians: rows, samples: overhead };
  },
  bundle: async () => {
    const section = await bundleSection();
    const inputs = (side: Side) => bundleInputs(section.bundles[side].metafile);
    return { ...section, inputs: { idemkit: inputs('idemkit'), powertools: inputs('powertools') } };
  },
};

/** `--only=<section>`: one section, printed; nothing written but the bundles under bench/.tmp. */
async function onlySection(name: string): Promise<void> {
  const section = SECTIONS[name];
  if (section === undefined)
    throw new Error(`Expected \`--only\` to be one of ${Object.keys(SECTIONS).join(', ')}, got '${name}'.`);
  mkdirSync(TMP_DIR, { recursive: true });
  log(
    `${quick ? 'quick' : 'full'} run of section ${name}; load average ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}`,
  );
  console.log(JSON.stringify({ tree: treeState(), [name]: await section() }, null, 2));
}

/** `--report-only`: re-render docs/benchmarks.md from bench/results.json (after editing bench/analysis.md). */
function reportOnly(): void {
  const results = JSON.parse(readFileSync(`${root}bench/results.json`, 'utf8')) as BenchResults;
  results.summary = summarize(results);
  writeFileSync(`${root}bench/results.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${root}docs/benchmarks.md`, renderMarkdown(results));
  log('re-rendered the summary and docs/benchmarks.md from bench/results.json');
}

const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
(only !== undefined
  ? onlySection(only)
  : process.argv.includes('--report-only')
    ? Promise.resolve().then(reportOnly)
    : main()
).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
