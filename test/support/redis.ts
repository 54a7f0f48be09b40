/**
 * A real `redis-server` (Debian's package; `.ci/run` installs it) for the tests: bound to 127.0.0.1 on a free
 * port, in a temporary folder, started per test file and stopped at its end, like DynamoDB Local.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { GlideClient, Script } from '@valkey/valkey-glide';
import { Redis } from 'ioredis';
import { Valkey } from 'iovalkey';
import {
  ioredisClient,
  nodeRedisClient,
  type RedisScriptClient,
  valkeyGlideClient,
} from '../../src/stores/redis.js';
import { freePort } from './dynamodb-local.js';

/** A running `redis-server`. */
export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly url: string;
  /** The folder it keeps its AOF and RDB files in. */
  readonly dir: string;
  readonly pid: number;
  /** SIGKILL: what a crash does (nothing is flushed). Resolves when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM, as an orderly shutdown; resolves when it exited. */
  stop(): Promise<void>;
}

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Listen on this port. @default a free port */
  readonly port?: number;
  /** Keep data in this folder (reuse it to restart with the same data). @default a new temporary folder */
  readonly dir?: string;
  /** `appendonly yes` with `appendfsync always`: every acknowledged write is on disk. @default false (no persistence) */
  readonly appendOnly?: boolean;
}

/** Whether `redis-server` is on PATH. */
export function hasRedisServer(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

/**
 * Starts `redis-server` and waits until it answers `PING` (no start-up deadline of its own: it ends when the
 * server answers or when its process exits).
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (!hasRedisServer()) {
    throw new Error(
      'The Redis tests need `redis-server` on PATH. Install it with `apt-get install -y redis-server` (.ci/run does).',
    );
  }
  const port = options.port ?? (await freePort());
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'idemkit-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--daemonize',
    'no',
    '--protected-mode',
    'yes',
    '--loglevel',
    'warning',
    '--appendonly',
    options.appendOnly === true ? 'yes' : 'no',
    ...(options.appendOnly === true ? ['--appendfsync', 'always'] : []),
  ];
  const child = tied('redis-server', args);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let delayMs = 10;
  while (!(await answersPing(port))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      process.removeListener('exit', killOnExit);
      throw new Error(`redis-server exited before answering on port ${port}:\n${output || '(no output)'}`);
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, delayMs)), exited]);
    delayMs = Math.min(250, delayMs * 2);
  }
  const end = async (signal: NodeJS.Signals) => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    pid: child.pid ?? 0,
    kill: () => end('SIGKILL'),
    async stop() {
      await end('SIGTERM');
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One `PING` over a fresh socket: true when the server answers `+PONG`. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}

/** Spawns so that the child dies with this process, even on SIGKILL (`setpriv --pdeathsig`, where it exists). */
function tied(command: string, args: string[]): ChildProcess {
  const setpriv =
    process.platform === 'linux' &&
    spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;
  return setpriv
    ? spawn('setpriv', ['--pdeathsig', 'KILL', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A connected client of one supported library, through its adapter, and how to close it. */
export interface ConnectedClient {
  readonly name: string;
  readonly adapter: RedisScriptClient;
  /** Runs a plain command (for tests that inspect or damage what the server holds). */
  command(args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

/** The client libraries the store supports and the tests run against. */
export const CLIENT_LIBRARIES = ['node-redis', 'ioredis', 'iovalkey', 'valkey-glide'] as const;
export type ClientLibrary = (typeof CLIENT_LIBRARIES)[number];

/** Connects one of {@link CLIENT_LIBRARIES} to `server` (or to `port` on 127.0.0.1). */
export async function connectClient(
  library: ClientLibrary,
  server: { readonly port: number },
): Promise<ConnectedClient> {
  switch (library) {
    case 'node-redis': {
      const client = await createClient({ socket: { host: '127.0.0.1', port: server.port } }).connect();
      return {
        name: library,
        adapter: nodeRedisClient(client),
        command: (args) => client.sendCommand(args),
        close: async () => {
          client.destroy();
        },
      };
    }
    case 'ioredis':
    case 'iovalkey': {
      const options = { host: '127.0.0.1', port: server.port, lazyConnect: true };
      const client = library === 'ioredis' ? new Redis(options) : new Valkey(options);
      await client.connect();
      return {
        name: library,
        adapter: ioredisClient(client),
        command: (args) => client.call(args[0] ?? '', ...args.slice(1)),
        close: async () => {
          client.disconnect();
        },
      };
    }
    case 'valkey-glide': {
      const client = await GlideClient.createClient({
        addresses: [{ host: '127.0.0.1', port: server.port }],
      });
      return {
        name: library,
        adapter: valkeyGlideClient(client, Script),
        command: (args) => client.customCommand(args),
        close: async () => {
          client.close();
        },
      };
    }
  }
}
