import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import type { Side } from './sides.js';
import { median, orderFor } from './stats.js';
import { TMP_DIR } from './worker.js';

/** esbuild settings of section 4, the same for both sides. */
export const BUNDLE_SETTINGS: BuildOptions = {
  bundle: true,
  minify: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  external: ['@aws-sdk/*'],
  // Lets CommonJS dependencies inside an ESM bundle call `require` for Node built-ins.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
};

export interface BundleResult {
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly file: string;
  /** esbuild's metafile of the bundle, for {@link bundleInputs} or esbuild's bundle analyzer. */
  readonly metafile: string;
  /** The largest inputs by bytes in the output, for the report. */
  readonly topInputs: { readonly path: string; readonly bytes: number }[];
}

export async function bundleSide(side: Side): Promise<BundleResult> {
  const outdir = `${TMP_DIR}bundles/`;
  mkdirSync(outdir, { recursive: true });
  const entry = fileURLToPath(new URL(`../bundle/${side}-api.ts`, import.meta.url));
  const outfile = `${outdir}${side}-api.mjs`;
  const result = await build({
    ...BUNDLE_SETTINGS,
    entryPoints: [entry],
    outfile,
    metafile: true,
    logLevel: 'error',
  });
  const metafile = `${outdir}${side}-api.meta.json`;
  writeFileSync(metafile, JSON.stringify(result.metafile));
  return {
    bytes: statSync(outfile).size,
    gzipBytes: gzipSync(readFileSync(outfile)).byteLength,
    file: outfile,
    metafile,
    topInputs: result.metafile === undefined ? [] : topInputs(result.metafile),
  };
}

/** Every input of a bundle with the bytes it puts in the output, largest first (`--only=bundle` prints them). */
export function bundleInputs(metafileOfBundle: string): { path: string; bytes: number }[] {
  const metafile = JSON.parse(readFileSync(metafileOfBundle, 'utf8')) as Metafile;
  return Object.values(metafile.outputs)
    .flatMap((output) => Object.entries(output.inputs))
    .map(([path, input]) => ({ path, bytes: input.bytesInOutput }))
    .filter((input) => input.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
}

function topInputs(metafile: Metafile): { path: string; bytes: number }[] {
  const byPackage = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      // The innermost package: nested node_modules belong to the package that bundles them.
      const match = [...path.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)].at(-1);
      const name = match?.[1] ?? (path.startsWith('src/') ? 'idemkit src/' : path);
      byPackage.set(name, (byPackage.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...byPackage.entries()]
    .map(([path, bytes]) => ({ path, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 8);
}

/** ms to import the bundle in a fresh `node`; `sdkFirst` imports the AWS SDK client first, untimed. */
function importOnce(file: string, sdkFirst: boolean): number {
  const url = pathToFileURL(file).href;
  const script = `${sdkFirst ? "await import('@aws-sdk/client-dynamodb');" : ''}
const t = performance.now(); await import(${JSON.stringify(url)}); console.log(performance.now() - t);`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    encoding: 'utf8',
    env: { ...process.env, AWS_REGION: 'us-east-1', IDEMPOTENCY_TABLE: 'idempotency' },
  });
  if (run.status !== 0) throw new Error(`importing ${file} failed: ${run.stderr}`);
  return Number(run.stdout.trim());
}

export interface ColdImport {
  /** Median ms, the AWS SDK loaded by the import (as on a Lambda cold start). */
  readonly withSdk: number;
  /** Median ms with the AWS SDK already loaded: the library's own share. */
  readonly ownOnly: number;
  readonly samples: { readonly withSdk: number[]; readonly ownOnly: number[] };
}

/** Median of `processes` fresh Node processes per side, A and B alternated. */
export function coldImports(files: Record<Side, string>, processes: number): Record<Side, ColdImport> {
  const samples: Record<Side, { withSdk: number[]; ownOnly: number[] }> = {
    idemkit: { withSdk: [], ownOnly: [] },
    powertools: { withSdk: [], ownOnly: [] },
  };
  for (let round = 0; round < processes; round++) {
    for (const side of orderFor(round, ['idemkit', 'powertools'] as const)) {
      samples[side].withSdk.push(importOnce(files[side], false));
      samples[side].ownOnly.push(importOnce(files[side], true));
    }
  }
  const summary = (side: Side): ColdImport => ({
    withSdk: median(samples[side].withSdk),
    ownOnly: median(samples[side].ownOnly),
    samples: samples[side],
  });
  return { idemkit: summary('idemkit'), powertools: summary('powertools') };
}
