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
import { CreateQueueCommand, DeleteQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { LOCAL_CLIENT_CONFIG } from './dynamodb-local.js';

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
 * Starts fauxqs and the latency proxy, both on 127.0.0.1; `stop()` closes both.
 *
 * @example
 * const { endpoint, stop } = await startSqs();
 */
export async function startSqs(options: LocalSqsOptions = {}): Promise<LocalSqs> {
  // fauxqs's own startFauxqs listens on 0.0.0.0 whatever its options say; its app, listened to here,
  // binds 127.0.0.1 only.
  const fauxqs = buildApp({ logger: false });
  const listening = await fauxqs.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const endpoint = `http://127.0.0.1:${new URL(listening).port}`;
  const latency = { ms: 0 };
  const origins = { proxy: '', fauxqs: '' };
  let proxy: Server;
  try {
    proxy = await startProxy(Number(new URL(listening).port), latency, origins);
    // fauxqs names every queue URL after its configured host: learn that origin from a real queue URL.
    origins.fauxqs = await queueUrlOrigin(endpoint);
  } catch (error) {
    await fauxqs.close();
    throw error;
  }
  const { port } = proxy.address() as AddressInfo;
  origins.proxy = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    handlerEndpoint: origins.proxy,
    latency,
    handlerQueueUrl: (fauxqsUrl) => fauxqsUrl.replace(origins.fauxqs, origins.proxy),
    async stop() {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await fauxqs.close();
    },
  };
}

async function queueUrlOrigin(endpoint: string): Promise<string> {
  // The probe's URL names a host that may not resolve here: send every call to the endpoint itself.
  const sqs = new SQSClient({ ...LOCAL_CLIENT_CONFIG, endpoint, useQueueUrlAsEndpoint: false });
  try {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'idemkit-playground-probe' }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    return new URL(QueueUrl ?? endpoint).origin;
  } finally {
    sqs.destroy();
  }
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
