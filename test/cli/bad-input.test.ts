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

  it('a query that does not parse, with where', async () => {
    expectOneLine(
      await idemkit([
        'dlq',
        'replay',
        '--from',
        'bad-input-dlq',
        '--to',
        'x',
        '--query',
        "body.type = 'order'",
        '--endpoint',
        endpoint,
      ]),
      2,
      /^idemkit: Expected `--query` to be a JMESPath expression, got the unknown token "=" \(compare with `==`\) at column 11 of "body.type = 'order'"; e\.g\. /,
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

describe('each command refuses a misspelt flag, a missing required flag and conflicting flags in one line, exit 2', () => {
  // Nothing here reaches a server: commander's checks run before any command does.
  const cases: [string, string[], RegExp][] = [
    [
      'dlq replay, misspelt',
      ['dlq', 'replay', '--from', 'q', '--quer', 'x'],
      /^idemkit: unknown option '--quer' \(Did you mean --query\?\); run `idemkit dlq replay --help`/,
    ],
    [
      'dlq replay, missing',
      ['dlq', 'replay', '--max', '3'],
      /^idemkit: Missing `--from` \(the dead-letter queue .*\); run `idemkit dlq replay --help` for an example\.$/,
    ],
    [
      'dlq replay, conflicting',
      ['dlq', 'replay', '--from', 'q', '--native', '--keep'],
      /^idemkit: `--(native|keep)` cannot be combined with `--(keep|native)`; drop one of them \(run `idemkit dlq replay --help`/,
    ],
    [
      'dlq peek, misspelt',
      ['dlq', 'peek', 'q', '--show-body'],
      /^idemkit: unknown option '--show-body' \(Did you mean --show-bodies\?\); run `idemkit dlq peek --help`/,
    ],
    [
      'dlq peek, missing',
      ['dlq', 'peek', '--max', '3'],
      /^idemkit: missing required argument 'dlq'; run `idemkit dlq peek --help`/,
    ],
    [
      'dlq status, misspelt',
      ['dlq', 'status', '--frm', 'q'],
      /^idemkit: unknown option '--frm' \(Did you mean --from\?\)/,
    ],
    ['dlq status, missing', ['dlq', 'status'], /^idemkit: Missing `--from` .*`idemkit dlq status --help`/],
    [
      'dlq cancel, misspelt',
      ['dlq', 'cancel', '--task-handel', 'h'],
      /^idemkit: unknown option '--task-handel' \(Did you mean --task-handle\?\)/,
    ],
    [
      'dlq cancel, missing',
      ['dlq', 'cancel'],
      /^idemkit: Expected one of `--from <dlq>` or `--task-handle <handle>`/,
    ],
    [
      'dlq cancel, conflicting',
      ['dlq', 'cancel', '--from', 'q', '--task-handle', 'h'],
      /^idemkit: `--(task-handle|from)` cannot be combined with `--(from|task-handle)`; drop one of them/,
    ],
    ...(['get', 'release'] as const).flatMap((command): [string, string[], RegExp][] => [
      [
        `records ${command}, misspelt`,
        ['records', command, '--table', 't', '--org', 'acme', '--scpoe', 's'],
        /^idemkit: unknown option '--scpoe' \(Did you mean --scope\?\)/,
      ],
      [
        `records ${command}, missing`,
        ['records', command, '--table', 't', '--pk', 'acme#s#d'],
        new RegExp(
          `^idemkit: Missing \`--org\` \\(the tenant.*\\); run \`idemkit records ${command} --help\``,
        ),
      ],
      [
        `records ${command}, conflicting`,
        ['records', command, '--table', 't', '--org', 'acme', '--key', 'k', '--pk', 'acme#s#d'],
        /^idemkit: `--(pk|key)` cannot be combined with `--(key|pk)`; drop one of them/,
      ],
    ]),
    [
      'records list, misspelt',
      ['records', 'list', '--table', 't', '--org', 'acme', '--limt', '3'],
      /^idemkit: unknown option '--limt' \(Did you mean --limit\?\)/,
    ],
    [
      'records list, missing',
      ['records', 'list', '--org', 'acme'],
      /^idemkit: Missing `--table` .*`idemkit records list --help`/,
    ],
    [
      'records list, conflicting',
      ['records', 'list', '--table', 't', '--org', 'acme', '--max-items', '5', '--all'],
      /^idemkit: `--(max-items|all)` cannot be combined with `--(all|max-items)`; drop one of them/,
    ],
    [
      'records sweep, misspelt',
      ['records', 'sweep', '--table', 't', '--dry-rn'],
      /^idemkit: unknown option '--dry-rn' \(Did you mean --dry-run\?\)/,
    ],
    [
      'records sweep, missing',
      ['records', 'sweep', '--dry-run'],
      /^idemkit: Missing `--table` .*`idemkit records sweep --help`/,
    ],
    [
      'doctor, misspelt',
      ['doctor', '--table', 't', '--sqs-endpiont', 'http://x'],
      /^idemkit: unknown option '--sqs-endpiont' \(Did you mean --sqs-endpoint\?\)/,
    ],
    ['doctor, missing', ['doctor', '--dlq', 'q'], /^idemkit: Missing `--table` .*`idemkit doctor --help`/],
    [
      'doctor, conflicting',
      ['doctor', '--table', 't', '--all', '--max-items', '9'],
      /^idemkit: `--(max-items|all)` cannot be combined with `--(all|max-items)`; drop one of them/,
    ],
  ];
  it.each(cases)('%s', async (_, args, pattern) => {
    expectOneLine(await idemkit([...args, '--endpoint', 'http://127.0.0.1:9']), 2, pattern);
  });

  it('reports a misspelt flag before the required flag it was meant to be', async () => {
    expectOneLine(
      await idemkit(['records', 'list', '--tabel', 't', '--org', 'acme']),
      2,
      /^idemkit: unknown option '--tabel' \(Did you mean --table\?\)/,
    );
  });
});

describe('the help says what an operator must know before running a command', () => {
  /** The help text with its line wrapping undone (commander wraps to the terminal's width). */
  const help = async (...command: string[]) =>
    (await idemkit([...command, '--help'])).stdout.replace(/\s+/g, ' ');

  it('dlq peek says that it raises the receive count, and that bodies are hidden', async () => {
    const text = await help('dlq', 'peek');
    expect(text).toContain(
      "SQS cannot read a message without receiving it: each peek raises every shown message's receive count",
    );
    expect(text).toContain('--show-bodies');
  });

  it('doctor documents --sqs-endpoint', async () => {
    expect(await help('doctor')).toContain(
      '--sqs-endpoint <url> SQS endpoint for --queue and --dlq when it differs from --endpoint',
    );
  });
});

describe('the top-level --help lists every command', () => {
  it('names each subcommand with its summary, and not `invoke`, which lives in the repository', async () => {
    const result = await idemkit(['--help']);
    expect(result.code).toBe(0);
    for (const command of [
      'dlq replay',
      'dlq peek',
      'dlq status',
      'dlq cancel',
      'records get',
      'records list',
      'records release',
      'records sweep',
      'doctor',
    ]) {
      expect(result.stdout).toMatch(new RegExp(`^  idemkit ${command} +\\S`, 'm'));
    }
    expect(result.stdout).not.toContain('invoke');
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
    ['records', 'sweep'],
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
