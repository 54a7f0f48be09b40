import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { answer, type FaultProxy, startFaultProxy } from './fault-proxy.js';

const entry = new URL('../../src/client/index.ts', import.meta.url).pathname;
const folder = mkdtempSync(join(tmpdir(), 'idemkit-client-bundle-'));
let proxy: FaultProxy | undefined;
afterAll(async () => {
  await proxy?.stop();
  rmSync(folder, { recursive: true, force: true });
});

async function browserBundle() {
  return build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    minify: true,
    platform: 'browser',
    format: 'esm',
    target: ['chrome120', 'firefox121', 'safari17'],
    logLevel: 'silent',
  });
}

describe('idemkit/client in a browser bundle', () => {
  it('builds for platform browser from the client, the error family and the problem types only', async () => {
    const result = await browserBundle();
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(
      inputs.filter(
        (input) => !/^src\/(client\/|core\/errors\.ts|core\/messages\.ts|http\/problem\.ts)/.test(input),
      ),
    ).toEqual([]);
    const code = result.outputFiles[0]?.text ?? '';
    expect(code).not.toMatch(/node:|require\(/);
    // Small enough to ship to every page that calls the API (measured: 7.6 kB minified, 3.3 kB gzipped).
    expect(code.length).toBeLessThan(12_000);
  });

  it('runs as bundled: retries a 503 and returns the answer', async () => {
    let served = 0;
    proxy = await startFaultProxy(undefined, () =>
      ++served === 1
        ? answer(503)
        : {
            kind: 'answer',
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: '{"ok":true}',
          },
    );
    const file = join(folder, 'client.mjs');
    writeFileSync(file, (await browserBundle()).outputFiles[0]?.text ?? '');
    const bundled = (await import(pathToFileURL(file).href)) as typeof import('../../src/client/index.js');
    const api = new bundled.IdempotentClient({ baseUrl: proxy.url, baseDelayMs: 1 });
    const response = await api.fetch('/orders', { method: 'POST', body: '{}' });
    expect(await response.json()).toEqual({ ok: true });
    expect(proxy.requests.map((request) => request.key)).toEqual([
      proxy.requests[0]?.key,
      proxy.requests[0]?.key,
    ]);
  });
});
