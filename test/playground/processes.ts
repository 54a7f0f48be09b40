import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A child `node --import tsx <script>` with its output collected, stopped by the test that started it. */
export interface NodeProcess {
  readonly child: ChildProcess;
  /** stdout and stderr, interleaved as they arrived. */
  output(): string;
  /**
   * Resolves with the first match of `pattern` in the output; rejects if the process exits first, or after
   * `timeoutMs` when given (without it, only the test's own timeout bounds the wait).
   */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends `signal` and waits for the exit; SIGKILL after 15 s. Safe to call when already exited. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

const running = new Set<NodeProcess>();

/**
 * Every playground a test starts records itself in a file of its own, never in the checkout's
 * `.cache/playground/state.json`, which belongs to a `npm start` the developer may be running beside.
 */
function ownStateFile(): Record<string, string> {
  return {
    PLAYGROUND_STATE_FILE: join(tmpdir(), `idemkit-playground-${randomUUID()}.json`),
    // Free ports unless a test names its own: test files run side by side, and the defaults (8000, 9324) are
    // the README's, for one `npm start` at a time.
    PLAYGROUND_DYNAMODB_PORT: '0',
    PLAYGROUND_SQS_PORT: '0',
  };
}

/** Starts a script of this repository under tsx, as `npm start` / `npm run demo` do. */
export function startNode(script: string, env: Record<string, string | undefined> = {}): NodeProcess {
  return track(
    spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...ownStateFile(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/**
 * Runs `npm <args>` in this repository as a user types it, with this Node first on PATH (npm runs on it).
 *
 * @example
 * const playground = startNpm(['start'], { PORT: '0' });
 */
export function startNpm(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  options: { readonly ownProcessGroup?: boolean } = {},
): NodeProcess {
  const bin = dirname(process.execPath);
  return track(
    spawn('npm', args, {
      cwd: REPO_ROOT,
      // A process group of its own, as a terminal gives the command it runs: a Ctrl-C there is a SIGINT to
      // the whole group.
      detached: options.ownProcessGroup === true,
      env: { ...process.env, ...ownStateFile(), PATH: `${bin}:${process.env.PATH ?? ''}`, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

function track(child: ChildProcess): NodeProcess {
  let output = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (error) => {
      output += `\nspawn failed: ${error.message}\n`;
      resolve(`spawn failed: ${error.message}`);
    });
  });
  const handle: NodeProcess = {
    child,
    output: () => output,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (match !== null) {
            done();
            resolve(match);
          }
        };
        const timer =
          timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                done();
                reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${output}`));
              }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then((code) => {
          if (!listeners.has(check)) return;
          done();
          reject(new Error(`exited (${code}) before ${pattern}; output:\n${output}`));
        });
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(handle);
      return exited;
    },
  };
  running.add(handle);
  return handle;
}

/**
 * Kills every process a test started and did not stop, with all their descendants: for `afterAll`, so a
 * failed test leaves none.
 */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...running].map(async (handle) => {
      const tree = handle.child.pid === undefined ? [] : processTree(handle.child.pid);
      for (const pid of tree.slice(1)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await handle.stop('SIGKILL');
    }),
  );
}

/** Whether something accepts TCP connections at `url`'s host and port. */
export function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Every live process id under `root` (itself included), read from /proc: children, grandchildren... */
export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command may hold spaces or parentheses: the fields after the last ')' are fixed.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z') {
        parents.set(Number(entry), Number(fields[1]));
        startTimes.set(Number(entry), fields[19] ?? '');
      }
    } catch {
      // exited while listing
    }
  }
  const tree = [root];
  for (let index = 0; index < tree.length; index += 1) {
    for (const [pid, ppid] of parents) if (ppid === tree[index]) tree.push(pid);
  }
  return tree.filter((pid) => parents.has(pid));
}

// When each process a tree listed started (clock ticks since boot): on a busy machine pids are reused within
// minutes (pid_max may be 32768), and a new process under an old pid is not the one a test waits on.
const startTimes = new Map<number, string>();

/**
 * Whether `pid` is a live process (a zombie, already exited but not yet reaped, counts as gone), and the same
 * process a tree listed under that pid.
 */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const started = startTimes.get(pid);
    if (started !== undefined && fields[19] !== started) return false;
    return fields[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The command line of `pid`, for messages. */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '(gone)';
  }
}

/**
 * The local addresses (`127.0.0.1:3000`, `0.0.0.0:8000`, `[::]:9324`) on which the processes `pids` hold
 * a listening TCP socket, read from /proc/net/tcp and tcp6 and each process's open file descriptors.
 */
export function listeningAddresses(pids: readonly number[]): string[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match?.[1] !== undefined) inodes.add(match[1]);
      } catch {
        // closed while listing
      }
    }
  }
  const addresses: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, local, , state, , , , , , inode] = fields;
      if (state !== '0A' || inode === undefined || !inodes.has(inode) || local === undefined) continue;
      addresses.push(decodeAddress(local));
    }
  }
  return addresses;
}

/** `0100007F:0BB8` → `127.0.0.1:3000`; IPv6 as `[::ffff:127.0.0.1]:3000` or `[::]:3000`. */
function decodeAddress(hex: string): string {
  const [host = '', port = '0'] = hex.split(':');
  const portNumber = Number.parseInt(port, 16);
  const bytes = (host.match(/../g) ?? []).map((byte) => Number.parseInt(byte, 16));
  if (bytes.length === 4) return `${bytes.reverse().join('.')}:${portNumber}`;
  // IPv6: four little-endian 32-bit words.
  const words = [0, 1, 2, 3].flatMap((word) => bytes.slice(word * 4, word * 4 + 4).reverse());
  if (words.slice(0, 10).every((byte) => byte === 0) && words[10] === 255 && words[11] === 255) {
    return `[::ffff:${words.slice(12).join('.')}]:${portNumber}`;
  }
  if (words.every((byte) => byte === 0)) return `[::]:${portNumber}`;
  if (words.slice(0, 15).every((byte) => byte === 0) && words[15] === 1) return `[::1]:${portNumber}`;
  return `[${Buffer.from(words).toString('hex')}]:${portNumber}`;
}

/** Whether a listening address is on the loopback interface only. */
export function isLoopback(address: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|\[::ffff:127\.\d+\.\d+\.\d+\]|\[::1\]):\d+$/.test(address);
}
