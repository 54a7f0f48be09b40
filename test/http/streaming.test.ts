/**
 * Function URL response streaming through Middy's `streamifyResponse` mode: the body is kept while it streams
 * to the client and replayed byte for byte; a stream that fails midway releases the key.
 *
 * Lambda's runtime provides `awslambda.streamifyResponse` and `awslambda.HttpResponseStream`; no package ships
 * them, so `lambdaStreamingRuntime()` stands in for the runtime's documented contract (a writable response
 * stream, with the status and headers written ahead of the body). Middy's own streaming mode runs unchanged.
 */
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { Signal, type Telemetry } from '../../src/core/telemetry.js';
import { httpIdempotency } from '../../src/http/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { httpEvent, lambdaContext, newKey } from './harness.js';

interface Streamed {
  readonly metadata: { statusCode?: number; headers?: Record<string, string> } | undefined;
  readonly bytes: Buffer;
}

/** What a client of the Function URL receives: the metadata prelude and every byte of the body. */
function lambdaStreamingRuntime() {
  const previous = (globalThis as { awslambda?: unknown }).awslambda;
  (globalThis as { awslambda?: unknown }).awslambda = {
    streamifyResponse:
      (handler: (event: unknown, stream: Writable, context: unknown) => Promise<void>) =>
      async (event: unknown, context: unknown): Promise<Streamed> => {
        const chunks: Buffer[] = [];
        let metadata: Streamed['metadata'];
        const stream = new Writable({
          write(chunk: Buffer, _encoding, done) {
            chunks.push(Buffer.from(chunk));
            done();
          },
        });
        Object.assign(stream, { setMetadata: (value: Streamed['metadata']) => (metadata = value) });
        await handler(event, stream, context);
        return { metadata, bytes: Buffer.concat(chunks) };
      },
    HttpResponseStream: {
      from(stream: Writable & { setMetadata(value: unknown): void }, metadata: unknown) {
        stream.setMetadata(metadata);
        return stream;
      },
    },
  };
  return () => {
    (globalThis as { awslambda?: unknown }).awslambda = previous;
  };
}

let restore: () => void;
beforeAll(() => {
  restore = lambdaStreamingRuntime();
});
afterAll(() => restore());

interface StreamingOptions {
  /** Fail after this many chunks. */
  readonly failAfter?: number;
  /** Answer a web `ReadableStream` instead of a Node `Readable`. */
  readonly web?: boolean;
  readonly telemetry?: Telemetry;
}

/** A streaming handler behind the middleware that writes `chunks` slowly, or fails after `failAfter` of them. */
function streaming(store: MemoryStore, chunks: readonly Buffer[], options: StreamingOptions = {}) {
  const runs = { count: 0 };
  const handler = middy(
    async () => {
      runs.count += 1;
      async function* slowly() {
        for (const [index, chunk] of chunks.entries()) {
          if (index === options.failAfter) throw new Error('upstream went away');
          await sleep(5);
          yield chunk;
        }
      }
      const body = Readable.from(slowly());
      return {
        statusCode: 200,
        headers: { 'content-type': 'application/octet-stream', 'x-report': 'q4' },
        body: options.web === true ? Readable.toWeb(body) : body,
      };
    },
    { executionMode: executionModeStreamifyResponse },
  ).use(
    httpIdempotency({
      store,
      org: 'acme',
      scope: 'export',
      environment: 'test',
      mode: 'enforce',
      waitBudgetMs: 0,
      ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
    }),
  );
  const invoke = (key: string) =>
    (handler as unknown as (event: unknown, context: unknown) => Promise<Streamed>)(
      httpEvent('function-url', { key, body: { report: 'q4' } }),
      lambdaContext(),
    );
  return { invoke, runs };
}

describe('a streamed response', () => {
  it('streams to the first client and is replayed byte for byte, status and headers included', async () => {
    const store = new MemoryStore();
    // Bytes that are not UTF-8 text, so any text round trip would garble them.
    const chunks = Array.from({ length: 8 }, () => randomBytes(4096));
    const { invoke, runs } = streaming(store, chunks);
    const key = newKey();

    const first = await invoke(key);
    const replay = await invoke(key);

    expect(first.bytes.equals(Buffer.concat(chunks))).toBe(true);
    expect(replay.bytes.equals(first.bytes)).toBe(true);
    expect(replay.metadata?.statusCode).toBe(200);
    expect(replay.metadata?.headers).toMatchObject({
      'content-type': 'application/octet-stream',
      'x-report': 'q4',
      'Idempotent-Replayed': 'true',
    });
    expect(runs.count).toBe(1);
  });

  it('releases the key when the stream fails midway, so a retry runs again and nothing partial is replayed', async () => {
    const store = new MemoryStore();
    const chunks = Array.from({ length: 4 }, () => randomBytes(1024));
    const failing = streaming(store, chunks, { failAfter: 2 });
    const key = newKey();

    await expect(failing.invoke(key)).rejects.toThrow('upstream went away');
    expect(await store.get(recordKey('acme', 'export', key))).toBeUndefined();

    const healthy = streaming(store, chunks);
    const retry = await healthy.invoke(key);
    expect(retry.bytes.equals(Buffer.concat(chunks))).toBe(true);
    expect(retry.metadata?.headers?.['Idempotent-Replayed']).toBeUndefined();
  });

  it('stores a stream too large for the item without its body, and says so on replay without running again', async () => {
    const store = new MemoryStore();
    const chunks = Array.from({ length: 24 }, () => randomBytes(64 * 1024));
    const { invoke, runs } = streaming(store, chunks);
    const key = newKey();

    expect((await invoke(key)).bytes.byteLength).toBe(24 * 64 * 1024);
    const replay = await invoke(key);
    expect(replay.bytes.byteLength).toBe(0);
    expect(replay.metadata?.headers).toMatchObject({ 'Idempotent-Result-Omitted': 'too_large' });
    expect(runs.count).toBe(1);
  });

  it('is kept from a web ReadableStream as from a Node stream, and replayed byte for byte', async () => {
    const store = new MemoryStore();
    const chunks = Array.from({ length: 4 }, () => randomBytes(2048));
    const { invoke, runs } = streaming(store, chunks, { web: true });
    const key = newKey();

    expect((await invoke(key)).bytes.equals(Buffer.concat(chunks))).toBe(true);
    const replay = await invoke(key);
    expect(replay.bytes.equals(Buffer.concat(chunks))).toBe(true);
    expect(replay.metadata?.headers?.['Idempotent-Replayed']).toBe('true');
    expect(runs.count).toBe(1);
  });

  // What is buffered before a stream counts as too large: four times the codec's 350 KB, before compression.
  it('is kept whole up to 1,400,000 bytes, and without its body from one byte more', async () => {
    const store = new MemoryStore();
    // Repeated bytes compress far below the record's limit: only the buffered size decides.
    const whole = Array.from({ length: 20 }, () => Buffer.alloc(70_000, 'ab'));
    const kept = streaming(store, whole);
    const key = newKey();
    await kept.invoke(key);
    expect((await kept.invoke(key)).bytes.equals(Buffer.concat(whole))).toBe(true);

    const over = streaming(store, [...whole, Buffer.from('c')]);
    const overKey = newKey();
    await over.invoke(overKey);
    const replay = await over.invoke(overKey);
    expect(replay.bytes.byteLength).toBe(0);
    expect(replay.metadata?.headers).toMatchObject({ 'Idempotent-Result-Omitted': 'too_large' });
  });

  it('writes what its settling counted: the metrics are flushed after the body ended and the record completed', async () => {
    const events: string[] = [];
    const telemetry: Telemetry = {
      emit: (signal) => events.push(signal),
      warn() {},
      flush: () => events.push('flush'),
    };
    const store = new MemoryStore();
    const { invoke } = streaming(
      store,
      Array.from({ length: 24 }, () => randomBytes(64 * 1024)),
      { telemetry },
    );
    await invoke(newKey());
    // result_too_large is counted when the stream settles, after the middleware's own flush.
    expect(events.slice(events.indexOf(Signal.ResultTooLarge))).toEqual([Signal.ResultTooLarge, 'flush']);
  });
});
