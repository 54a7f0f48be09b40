import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { dynamoDBLocalJar, freePort, LOCAL_CLIENT_CONFIG } from '../../test/support/dynamodb-local.js';

/** A DynamoDB Local the bench owns: its endpoint, and a stop that also runs on exit, Ctrl-C and errors. */
export interface BenchDynamoDB {
  readonly endpoint: string;
  readonly version: string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let hooked = false;

// The test helper's `stop()` is async, which a process `exit` handler cannot await; the bench keeps the child
// itself so that a synchronous SIGKILL on exit leaves no java process behind whatever ends the run.
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const child of running) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

/** Starts Amazon's DynamoDB Local in memory on a free port, with the same JVM flags as the test suite. */
export async function startBenchDynamoDB(): Promise<BenchDynamoDB> {
  hookExit();
  const { jar, libraryPath } = dynamoDBLocalJar();
  const port = await freePort();
  const workDir = mkdtempSync(join(tmpdir(), 'idemkit-bench-ddb-'));
  const child = spawn(
    'java',
    [
      '-Xms64m',
      '-Xmx512m',
      `-Djava.library.path=${libraryPath}`,
      '-jar',
      jar,
      '-inMemory',
      '-sharedDb',
      '-port',
      String(port),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: workDir },
  );
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
    rmSync(workDir, { recursive: true, force: true });
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint, maxAttempts: 1 });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`DynamoDB Local exited with code ${child.exitCode}: ${stderr}`);
      try {
        await client.send(new ListTablesCommand({}));
        break;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local did not answer on ${endpoint}: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  return { endpoint, version: jar.split('/').at(-2) ?? 'unknown', stop };
}
