import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CLIENT_CONFIG } from '../../playground/servers/dynamodb-local.js';
import { keyDigest } from '../../src/core/keys.js';
import { type NodeProcess, REPO_ROOT, startNpm, stopAll } from './processes.js';

/** The README's poison-job walkthrough: the fenced block after its marker comment, line by line. */
function readmeWalkthrough(): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- poison-job walkthrough:');
  expect(marker, 'the README marks its poison-job walkthrough').toBeGreaterThan(0);
  const block = /```sh\n([\s\S]*?)\n```/.exec(readme.slice(marker))?.[1] ?? '';
  return block.split('\n');
}

/** The README's URLs are the default ports; the test's playground runs on free ones. */
const README_ORIGINS = {
  api: 'http://127.0.0.1:3000',
  dynamodb: 'http://127.0.0.1:8000',
  sqs: 'http://127.0.0.1:9324',
} as const;

interface Run {
  readonly code: number | null;
  readonly output: string;
}

/** Runs one line in bash after the walkthrough's alias line, as a user pasting it into a shell would. */
function bash(alias: string, line: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const bin = dirname(process.execPath);
    const child = spawn('bash', ['-O', 'expand_aliases', '-c', `${alias}\n${line}`], {
      cwd: REPO_ROOT,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Runs `line` until `done` holds for its result; only the test's timeout bounds the repeats. */
async function runUntil(alias: string, line: string, done: (run: Run) => boolean): Promise<Run> {
  for (;;) {
    const run = await bash(alias, line);
    if (done(run)) return run;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe("the README's poison-job walkthrough, followed literally", () => {
  let playground: NodeProcess;
  let lines: string[];
  let origins: { api: string; dynamodb: string; sqs: string };

  beforeAll(async () => {
    playground = startNpm(['start'], {
      PORT: '0',
      PLAYGROUND_DYNAMODB_PORT: '0',
      PLAYGROUND_SQS_PORT: '0',
    });
    await playground.waitFor(/Ctrl-C stops every server/);
    const output = playground.output();
    origins = {
      api: output.match(/ready in \d+ ms: (http:\/\/\S+)/)?.[1] ?? '',
      dynamodb: output.match(/DynamoDB \(\S+\) (http:\/\/\S+)/)?.[1] ?? '',
      sqs: output.match(/SQS \(fauxqs\) (http:\/\/\S+)/)?.[1] ?? '',
    };
    lines = readmeWalkthrough().map((line) =>
      line
        .replaceAll(README_ORIGINS.api, origins.api)
        .replaceAll(README_ORIGINS.dynamodb, origins.dynamodb)
        .replaceAll(README_ORIGINS.sqs, origins.sqs),
    );
  }, 300_000);
  afterAll(stopAll);

  it("is the banner's walkthrough, command for command", () => {
    const banner = playground.output().split('\n');
    const start = banner.indexOf(lines[0] ?? '');
    expect(start, `the banner prints ${lines[0]}`).toBeGreaterThan(0);
    expect(banner.slice(start, start + lines.length)).toEqual(lines);
  });

  it('ends with the job FAILED, in the DLQ, replayed after the fix and completed exactly once', async () => {
    const [, alias = '', send, , failedRecord, , peek, , fix, replay, , completedRecord] = lines;
    expect(alias).toMatch(/^alias idemkit=/);

    const sent = await bash(alias, send ?? '');
    expect(sent.output).toMatch(/"messageId":"[\w-]+"/);

    // Until the record shows a final status: on a busy machine it may still be IN_PROGRESS at first.
    const failed = await runUntil(alias, failedRecord ?? '', (run) =>
      /^status\s+(FAILED|COMPLETED)$/m.test(run.output),
    );
    expect(failed.output).toMatch(/^status\s+FAILED$/m);

    const dead = await runUntil(alias, peek ?? '', (run) => run.output.includes('1 message(s) shown'));
    expect(dead.output).toContain('body: {"invoiceId":"inv-legacy-7","orderId":7}');
    expect(await depths(['idemkit-dev-invoice-jobs'])).toEqual([0]);

    expect((await bash(alias, fix ?? '')).output).toBe('{"fixed":true}');
    const replayed = await bash(alias, replay ?? '');
    expect(replayed.code, replayed.output).toBe(0);
    expect(replayed.output).toMatch(/1 selected, 1 moved/);

    const completed = await runUntil(alias, completedRecord ?? '', (run) =>
      /^status\s+COMPLETED$/m.test(run.output),
    );
    expect(completed.output).toMatch(/^attempt\s+2$/m);
    // Nothing left to deliver, so no later run can come: count the runs the playground logged.
    await waitUntil(async () =>
      (await depths(['idemkit-dev-invoice-jobs', 'idemkit-dev-invoice-jobs-dlq'])).every((n) => n === 0),
    );
    const digest = keyDigest('inv-legacy-7').slice(0, 10);
    const decisions = (signal: string) =>
      playground
        .output()
        .split('\n')
        .filter((line) =>
          new RegExp(`send-invoice-email\\s+${signal}\\s+org=acme key#${escapeRegExp(digest)}`).test(line),
        );
    expect(decisions('first_execution')).toHaveLength(2); // the failed run before the fix, one after
    expect(decisions('permanent_failure')).toHaveLength(1);
    expect(decisions('first_execution')[1]).toContain('attempt=2');
    expect(playground.output()).not.toMatch(/missing_key/);
  }, 300_000);

  async function depths(queues: readonly string[]): Promise<number[]> {
    const sqs = new SQSClient({
      ...LOCAL_CLIENT_CONFIG,
      endpoint: origins.sqs,
      useQueueUrlAsEndpoint: false,
    });
    try {
      return await Promise.all(
        queues.map(async (QueueName) => {
          const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName }));
          const { Attributes = {} } = await sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
            }),
          );
          return (
            Number(Attributes.ApproximateNumberOfMessages ?? 0) +
            Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
          );
        }),
      );
    } finally {
      sqs.destroy();
    }
  }
});

async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 200));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}
