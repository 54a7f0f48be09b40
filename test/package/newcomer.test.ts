/**
 * A newcomer's first hour, from the packed tarball: a fresh project outside the repository installs it with
 * the README's own install lines, then the README's own examples (read from its code blocks, so this cannot
 * drift from what a reader copies) compile, bundle and run, `require('idemkit')` works, and the `idemkit`
 * binary runs. Slow by nature (a build, `npm pack`, `npm install`), hence the per-test timeouts.
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const MINUTES = 60_000;

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to its end, without a shell, with this Node first on PATH. */
function run(command: string, args: readonly string[], options: SpawnOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...options,
      env: {
        ...(options.env ?? process.env),
        PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(command: string, args: readonly string[], options: SpawnOptions = {}): Promise<Ran> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}:\n${result.stderr.slice(-4000)}`);
  }
  return result;
}

/** The README's fenced code blocks whose info string is `<lang> <marker>`, e.g. ```ts example=http. */
function markedBlocks(lang: string, marker: RegExp): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const match of readme.matchAll(/^```(\S+)[ \t]+([^\n]+)\n([\s\S]*?)^```$/gm)) {
    const [, blockLang, info = '', body = ''] = match;
    const name = marker.exec(info.trim())?.[1];
    if (blockLang === lang && name !== undefined) blocks.set(name, body);
  }
  return blocks;
}

const examples = markedBlocks('ts', /^example=([\w-]+)$/);
const installLines = [...(markedBlocks('sh', /^(install)$/).get('install') ?? '').split('\n')]
  .map((line) => line.replace(/#.*$/, '').trim())
  .filter((line) => line.length > 0);

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const dynamoEndpoint = inject('dynamoEndpoint');
const awsEnv = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(AWS_|IDEMPOTENCY_|POWERTOOLS_)/.test(name)),
  ),
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
};
const ddb = new DynamoDBClient({
  endpoint: dynamoEndpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
let tableCount = 0;

async function freshTable(): Promise<string> {
  tableCount += 1;
  const name = `newcomer-${process.pid}-${Date.now()}-${tableCount}`;
  await ddb.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return name;
}

let work: string;
let project: string;
let tarball: string;
let packedFiles: string[];

/** `npm install` with the README's arguments, the package's name replaced by the packed tarball. */
async function install(line: string): Promise<void> {
  const [npm, verb, ...args] = line.split(/\s+/);
  expect([npm, verb]).toEqual(['npm', 'install']);
  const resolved = args.map((arg) => (arg === 'idemkit' ? tarball : arg));
  await ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...resolved], { cwd: project });
}

const idemkit = (args: readonly string[]) =>
  run(process.execPath, [join(project, 'node_modules/.bin/idemkit'), ...args], {
    cwd: project,
    env: awsEnv,
  });

const needsSqs = (line: string) => line.split(/\s+/).includes('@aws-sdk/client-sqs');

beforeAll(async () => {
  expect(installLines.length).toBeGreaterThan(0);
  work = mkdtempSync(join(tmpdir(), 'idemkit-newcomer-'));
  project = join(work, 'service');
  mkdirSync(join(project, 'src'), { recursive: true });
  await ok('npm', ['run', 'build'], { cwd: root });
  const packed = await ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: root,
  });
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  if (info === undefined) throw new Error('npm pack printed nothing');
  tarball = join(work, info.filename);
  packedFiles = info.files.map((file) => file.path);
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'newcomer-service', private: true, type: 'module' }, null, 2)}\n`,
  );
  // Everything the install section names, except the optional SQS client: the CLI is first run without it.
  for (const line of installLines.filter((line) => !needsSqs(line))) await install(line);
}, 10 * MINUTES);

afterAll(() => {
  ddb.destroy();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('ships every file the README links to, the LICENSE, and no source map pointing at unshipped sources', () => {
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((match) => match[1] as string)
      .filter((target) => !/^[a-z]+:/.test(target));
    expect(links.length).toBeGreaterThan(0);
    for (const target of links) expect(packedFiles, `README links ${target}`).toContain(target);
    expect(packedFiles).toContain('LICENSE');
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(packedFiles.filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(packedFiles.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
  });

  it('installs with the README install lines into a new project', () => {
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(manifest.dependencies.idemkit).toMatch(/\.tgz$/);
  });
});

describe('the idemkit binary, installed without @aws-sdk/client-sqs', () => {
  it('prints its version and help', async () => {
    const version = await idemkit(['--version']);
    expect(version).toMatchObject({ code: 0, stderr: '' });
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(manifest.version);
    const help = await idemkit(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['dlq', 'records', 'doctor']) expect(help.stdout).toContain(command);
    const listHelp = await idemkit(['records', 'list', '--help']);
    expect(listHelp.code).toBe(0);
    expect(listHelp.stdout).toContain('stuck');
  });

  it.each([
    ['dlq', ['dlq', 'peek', 'orders-dlq']],
    ['doctor', ['doctor', '--table', 'idempotency']],
  ])('says in one line that `%s` needs the SQS client and how to install it', async (_name, args) => {
    const result = await idemkit(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('@aws-sdk/client-sqs');
    expect(lines[0]).toContain('npm install @aws-sdk/client-sqs');
  });

  it('runs the records commands, whose DynamoDB client is installed', async () => {
    const table = await freshTable();
    const endpoint = ['--endpoint', dynamoEndpoint];
    const got = await idemkit([
      'records',
      'get',
      '--table',
      table,
      '--org',
      'acme',
      '--scope',
      'create-order',
      '--key',
      'order-1',
      ...endpoint,
    ]);
    expect(got.stderr).not.toContain('not installed');
    expect(got.stderr).toMatch(/no record/i);
    const listed = await idemkit([
      'records',
      'list',
      '--table',
      table,
      '--org',
      'acme',
      '--json',
      ...endpoint,
    ]);
    expect(listed).toMatchObject({ code: 0 });
    expect(JSON.parse(listed.stdout)).toBeTruthy();
  });
});

describe('require("idemkit") on Node 22', () => {
  it('loads every entry point from CommonJS (no top-level await in their module graphs)', async () => {
    const script = `
      const entries = ['idemkit', 'idemkit/dynamodb', 'idemkit/middy', 'idemkit/sqs', 'idemkit/cdk'];
      const out = {};
      for (const entry of entries) out[entry] = Object.keys(require(entry)).sort();
      console.log(JSON.stringify(out));
    `;
    const result = await ok(process.execPath, ['--input-type=commonjs', '-e', script], { cwd: project });
    const exported = JSON.parse(result.stdout) as Record<string, string[]>;
    expect(exported.idemkit).toEqual(expect.arrayContaining(['makeIdempotent', 'MemoryStore']));
    expect(exported['idemkit/dynamodb']).toContain('DynamoDBStore');
    expect(exported['idemkit/middy']).toContain('httpIdempotency');
    expect(exported['idemkit/sqs']).toContain('sqsJobs');
    expect(exported['idemkit/cdk']).toEqual(expect.arrayContaining(['IdempotencyTable', 'JobQueue']));
  });
});

describe("the README's examples, in the new project", () => {
  const names = ['http', 'make-idempotent', 'sqs', 'cdk'];

  beforeAll(() => {
    expect([...examples.keys()].sort()).toEqual([...names].sort());
    for (const [name, source] of examples) writeFileSync(join(project, 'src', `${name}.ts`), source);
    writeFileSync(join(project, 'harness.mjs'), HARNESS);
  });

  it.each([
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
    ['node16', { module: 'node16', moduleResolution: 'node16' }],
  ])(
    'compile under strict with moduleResolution %s',
    async (name, resolution) => {
      const config = {
        compilerOptions: {
          ...resolution,
          target: 'es2022',
          strict: true,
          types: ['node'],
          noEmit: true,
          skipLibCheck: false,
        },
        include: ['src'],
      };
      writeFileSync(join(project, `tsconfig.${name}.json`), JSON.stringify(config, null, 2));
      const result = await run(
        process.execPath,
        [join(project, 'node_modules/.bin/tsc'), '-p', `tsconfig.${name}.json`],
        {
          cwd: project,
        },
      );
      // Library checking stays on so that idemkit's own declarations are checked too; a third party's
      // (@middy/core names an optional peer of its own) is not ours to judge.
      const ours = (result.stdout + result.stderr)
        .split('\n')
        .filter((line) => /error TS/.test(line))
        .filter((line) => !line.startsWith('node_modules/') || line.startsWith('node_modules/idemkit/'));
      expect(ours).toEqual([]);
    },
    5 * MINUTES,
  );

  const formats = [
    ['esm', 'mjs'],
    ['cjs', 'cjs'],
  ] as const;

  /** Bundles one example as a Lambda would be (AWS SDK and the CDK left out), then runs it in a child. */
  async function bundleAndRun(name: string, format: 'esm' | 'cjs', ext: string, env: Record<string, string>) {
    const outfile = join(project, 'out', `${name}.${ext}`);
    const result = await build({
      absWorkingDir: project,
      entryPoints: [join(project, 'src', `${name}.ts`)],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format,
      external: ['@aws-sdk/*', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const summary = join(project, 'out', `${name}.${ext}.json`);
    const ran = await run(process.execPath, [join(project, 'harness.mjs'), name, outfile, summary], {
      cwd: project,
      env: { ...awsEnv, ...env },
    });
    if (ran.code !== 0)
      throw new Error(`the ${name} example (${format}) failed:\n${ran.stderr.slice(-4000)}`);
    return JSON.parse(readFileSync(summary, 'utf8')) as Record<string, unknown>;
  }

  describe.each(formats)('bundled with esbuild to %s', (format, ext) => {
    it(
      'http: the first request runs, the retry replays the stored response',
      async () => {
        const summary = await bundleAndRun('http', format, ext, { IDEMPOTENCY_TABLE: await freshTable() });
        expect(summary).toEqual({
          first: { statusCode: 201, replayed: false },
          retry: { statusCode: 201, replayed: true },
          sameBody: true,
        });
      },
      2 * MINUTES,
    );

    it(
      'make-idempotent: the same payment charges once, another payment charges again',
      async () => {
        const summary = await bundleAndRun('make-idempotent', format, ext, {
          IDEMPOTENCY_TABLE: await freshTable(),
        });
        expect(summary).toEqual({ sameResultForSameKey: true, newResultForNewKey: true });
      },
      2 * MINUTES,
    );

    it(
      'sqs: a batch of 10 records carrying 3 jobs completes 3 jobs, and again nothing fails',
      async () => {
        const table = await freshTable();
        const summary = await bundleAndRun('sqs', format, ext, { IDEMPOTENCY_TABLE: table });
        expect(summary).toEqual({ failures: [0, 0], completedJobs: 3 });
      },
      2 * MINUTES,
    );

    it(
      'cdk: the stack synthesizes a table, a queue with its DLQ and both functions',
      async () => {
        const summary = await bundleAndRun('cdk', format, ext, {
          CDK_OUTDIR: join(work, `cdk.out-${format}`),
        });
        expect(summary).toMatchObject({
          'AWS::DynamoDB::Table': 1,
          'AWS::SQS::Queue': 2,
          'AWS::Lambda::Function': 2,
          'AWS::Lambda::EventSourceMapping': 1,
        });
      },
      3 * MINUTES,
    );
  });
});

describe('the idemkit binary, after the README line that installs @aws-sdk/client-sqs', () => {
  beforeAll(async () => {
    const lines = installLines.filter(needsSqs);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) await install(line);
  }, 5 * MINUTES);

  it.each([
    ['dlq', 'peek', 'orders-dlq'],
    ['dlq', 'status', '--from', 'orders-dlq'],
    ['dlq', 'cancel', '--from', 'orders-dlq'],
    ['dlq', 'replay', '--from', 'orders-dlq', '--yes'],
    ['records', 'get', '--table', 'idempotency', '--org', 'acme', '--scope', 'create-order', '--key', 'k'],
    ['records', 'list', '--table', 'idempotency', '--org', 'acme'],
    [
      'records',
      'release',
      '--table',
      'idempotency',
      '--org',
      'acme',
      '--scope',
      'create-order',
      '--key',
      'k',
      '--yes',
    ],
  ])('runs `%s %s`: against an unreachable endpoint it says so in one line', async (...args) => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const result = await idemkit([...args, '--endpoint', endpoint]);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('not installed');
    expect(result.stderr).toContain(`Could not reach ${endpoint}`);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('says in one line that `invoke` needs a checkout of idemkit', async () => {
    const result = await idemkit(['invoke', 'handler.ts', 'event.json']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining('checkout of idemkit')]);
  });

  it('runs `doctor` against the table', async () => {
    const table = await freshTable();
    const result = await idemkit(['doctor', '--table', table, '--endpoint', dynamoEndpoint]);
    expect(result.stderr).not.toContain('not installed');
    expect(result.stdout).toMatch(/PASS\s+key schema/);
  });
});

/**
 * Runs one bundled example the way Lambda would call it, with the events the tarball ships, and writes what
 * happened (never a key or a payload) as JSON. Argument: example name, bundle, summary file.
 */
const HARNESS = `
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';

const [name, bundle, summaryFile] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const mod = bundle.endsWith('.cjs') ? require(bundle) : await import(pathToFileURL(bundle).href);
const event = (file) => JSON.parse(readFileSync(new URL('node_modules/idemkit/events/' + file, pathToFileURL(process.cwd() + '/')), 'utf8'));
const context = () => ({
  functionName: 'newcomer', functionVersion: '$LATEST', awsRequestId: crypto.randomUUID(),
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:newcomer', memoryLimitInMB: '128',
  logGroupName: '/aws/lambda/newcomer', logStreamName: 'local', callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 10_000, done() {}, fail() {}, succeed() {},
});
let summary;
if (name === 'http') {
  const request = event('apigw-http-api-v2.json');
  const first = await mod.handler(structuredClone(request), context());
  const retry = await mod.handler(structuredClone(request), context());
  const replayed = (r) => Object.entries(r.headers ?? {}).some(([k, v]) => k.toLowerCase() === 'idempotent-replayed' && v === 'true');
  summary = {
    first: { statusCode: first.statusCode, replayed: replayed(first) },
    retry: { statusCode: retry.statusCode, replayed: replayed(retry) },
    sameBody: first.body === retry.body,
  };
} else if (name === 'make-idempotent') {
  const payment = { orgId: 'acme', paymentId: 'pay-' + crypto.randomUUID(), amountCents: 4200 };
  const a = await mod.charge(payment);
  const b = await mod.charge({ ...payment });
  const c = await mod.charge({ ...payment, paymentId: 'pay-' + crypto.randomUUID() });
  summary = { sameResultForSameKey: a.chargeId === b.chargeId, newResultForNewKey: c.chargeId !== a.chargeId };
} else if (name === 'sqs') {
  const batch = event('sqs-standard-batch.json');
  const failures = [];
  for (let i = 0; i < 2; i++) failures.push((await mod.handler(structuredClone(batch), context())).batchItemFailures.length);
  const ddb = new DynamoDBClient({});
  const items = (await ddb.send(new ScanCommand({ TableName: process.env.IDEMPOTENCY_TABLE }))).Items ?? [];
  summary = { failures, completedJobs: items.filter((item) => item.status?.S === 'COMPLETED').length };
} else if (name === 'cdk') {
  const { App } = require('aws-cdk-lib');
  const app = new App({ outdir: process.env.CDK_OUTDIR });
  const stack = new mod.OrdersStack(app, 'Orders');
  const template = app.synth().getStackByName(stack.stackName).template;
  summary = {};
  for (const resource of Object.values(template.Resources)) summary[resource.Type] = (summary[resource.Type] ?? 0) + 1;
}
writeFileSync(summaryFile, JSON.stringify(summary));
`;
