import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import type { EncodedResult } from './types.js';
import { ResultDroppedReason } from './types.js';

/** Limits for storing results (docs/protocol.md section 3, "Results that do not fit"). */
export interface CodecLimits {
  /**
   * Results whose JSON is longer than this are brotli-compressed (and kept compressed only when smaller).
   * @default 4096
   */
  readonly compressAboveBytes: number;
  /**
   * The largest encoded result stored. DynamoDB's item limit is 400 KB; the rest of the record needs < 1 KB.
   * @default 350_000
   */
  readonly maxResultBytes: number;
}

/** The defaults of {@link CodecLimits}. */
// Measured on JSON order responses (bench/analysis.md, "Compression"): a 1.4 KB result compresses to 0.4 KB, which
// would take its record from 2 write units to 1, but one `brotliCompressSync` call costs ~150 us of CPU inside a
// handler (a new encoder per call; ~30 us in a tight loop), at any quality: on small results the call, not the
// bytes, is the cost. Above 4 KB the bytes saved grow with the size and pay for it; below, results stay text.
export const DEFAULT_CODEC_LIMITS: CodecLimits = { compressAboveBytes: 4096, maxResultBytes: 350_000 };

/** What {@link encodeResult} produced: a body to store, or why there is none. */
export interface Encoded {
  readonly result?: EncodedResult;
  /** Set when the value itself could not be stored; `result` may then hold a smaller fallback. */
  readonly dropped?: ResultDroppedReason;
  readonly bytes: number;
  /** The encoded body that was too large to store (`dropped: 'too_large'`), for a large-result store. */
  readonly oversized?: EncodedResult;
}

// Measured on JSON bodies of 1 KB to 256 KB (bench/analysis.md, "Compression"): quality 5 is about a tenth of
// quality 11's CPU time for 10 % larger output; quality 4 halves quality 5's time but writes 13 % more bytes (a
// 64 KB result: 12.5 KB against 11.1 KB, one or two write units more), quality 6 saves 3 % for 20 % more time.
// zstd (level 3: a quarter of the time, 5 % more bytes) is experimental in Node 22 and absent before 22.15, and
// every reader of a record (the edge, the CLI, an older runtime) must decode it: brotli stays.
const BROTLI_OPTIONS = { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } };

/**
 * Encodes an operation's result for the `result` attribute. Never throws: a value JSON cannot carry
 * (a cycle, a BigInt) is reported as dropped, because this runs after the side effect and must not
 * leave the record `IN_PROGRESS`.
 *
 * @example
 * encodeResult({ statusCode: 201, body: '...' });
 */
export function encodeResult(value: unknown, limits: CodecLimits = DEFAULT_CODEC_LIMITS): Encoded {
  if (value === undefined) return { bytes: 0 };
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch {
    return { dropped: ResultDroppedReason.Unserializable, bytes: 0 };
  }
  // JSON.stringify returns undefined for a top-level function or symbol.
  if (json === undefined) return { dropped: ResultDroppedReason.Unserializable, bytes: 0 };
  const textBytes = Buffer.byteLength(json);
  let result: EncodedResult = json;
  let bytes = textBytes;
  if (textBytes > limits.compressAboveBytes) {
    const compressed = brotliCompressSync(json, BROTLI_OPTIONS);
    if (compressed.byteLength < textBytes) {
      result = new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.byteLength);
      bytes = compressed.byteLength;
    }
  }
  return bytes <= limits.maxResultBytes
    ? { result, bytes }
    : { dropped: ResultDroppedReason.TooLarge, bytes, oversized: result };
}

/**
 * Decodes a stored `result` attribute back to the value (`undefined` when there is none).
 *
 * @example
 * decodeResult(record.result);
 */
export function decodeResult(result: EncodedResult | undefined): unknown {
  if (result === undefined) return undefined;
  const json = typeof result === 'string' ? result : brotliDecompressSync(result).toString('utf8');
  return JSON.parse(json);
}

/** The byte size of an encoded result, for the cache's byte bound. */
export function encodedSize(result: EncodedResult | undefined): number {
  if (result === undefined) return 0;
  return typeof result === 'string' ? result.length * 2 : result.byteLength;
}
