import { createHash } from 'node:crypto';
import { decodeResult } from './codec.js';
import type { EncodedResult, LargeResultStore, ResultRef } from './types.js';

/**
 * Results too large for a record, kept whole in a {@link LargeResultStore} (docs/protocol.md section 3, "Results
 * that do not fit"): the object is named from the record's `pk` (org, scope, key digest: never the raw key) and its
 * content digest, written before the record completes, and verified on every replay.
 */

/** The prefix objects go under unless the store's `prefix` says otherwise (the CDK bucket's rule and grants too). */
export const DEFAULT_RESULT_PREFIX = 'results/';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const FORMS: ReadonlySet<string> = new Set(['text', 'bytes']);

/**
 * The object name of a result: `<pk>/<sha256>`. The org leads, as in `pk`, so a policy on `<prefix><org>#*` fences a
 * tenant; the content digest keeps two completions of one key (a zombie's and its successor's) from sharing an object.
 *
 * @example
 * largeResultName('acme#charge#3q2...', '9f86d0...'); // 'acme#charge#3q2.../9f86d0...'
 */
export function largeResultName(pk: string, sha256: string): string {
  return `${pk}/${sha256}`;
}

/** The bytes of an encoded result and the form that says how to read them back. */
export function largeResultBody(encoded: EncodedResult): { body: Uint8Array; form: ResultRef['form'] } {
  return typeof encoded === 'string'
    ? { body: Buffer.from(encoded), form: 'text' }
    : { body: encoded, form: 'bytes' };
}

/** SHA-256 of `bytes`, lower-case hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Why an object read back cannot be replayed: `missing` (no object) or `corrupt` (another size or digest than the
 * record says, or bytes that do not decode); `undefined` when it is the result the record points at.
 */
export function checkLargeResult(
  ref: ResultRef,
  bytes: Uint8Array | undefined,
): 'missing' | 'corrupt' | undefined {
  if (bytes === undefined) return 'missing';
  return bytes.byteLength === ref.size && sha256Hex(bytes) === ref.sha256 ? undefined : 'corrupt';
}

/** Decodes verified bytes back to the result (throws when they do not decode). */
export function decodeLargeResult(ref: ResultRef, bytes: Uint8Array): unknown {
  return decodeResult(ref.form === 'text' ? Buffer.from(bytes).toString('utf8') : bytes);
}

/** A {@link ResultRef} as the text a store keeps in the record's `resultRef` field. */
export function formatResultRef(ref: ResultRef): string {
  return JSON.stringify({ key: ref.key, sha256: ref.sha256, size: ref.size, form: ref.form });
}

/** The {@link ResultRef} a store read back, or `undefined` when the text is not one (a damaged field). */
export function parseResultRef(text: string): ResultRef | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  // `null` has no fields to read; any other value that is not an object fails the field checks below.
  if (parsed === null) return undefined;
  const { key, sha256, size, form } = parsed as Record<string, unknown>;
  if (
    typeof key !== 'string' ||
    key === '' ||
    typeof sha256 !== 'string' ||
    !SHA256_HEX.test(sha256) ||
    typeof size !== 'number' ||
    !Number.isSafeInteger(size) ||
    size < 0 ||
    typeof form !== 'string' ||
    !FORMS.has(form)
  )
    return undefined;
  return { key, sha256, size, form: form as ResultRef['form'] };
}

/** Whether `value` is a {@link LargeResultStore} (for option checks). */
export function isLargeResultStore(value: unknown): value is LargeResultStore {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as LargeResultStore).put === 'function' &&
    typeof (value as LargeResultStore).get === 'function'
  );
}
