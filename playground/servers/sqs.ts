/**
 * The SQS emulator (fauxqs, in this process) and a pass-through proxy in front of it for the handlers'
 * own SQS calls, which can add latency on demand: how the playground makes a first request run long
 * enough for a duplicate to wait behind it, without touching the reference handlers.
 *
 * The handlers get queue URLs on the proxy (`handlerQueueUrl`): the SDK sends to a queue URL's own host,
 * and fauxqs's URLs (`http://sqs.us-east-1.localhost:<port>/...`) do not resolve on every machine. The
 * proxy maps its URLs to fauxqs's in each request and back in each response.
 *
 * @example
 * const sqs = await startSqs();
 * sqs.latency.ms = 1500; // the next SendMessage from a handler takes 1.5 s longer
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFauxqs } from 'fauxqs';

/** A running SQS emulator and the latency proxy the handlers talk to. */
export interface LocalSqs {
  /** fauxqs itself: the playground's pollers and the `idemkit` CLI use it. */
  readonly endpoint: string;
  /** The proxy in front of it: the reference handlers' SQS client uses it. */
  readonly handlerEndpoint: string;
  /** Extra milliseconds added to each `SendMessage` passing through the proxy; 0 adds none. */
  readonly latency: { ms: number };
  /** The URL a handler uses for a queue of fauxqs (`fauxqsUrl`): the same queue, through the proxy. */
  handlerQueueUrl(fauxqsUrl: string): string;
  stop(): Promise<void>;
}

/** Options of {@link startSqs}. */
export interface LocalSqsOptions {
  /** fauxqs's port. @default a free port */
  readonly port?: number;
}

/**
 * Starts fauxqs on 127.0.0.1 and the latency proxy; `stop()` closes both.
 *
 * @example
 * const { endpoint, stop } = await startSqs();
 */
export async function startSqs(options: LocalSqsOptions = {}): Promise<LocalSqs> {
  const fauxqs = await startFauxqs({ port: options.port ?? 0, logger: false });
  const endpoint = `http://127.0.0.1:${fauxqs.port}`;
  const latency = { ms: 0 };
  const origins = { proxy: '', fauxqs: '' };
  let proxy: Server;
  try {
    proxy = await startProxy(fauxqs.port, latency, origins);
  } catch (error) {
    await fauxqs.stop();
    throw error;
  }
  const { port } = proxy.address() as AddressInfo;
  origins.proxy = `http://127.0.0.1:${port}`;
  // fauxqs names every queue URL after its configured host: learn that origin from a real queue URL.
  origins.fauxqs = new URL(fauxqs.createQueue('idemkit-playground-probe').queueUrl).origin;
  fauxqs.deleteQueue('idemkit-playground-probe');
  return {
    endpoint,
    handlerEndpoint: origins.proxy,
    latency,
    handlerQueueUrl: (fauxqsUrl) => fauxqsUrl.replace(origins.fauxqs, origins.proxy),
    async stop() {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await fauxqs.stop();
    },
  };
}

async function startProxy(
  targetPort: number,
  latency: { ms: number },
  origins: { proxy: string; fauxqs: string },
): Promise<Server> {
  const server = createServer((incoming, outgoing) => {
    void (async () => {
      const body = Buffer.from(
        (await readAll(incoming)).toString('utf8').replaceAll(origins.proxy, origins.fauxqs),
      );
      const target = incoming.headers['x-amz-target'];
      const isSend = typeof target === 'string' && target.endsWith('.SendMessage');
      if (isSend && latency.ms > 0) await new Promise((resolve) => setTimeout(resolve, latency.ms));
      const forwarded = httpRequest(
        {
          host: '127.0.0.1',
          port: targetPort,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, 'content-length': String(body.length) },
        },
        (response) => {
          void readAll(response).then((answer) => {
            const mapped = Buffer.from(answer.toString('utf8').replaceAll(origins.fauxqs, origins.proxy));
            const { 'transfer-encoding': _chunked, ...headers } = response.headers;
            outgoing.writeHead(response.statusCode ?? 502, {
              ...headers,
              'content-length': String(mapped.length),
            });
            outgoing.end(mapped);
          });
        },
      );
      forwarded.on('error', (error) => {
        if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' });
        outgoing.end(`SQS emulator unreachable: ${error.message}`);
      });
      forwarded.end(body);
    })().catch(() => outgoing.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
