import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import type { Io } from '../../src/cli/io.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Dummy credentials and region: nothing here talks to AWS. */
export const LOCAL_CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** What one run of the real `idemkit` command printed and returned. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as the one JSON document `--json` prints. */
  json<T = Record<string, unknown>>(): T;
}

/**
 * Runs the real entry point (`src/cli/main.ts`) in a child process, without a terminal, with dummy
 * credentials. Asynchronous on purpose: fauxqs runs inside the test process and must keep answering.
 */
export function idemkit(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runScript('src/cli/main.ts', args, env);
}

/** Runs `npm run invoke -- ...args` (playground/invoke-main.ts), as {@link idemkit} runs the CLI. */
export function invoke(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runScript('playground/invoke-main.ts', args, env);
}

function runScript(script: string, args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        AWS_ACCESS_KEY_ID: LOCAL_CLIENT_CONFIG.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CLIENT_CONFIG.credentials.secretAccessKey,
        AWS_REGION: LOCAL_CLIENT_CONFIG.region,
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        stdout,
        stderr,
        json: <T>() => JSON.parse(stdout) as T,
      }),
    );
  });
}

/** An {@link Io} that records lines, for the few tests that run the CLI in-process (mocked SDK clients). */
export function memoryIo(): Io & { stdout: string[]; stderrLines: string[] } {
  const stdout: string[] = [];
  const stderrLines: string[] = [];
  return {
    stdout,
    stderrLines,
    out: (line) => stdout.push(line),
    err: (line) => stderrLines.push(line),
    progressTty: false,
    canPrompt: false,
    ask: async () => false,
    stderr: process.stderr,
  };
}

/** fauxqs on a free port, and a client pointed at it. */
export async function startSqs(): Promise<{ server: FauxqsServer; endpoint: string; sqs: SQSClient }> {
  const server = await startFauxqs({ port: await freePort(), logger: false });
  const endpoint = server.address;
  const sqs = new SQSClient({ ...LOCAL_CLIENT_CONFIG, endpoint });
  return { server, endpoint, sqs };
}

/** Sends `entries` in batches of 10. */
export async function seed(
  sqs: SQSClient,
  queueUrl: string,
  entries: readonly Omit<SendMessageBatchRequestEntry, 'Id'>[],
): Promise<void> {
  for (let i = 0; i < entries.length; i += 10) {
    const output = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: entries.slice(i, i + 10).map((entry, index) => ({ ...entry, Id: String(index) })),
      }),
    );
    if ((output.Failed ?? []).length > 0) throw new Error(`seed failed: ${JSON.stringify(output.Failed)}`);
  }
}

/** The attributes a message carries, in a form `toEqual` can compare (binary as base64). */
export function comparable(
  attributes: Record<
    string,
    MessageAttributeValue | { DataType: string; StringValue?: string; BinaryValue?: string | Uint8Array }
  >,
) {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        DataType: value.DataType,
        value:
          value.StringValue ??
          (typeof value.BinaryValue === 'string'
            ? value.BinaryValue
            : Buffer.from(value.BinaryValue ?? new Uint8Array()).toString('base64')),
      },
    ]),
  );
}

/** What the fault proxy did. */
export interface FaultLog {
  /** SendMessageBatch entries answered with an injected failure (never forwarded). */
  injectedEntries: number;
  /** SendMessageBatch requests answered with an injected HTTP 500 (never forwarded). */
  injectedRequests: number;
  /** How many times each message body reached the server. */
  readonly forwardedBodies: Map<string, number>;
}

/**
 * A proxy in front of fauxqs that injects `SendMessageBatch` partial failures the emulator cannot
 * produce: on an entry's first attempt, one in `everyNth` (by body digest) is answered as failed with
 * `InternalError` (SenderFault false) and never forwarded, and every 7th request is answered with HTTP 500
 * without being forwarded. Everything else passes through unchanged, so the real CLI runs unmodified.
 */
export async function startFaultProxy(
  upstream: string,
  everyNth = 4,
): Promise<{ endpoint: string; log: FaultLog; stop(): Promise<void> }> {
  const log: FaultLog = { injectedEntries: 0, injectedRequests: 0, forwardedBodies: new Map() };
  const attempts = new Map<string, number>();
  let batchRequests = 0;
  const target = new URL(upstream);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      let injected: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
      if (req.headers['x-amz-target'] === 'AmazonSQS.SendMessageBatch') {
        batchRequests += 1;
        if (batchRequests % 7 === 0) {
          log.injectedRequests += 1;
          res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: 'injected' }));
          return;
        }
        const parsed = JSON.parse(body.toString()) as { Entries: { Id: string; MessageBody: string }[] };
        const keep: typeof parsed.Entries = [];
        for (const entry of parsed.Entries) {
          const attempt = (attempts.get(entry.MessageBody) ?? 0) + 1;
          attempts.set(entry.MessageBody, attempt);
          const digest = createHash('sha256').update(entry.MessageBody).digest()[0] ?? 0;
          if (attempt === 1 && digest % everyNth === 0) {
            injected.push({ Id: entry.Id, SenderFault: false, Code: 'InternalError', Message: 'injected' });
          } else {
            keep.push(entry);
            log.forwardedBodies.set(entry.MessageBody, (log.forwardedBodies.get(entry.MessageBody) ?? 0) + 1);
          }
        }
        log.injectedEntries += injected.length;
        if (keep.length === 0) {
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify({ Successful: [], Failed: injected }));
          return;
        }
        body = Buffer.from(JSON.stringify({ ...parsed, Entries: keep }));
      } else {
        injected = [];
      }
      const headers = { ...req.headers, 'content-length': String(body.length), host: target.host };
      const forward = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
        (upstreamRes) => {
          const parts: Buffer[] = [];
          upstreamRes.on('data', (chunk: Buffer) => parts.push(chunk));
          upstreamRes.on('end', () => {
            let payload = Buffer.concat(parts);
            if (injected.length > 0 && upstreamRes.statusCode === 200) {
              const answer = JSON.parse(payload.toString()) as { Failed?: unknown[] };
              answer.Failed = [...(answer.Failed ?? []), ...injected];
              payload = Buffer.from(JSON.stringify(answer));
            }
            const out = { ...upstreamRes.headers, 'content-length': String(payload.length) };
            delete out['transfer-encoding'];
            res.writeHead(upstreamRes.statusCode ?? 502, out);
            res.end(payload);
          });
        },
      );
      forward.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      forward.end(body);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    log,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
