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
    external: ['@aws-sdk/*', '@middy/core', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

const CLI = [/commander/, /cli-progress/, /src\/cli\//];
const CDK = [/aws-cdk-lib/, /constructs/, /infra\//];

describe('the package entry points', () => {
  // Each subpath bundles only its own door: a Lambda that uses the middleware carries no job runner, CLI or CDK.
  it.each([
    ['idemkit', 'src/index.ts', [...CLI, ...CDK, /src\/http\//, /src\/sqs\//, /src\/stores\/dynamodb/]],
    ['idemkit/middy', 'src/http/index.ts', [...CLI, ...CDK, /src\/sqs\//, /src\/stores\/dynamodb/]],
    ['idemkit/sqs', 'src/sqs/index.ts', [...CLI, ...CDK, /src\/http\//, /src\/stores\/dynamodb/]],
    ['idemkit/dynamodb', 'src/stores/dynamodb.ts', [...CLI, ...CDK, /src\/http\//, /src\/sqs\//]],
    [
      'idemkit/redis',
      'src/stores/redis.ts',
      [...CLI, ...CDK, /src\/http\//, /src\/sqs\//, /@aws-sdk/, /dynamodb/],
    ],
    ['idemkit/s3', 'src/stores/s3.ts', [...CLI, ...CDK, /src\/http\//, /src\/sqs\//, /dynamodb/, /redis/]],
    ['idemkit/cdk', 'infra/constructs/index.ts', [...CLI, /src\/http\//, /src\/sqs\//, /infra\/stacks\//]],
    [
      'idemkit/kinesis',
      'src/kinesis/index.ts',
      [...CLI, ...CDK, /src\/http\//, /src\/sqs\//, /src\/kafka\//],
    ],
    [
      'idemkit/dynamodb-streams',
      'src/dynamodb-streams/index.ts',
      [...CLI, ...CDK, /src\/http\//, /src\/sqs\//, /src\/kinesis\//],
    ],
    ['idemkit/kafka', 'src/kafka/index.ts', [...CLI, ...CDK, /src\/http\//, /src\/sqs\//, /src\/kinesis\//]],
  ])('%s bundles without what other subpaths carry', async (_name, entry, forbidden) => {
    const inputs = await bundledInputs(entry);
    expect(inputs.length).toBeGreaterThan(0);
    for (const pattern of forbidden) expect(inputs.filter((input) => pattern.test(input))).toEqual([]);
  });

  it('are declared as subpath exports of the ESM build, for import and require alike, free of side effects', () => {
    expect(packageJson.sideEffects).toBe(false);
    expect(packageJson.engines.node).toBe('>=22');
    for (const subpath of ['.', './dynamodb', './redis', './s3', './middy', './sqs', './cdk']) {
      const target = packageJson.exports[subpath];
      expect(typeof target === 'object' && target.import.startsWith('./dist/')).toBe(true);
      // Without a condition that `require` matches, Node 22 answers ERR_PACKAGE_PATH_NOT_EXPORTED even though
      // it can load the ES module from `require` (22.12+).
      expect(typeof target === 'object' && target.default === target.import).toBe(true);
    }
  });
});
