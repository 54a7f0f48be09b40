import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the proxy does to one request:
 * - `pass`: forward it and relay the answer.
 * - `lose`: forward it, read the whole answer (the side effect happened), then cut the connection unanswered.
 * - `delay`: forward it, read the answer, and hold it until the caller gives up and closes the connection.
 * - `answer`: answer it without forwarding (the server never sees it).
 * - `cut`: close the connection without forwarding or answering.
 */
export type Fault =
  | { readonly kind: 'pass' }
  | { readonly kind: 'lose' }
  | { readonly kind: 'delay' }
  | { readonly kind: 'cut' }
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: string;
    };

export const pass: Fault = { kind: 'pass' };
export const lose: Fault = { kind: 'lose' };
export const delay: Fault = { kind: 'delay' };
export const cut: Fault = { kind: 'cut' };

/** A problem+json answer the proxy gives instead of the server. */
export function answer(status: number, headers: Record<string, string> = {}): Fault {
  return {
    kind: 'answer',
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
    body: JSON.stringify({ type: `https://proxy.test/${status}`, title: `injected ${status}`, status }),
  };
}

/** One request the proxy saw: enough to tell operations and attempts apart (the key stays in the test). */
export interface ProxiedRequest {
  readonly key: string | undefined;
  readonly correlationId: string | undefined;
  readonly method: string;
  readonly path: string;
  /** 1 for the first request with this key (or without one), then 2, 3... */
  readonly attempt: number;
  readonly fault: Fault['kind'];
  /** The server's status, for forwarded requests once answered. */
  upstreamStatus?: number;
}

/** A running fault proxy on 127.0.0.1. */
export interface FaultProxy {
  readonly url: string;
  readonly requests: ProxiedRequest[];
  /** The requests that carried `key`, in arrival order. */
  requestsFor(key: string): ProxiedRequest[];
  /** Resolves once `count` requests have arrived (however long that takes; the test's timeout bounds it). */
  waitForRequests(count: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a proxy in front of `target` (or in front of nothing, when every fault is `answer`) whose `plan`
 * decides each request's fault from its key and attempt number.
 *
 * @example
 * const proxy = await startFaultProxy(playgroundUrl, ({ attempt }) => (attempt === 1 ? lose : pass));
 */
export async function startFaultProxy(
  target: string | undefined,
  plan: (request: { key: string | undefined; attempt: number; method: string; path: string }) => Fault,
): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const attempts = new Map<string, number>();
  const waiters = new Set<() => void>();

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const closed = new Promise((resolve) => response.once('close', resolve));
    const body = await readAll(request);
    const key = header(request, 'idempotency-key');
    const attempt = (attempts.get(key ?? '') ?? 0) + 1;
    attempts.set(key ?? '', attempt);
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    const fault = plan({ key, attempt, method, path });
    const seen: ProxiedRequest = {
      key,
      correlationId: header(request, 'x-correlation-id'),
      method,
      path,
      attempt,
      fault: fault.kind,
    };
    requests.push(seen);
    for (const waiter of waiters) waiter();

    if (fault.kind === 'answer') {
      response.writeHead(fault.status, fault.headers ?? {});
      response.end(fault.body ?? '');
      return;
    }
    if (fault.kind === 'cut') {
      response.socket?.destroy();
      return;
    }
    if (target === undefined) {
      // Nothing to forward to: a delayed request is held until the caller gives up.
      if (fault.kind === 'delay') await closed;
      response.socket?.destroy();
      return;
    }
    // The caller may give up while the server still works: the server's answer is read to the end either way.
    const upstream = await fetch(new URL(path, target), {
      method,
      headers: forwardedHeaders(request),
      body: method === 'GET' || method === 'HEAD' ? undefined : body,
    });
    const upstreamBody = Buffer.from(await upstream.arrayBuffer());
    seen.upstreamStatus = upstream.status;
    if (fault.kind === 'lose') {
      response.socket?.destroy();
      return;
    }
    if (fault.kind === 'delay') {
      await closed;
      return;
    }
    const headers: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (
        !['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'content-encoding'].includes(
          name,
        )
      )
        headers[name] = value;
    });
    response.writeHead(upstream.status, headers);
    response.end(upstreamBody);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsFor: (key) => requests.filter((request) => request.key === key),
    waitForRequests(count) {
      return new Promise((resolve) => {
        const check = () => {
          if (requests.length < count) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function forwardedHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || ['host', 'connection', 'content-length', 'keep-alive'].includes(name))
      continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function readAll(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
