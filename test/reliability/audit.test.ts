/**
 * Scenario 9: `npm audit --omit=dev` reports no known vulnerability in the runtime dependencies. Without an
 * answering audit endpoint (no network, or a registry mirror without the advisories API) it prints a notice
 * and checks nothing, since the result would say nothing about the dependencies.
 */
import { spawnSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm audit --omit=dev', () => {
  it('finds no known vulnerability in the runtime dependencies when the registry answers', () => {
    const audit = spawnSync(
      'npm',
      ['audit', '--omit=dev', '--json', '--fetch-timeout=15000', '--fetch-retries=0'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    let parsed: {
      metadata?: { vulnerabilities?: Record<string, number> };
      message?: string;
      error?: unknown;
    } = {};
    try {
      parsed = JSON.parse(audit.stdout || '{}');
    } catch {
      parsed = {};
    }
    const counts = parsed.metadata?.vulnerabilities;
    if (counts === undefined) {
      const why =
        parsed.message ??
        (audit.stderr || audit.error?.message || 'no answer').split('\n').find((l) => l.includes('error')) ??
        'no answer';
      writeSync(
        2,
        `[reliability] 9-npm-audit NOT CHECKED: the registry's audit endpoint did not answer (${why}).\n`,
      );
      return;
    }
    writeSync(2, `[reliability] 9-npm-audit ${JSON.stringify(counts)}\n`);
    expect(counts.total).toBe(0);
  }, 90_000);
});
