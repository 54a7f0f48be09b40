import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Signal } from '../../src/core/telemetry.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The text of one `## ` section of the README, up to the next. */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start, `README has a "${title}" section`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

describe('the README', () => {
  it('lists every signal idemkit logs and counts, and no other', () => {
    const text = section('What is logged and counted');
    const listed = [...text.matchAll(/^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|/gm)].flatMap((match) =>
      match.slice(1).filter((name): name is string => name !== undefined),
    );
    expect(listed.sort()).toEqual(Object.values(Signal).sort());
  });
});
