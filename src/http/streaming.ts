import { pipeline, Readable, Transform } from 'node:stream';
import { ReadableStream } from 'node:stream/web';
import { DEFAULT_CODEC_LIMITS } from '../core/codec.js';
import { ResultDroppedReason } from '../core/types.js';
import type { ProxyResponse } from './problem.js';

/** A body Middy's `streamifyResponse` mode pipes to the client: a Node `Readable` or a web `ReadableStream`. */
export type StreamBody = Readable | ReadableStream;

/** Whether a handler's body is a stream (Function URL response streaming through Middy). */
export function isStreamBody(body: unknown): body is StreamBody {
  return body instanceof Readable || body instanceof ReadableStream;
}

/** How a streamed response is stored: its bytes in base64, so a replay is byte for byte, and a marker. */
interface StoredStream extends ProxyResponse {
  readonly body: string;
  readonly streamed: true;
}

/** What a streamed body settled with: its bytes (or that they outgrew the limit), or a failure midway. */
export type StreamOutcome =
  | { readonly ok: true; readonly stored: StoredStream; readonly dropped?: ResultDroppedReason }
  | { readonly ok: false };

// Bytes buffered before a streamed result counts as too large: what the codec could store, before compression.
const MAX_BUFFERED = DEFAULT_CODEC_LIMITS.maxResultBytes * 4;

/**
 * Passes a streamed body to the client unchanged while keeping its bytes, and settles once it ends: `settle`
 * runs before the stream reports its end (or its error), so Middy's pipeline, and so the invocation, finishes
 * only after the record is completed or released. Never a record left `IN_PROGRESS`, never a partial body
 * stored: a body that fails midway (source error, client gone) is settled as a failure.
 *
 * @example
 * response.body = keepWhileStreaming(response, response.body, (outcome) => settleIt(outcome));
 */
export function keepWhileStreaming(
  response: ProxyResponse,
  body: StreamBody,
  settle: (outcome: StreamOutcome) => Promise<unknown>,
): Readable {
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;
  let settled = false;
  const once = (outcome: StreamOutcome) => {
    if (settled) return Promise.resolve();
    settled = true;
    return settle(outcome).catch(() => undefined);
  };
  const tee = new Transform({
    // The writable side decodes strings (Node's default), so every chunk is a Buffer, copied in case its source
    // reuses the memory.
    transform(chunk: Buffer, _encoding, done) {
      // Past the limit nothing more is kept; the size only grows, so every later chunk lands here too.
      size += chunk.byteLength;
      if (size > MAX_BUFFERED) {
        overflow = true;
        chunks.length = 0;
      } else chunks.push(Buffer.from(chunk));
      done(null, chunk);
    },
    flush(done) {
      const { body: _body, ...rest } = response;
      // Past the limit `chunks` is empty: a result stored as dropped keeps no body anyway.
      const stored: StoredStream = {
        ...rest,
        body: Buffer.concat(chunks).toString('base64'),
        streamed: true,
      };
      // `once` never rejects: a failed settle is the engine's to log.
      once({ ok: true, stored, ...(overflow ? { dropped: ResultDroppedReason.TooLarge } : {}) }).then(() =>
        done(),
      );
    },
    destroy(error, done) {
      // The body failed midway or the client went away: release before the error surfaces. After the flush (the
      // stream's own end destroys it too) the record is already settled, and `once` does nothing.
      once({ ok: false }).then(() => done(error));
    },
  });
  const source = body instanceof Readable ? body : Readable.fromWeb(body);
  pipeline(source, tee, () => undefined);
  return tee;
}

/** Whether a stored result is a streamed response. */
export function isStoredStream(value: unknown): value is StoredStream {
  return typeof value === 'object' && value !== null && (value as { streamed?: unknown }).streamed === true;
}

/** A stored streamed response as Middy's streaming mode answers it: the same status, headers and bytes. */
export function replayStream(stored: StoredStream): ProxyResponse & { body: Readable } {
  const { body, streamed: _streamed, ...rest } = stored;
  return { ...rest, body: Readable.from([Buffer.from(body, 'base64')]) } as ProxyResponse & {
    body: Readable;
  };
}
