import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);

describe('idemkit/edge as a Lambda@Edge bundle', () => {
  it('is a subpath export of the ESM build', () => {
    const { exports } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
      exports: Record<string, { import: string; types: string }>;
    };
    expect(exports['./edge']).toMatchObject({
      import: './dist/src/edge/index.js',
      types: './dist/src/edge/index.d.ts',
    });
  });

  it('carries no CLI, CDK, job runner, sweep or Middy, and stays far under 1 MB with the AWS SDK inside', async () => {
    // Bundled whole, as IdempotencyEdgeFunction does: Lambda@Edge limits viewer-request code to 1 MB.
    const result = await build({
      entryPoints: [new URL('src/edge/index.ts', root).pathname],
      bundle: true,
      write: false,
      metafile: true,
      minify: true,
      platform: 'node',
      format: 'cjs',
      target: 'node22',
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    for (const pattern of [
      /commander/,
      /cli-progress/,
      /src\/cli\//,
      /aws-cdk-lib/,
      /infra\//,
      /src\/sqs\//,
      /src\/sweep\//,
      /@middy\//,
    ])
      expect(inputs.filter((input) => pattern.test(input))).toEqual([]);
    const bytes = result.outputFiles.reduce((sum, file) => sum + file.contents.byteLength, 0);
    expect(bytes).toBeLessThan(1024 * 1024);
  });
});
