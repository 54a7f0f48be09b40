/**
 * A real `redis-server` (Debian's package; `.ci/run` installs it) for the tests: bound to 127.0.0.1 on a free
 * port, in a temporary folder, started per test file and stopped at its end, like DynamoDB Local.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { GlideClient, Logger, Script } from '@valkey/valkey-glide';
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
      // node-redis emits connection errors as events (it reconnects by itself): every application listens.
      const client = await createClient({ socket: { host: '127.0.0.1', port: server.port } })
        .on('error', () => undefined)
        .connect();
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
      client.on('error', () => undefined);
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
      // GLIDE's core logs every reconnection at `warn` to stdout; the tests count their own faults.
      Logger.setLoggerConfig('error');
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

/** What a {@link startCuttingProxy} did. */
export interface CuttingProxy {
  readonly port: number;
  /** Cut nothing while false. */
  enabled: boolean;
  readonly stats: { connections: number; chunks: number; cutBeforeSend: number; cutReplyLost: number };
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `redis-server` that cuts connections mid-command, the fault a real
 * network produces and a server cannot be made to: for a `rate` of the chunks a client sends with a script in them (chosen by `random`,
 * seeded by the caller), either it closes both sockets before forwarding (the command never ran) or it forwards
 * the command and closes both sockets when the server answers (the command ran; the client never hears so).
 */
export async function startCuttingProxy(
  targetPort: number,
  rate: number,
  random: () => number,
): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  const stats = { connections: 0, chunks: 0, cutBeforeSend: 0, cutReplyLost: 0 };
  const proxy: { enabled: boolean } = { enabled: true };
  const server = createServer((downstream) => {
    stats.connections += 1;
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(downstream);
    sockets.add(upstream);
    let dropNextReply = false;
    const cut = () => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('data', (chunk) => {
      // Only chunks that carry a script (the store's commands) are cut: a client's handshake on a new
      // connection goes through, so each cut is one mid-command fault, not a cascade of failed reconnections.
      if (!/EVAL/i.test(chunk.toString('latin1'))) {
        upstream.write(chunk);
        return;
      }
      stats.chunks += 1;
      const roll = proxy.enabled ? random() : 1;
      if (roll < rate / 2) {
        stats.cutBeforeSend += 1;
        cut();
        return;
      }
      if (roll < rate) dropNextReply = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (dropNextReply) {
        stats.cutReplyLost += 1;
        cut();
        return;
      }
      downstream.write(chunk);
    });
    for (const socket of [downstream, upstream]) {
      socket.on('error', cut);
      socket.on('close', () => {
        sockets.delete(socket);
        cut();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return Object.assign(proxy, {
    port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
}
