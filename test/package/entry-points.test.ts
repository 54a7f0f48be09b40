import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const packageJson = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  exports: Record<string, { import: string; default: string } | string>;
  sideEffects: boolean;
  engines: { node: string };
};

/** Bundles one entry the way a Lambda would (AWS SDK and Middy external) and lists the files it pulled in. */
async function bundledInputs(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [new URL(entry, root).pathname],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    external: ['@aws-sdk/*', '@middy/core'],
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

const FORBIDDEN = [/aws-cdk-lib/, /constructs/, /commander/, /cli-progress/, /src\/cli\//, /infra\//];

describe('the package entry points', () => {
  it.each([
    ['idemkit', 'src/index.ts'],
    ['idemkit/middy', 'src/http/index.ts'],
    ['idemkit/dynamodb', 'src/stores/dynamodb.ts'],
  ])('%s bundles without the CDK, the CLI or each other\u2019s doors', async (_name, entry) => {
    const inputs = await bundledInputs(entry);
    expect(inputs.length).toBeGreaterThan(0);
    for (const pattern of FORBIDDEN) expect(inputs.filter((input) => pattern.test(input))).toEqual([]);
    if (entry !== 'src/http/index.ts')
      expect(inputs.filter((input) => input.includes('src/http/'))).toEqual([]);
  });

  it('are declared as subpath exports of the ESM build, for import and require alike, free of side effects', () => {
    expect(packageJson.sideEffects).toBe(false);
    expect(packageJson.engines.node).toBe('>=22');
    for (const subpath of ['.', './dynamodb', './middy', './sqs', './cdk']) {
      const target = packageJson.exports[subpath];
      expect(typeof target === 'object' && target.import.startsWith('./dist/')).toBe(true);
      // Without a condition that `require` matches, Node 22 answers ERR_PACKAGE_PATH_NOT_EXPORTED even though
      // it can load the ES module from `require` (22.12+).
      expect(typeof target === 'object' && target.default === target.import).toBe(true);
    }
  });
});
