import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, idemkit, startSqs } from './support.js';

let server: FauxqsServer;
let endpoint: string;

beforeAll(async () => {
  ({ server, endpoint } = await startSqs());
  server.createQueue('bad-input-dlq');
});

afterAll(async () => {
  await server.stop();
});

/** Asserts one line on stderr, no stack trace, the exit code. */
function expectOneLine(
  result: { code: number | null; stderr: string; stdout: string },
  code: number,
  pattern: RegExp,
) {
  expect(result.code).toBe(code);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('every bad input is one line naming the problem and the fix, and a non-zero exit', () => {
  it('an unknown command', async () => {
    expectOneLine(await idemkit(['replay']), 2, /^idemkit: unknown command 'replay'.*run `idemkit --help`/);
  });

  it('an unknown flag, with the flag it was probably meant to be', async () => {
    expectOneLine(
      await idemkit(['dlq', 'replay', '--form', 'x']),
      2,
      /^idemkit: unknown option '--form' \(Did you mean --from\?\); run `idemkit dlq replay --help`/,
    );
  });

  it('a missing required flag', async () => {
    expectOneLine(
      await idemkit(['records', 'list', '--table', 'idem']),
      2,
      /^idemkit: Missing `--org` .*`idemkit records list --help`/,
    );
  });

  it('a queue that does not exist', async () => {
    expectOneLine(
      await idemkit(['dlq', 'peek', 'no-such-dlq', '--endpoint', endpoint]),
      2,
      /^idemkit: The queue "no-such-dlq" given as `<dlq>` does not exist in us-east-1 at http:.*; check the name, `--region` and `--endpoint`\.$/,
    );
  });

  it('an endpoint nobody answers on', async () => {
    const port = await freePort();
    expectOneLine(
      await idemkit(['dlq', 'peek', 'bad-input-dlq', '--endpoint', `http://127.0.0.1:${port}`]),
      1,
      new RegExp(
        `^idemkit: Could not reach http://127.0.0.1:${port} \\(ECONNREFUSED\\); check \`--endpoint\``,
      ),
    );
  });

  it('a filter that does not parse', async () => {
    expectOneLine(
      await idemkit([
        'dlq',
        'replay',
        '--from',
        'bad-input-dlq',
        '--to',
        'x',
        '--filter',
        'body.type = order',
        '--endpoint',
        endpoint,
      ]),
      2,
      /^idemkit: Expected `--filter` to be a filter expression, got "order" where a value belongs \(quote text: "order"\) at column 13/,
    );
  });

  it('an org the library would reject', async () => {
    expectOneLine(
      await idemkit(['records', 'get', '--table', 'idem', '--org', 'acme#eu', '--scope', 's', '--key', 'k']),
      2,
      /^idemkit: Expected `--org` to be .*no `#`.*got "acme#eu"; pass the org exactly as the service sets it\.$/,
    );
  });

  it('a number flag that is not a number', async () => {
    expectOneLine(
      await idemkit(['dlq', 'replay', '--from', 'q', '--rate', 'fast']),
      2,
      /^idemkit: Expected `--rate` to be a number above 0, got "fast"\.$/,
    );
  });

  it('prints the stack trace only with --debug', async () => {
    const port = await freePort();
    const result = await idemkit([
      'dlq',
      'peek',
      'bad-input-dlq',
      '--endpoint',
      `http://127.0.0.1:${port}`,
      '--debug',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\n\s+at /);
  });
});

describe('--help on every command shows its flags with defaults and an example', () => {
  const commands = [
    ['dlq', 'replay'],
    ['dlq', 'status'],
    ['dlq', 'cancel'],
    ['dlq', 'peek'],
    ['records', 'get'],
    ['records', 'list'],
    ['records', 'release'],
    ['doctor'],
  ];
  it.each(commands)('%s %s', async (...command) => {
    const result = await idemkit([...command.filter((part) => typeof part === 'string'), '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--endpoint <url>');
    expect(result.stdout).toContain('(default:');
    expect(result.stdout).toMatch(/Example:\n {2}\$ idemkit /);
  });
});
