import { afterAll, describe, expect, it } from 'vitest';
import {
  alive,
  commandOf,
  isLoopback,
  listening,
  listeningAddresses,
  type NodeProcess,
  processTree,
  startNpm,
  stopAll,
} from './processes.js';

/** A running `npm start`: its processes (npm, node, the JVM) and the URLs it printed. */
interface Started {
  readonly npm: NodeProcess;
  readonly npmPid: number;
  readonly nodePid: number;
  readonly tree: readonly number[];
  readonly urls: readonly string[];
}

/** `npm start` exactly as a user runs it, on free ports, waited for until its banner's last line. */
async function startPlayground(ownProcessGroup = false): Promise<Started> {
  const npm = startNpm(
    ['start'],
    {
      PORT: '0',
      PLAYGROUND_DYNAMODB_PORT: '0',
      PLAYGROUND_SQS_PORT: '0',
      PLAYGROUND_DYNAMODB: 'dynamodb-local',
    },
    { ownProcessGroup },
  );
  await npm.waitFor(/Ctrl-C stops every server/);
  const output = npm.output();
  const urls = [
    /ready in \d+ ms: (http:\/\/\S+)/,
    /DynamoDB \(dynamodb-local\) (http:\/\/\S+)/,
    /SQS \(fauxqs\) (http:\/\/\S+)/,
  ].map((pattern) => output.match(pattern)?.[1] ?? '');
  const npmPid = npm.child.pid ?? 0;
  const tree = processTree(npmPid);
  const nodePid = tree.find((pid) => commandOf(pid).includes('playground/main.ts')) ?? 0;
  // A pid of 0 would signal the test's own process group: fail instead.
  expect(npmPid, 'npm pid').toBeGreaterThan(0);
  expect(nodePid, `node pid among ${tree.map(commandOf).join(' | ')}`).toBeGreaterThan(0);
  return { npm, npmPid, nodePid, tree, urls };
}

/** Waits until no process of `tree` is alive; only the test's timeout bounds it. */
async function allGone(tree: readonly number[]): Promise<void> {
  let delayMs = 25;
  while (tree.some(alive)) {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(250, delayMs * 2);
  }
}

async function expectStoppedCompletely(started: Started): Promise<void> {
  await allGone(started.tree);
  expect(started.tree.filter(alive).map(commandOf)).toEqual([]);
  for (const url of started.urls) expect(await listening(url), url).toBe(false);
}

describe('npm start', () => {
  afterAll(stopAll);

  it('runs npm, node and the JVM, and listens on 127.0.0.1 only', async () => {
    const started = await startPlayground();
    try {
      const commands = started.tree.map(commandOf);
      expect(commands.some((command) => command.includes('playground/main.ts'))).toBe(true);
      expect(commands.some((command) => command.includes('LoopbackDynamoDBLocal'))).toBe(true);
      for (const url of started.urls) expect(await listening(url), url).toBe(true);
      const addresses = listeningAddresses(processTree(started.npmPid));
      // The API, fauxqs, the handlers' SQS proxy and DynamoDB Local.
      expect(addresses.length, addresses.join(' ')).toBeGreaterThanOrEqual(4);
      expect(addresses.filter((address) => !isLoopback(address))).toEqual([]);
    } finally {
      process.kill(started.npmPid, 'SIGINT');
      await expectStoppedCompletely(started);
    }
  }, 180_000);

  for (const [target, signal] of [
    ['npm', 'SIGINT'],
    ['npm', 'SIGTERM'],
    ['node', 'SIGINT'],
    ['node', 'SIGTERM'],
  ] as const) {
    it(`stops completely, leaving no process and no open port, on ${signal} to ${target}`, async () => {
      const started = await startPlayground();
      process.kill(target === 'npm' ? started.npmPid : started.nodePid, signal);
      await expectStoppedCompletely(started);
      expect(started.npm.output()).toContain('stopped: no server left running.');
    }, 180_000);
  }

  it('stops completely on Ctrl-C: a SIGINT to the whole foreground process group, as a terminal sends it', async () => {
    const started = await startPlayground(true);
    process.kill(-started.npmPid, 'SIGINT');
    await expectStoppedCompletely(started);
    expect(started.npm.output()).toContain('stopped: no server left running.');
  }, 180_000);

  it('stops completely when its parent dies (npm killed with SIGKILL)', async () => {
    const started = await startPlayground();
    process.kill(started.npmPid, 'SIGKILL');
    await expectStoppedCompletely(started);
  }, 180_000);

  it('takes the JVM down with it even when node itself is killed with SIGKILL', async () => {
    const started = await startPlayground();
    process.kill(started.nodePid, 'SIGKILL');
    await expectStoppedCompletely(started);
  }, 180_000);
});
