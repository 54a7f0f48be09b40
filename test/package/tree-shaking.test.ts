import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;

/** Whether a bundle carries `text` (asserted as a boolean, so a failure does not print the whole bundle). */
const carries = (bundle: string, text: string) => bundle.includes(text);

/** The minified bundle of a module that imports `name` from `from` and exports it, as a Lambda would bundle it. */
async function bundleOf(name: string, from: string): Promise<string> {
  const result = await build({
    stdin: { contents: `export { ${name} } from './${from}';`, resolveDir: root, loader: 'ts' },
    bundle: true,
    write: false,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    external: ['@aws-sdk/*', '@middy/core'],
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

// A message only the common options schema carries, and one only the HTTP door's schema carries.
const COMMON_SCHEMA = 'a large-result store (`new S3ResultStore(...)`';
const HTTP_SCHEMA = 'omitHeaders';

describe('option schemas a bundle never uses are left out of it', () => {
  it('the edge, which reads one function of the HTTP middleware, carries neither the HTTP nor the common schema', async () => {
    const bundle = await bundleOf('edgeIdempotency', 'src/edge/index.ts');
    expect(carries(bundle, 'edgeIdempotency')).toBe(true);
    expect(carries(bundle, COMMON_SCHEMA)).toBe(false);
    expect(carries(bundle, HTTP_SCHEMA)).toBe(false);
  });

  it('a module that resolves settings alone carries no door option schema', async () => {
    const bundle = await bundleOf('resolveSettings', 'src/core/settings.ts');
    expect(carries(bundle, 'IDEMPOTENCY_LOCK_TTL_S')).toBe(true);
    expect(carries(bundle, COMMON_SCHEMA)).toBe(false);
  });

  it('the HTTP middleware carries both, which it validates its options with', async () => {
    const bundle = await bundleOf('httpIdempotency', 'src/http/index.ts');
    expect(carries(bundle, COMMON_SCHEMA)).toBe(true);
    expect(carries(bundle, HTTP_SCHEMA)).toBe(true);
  });
});
