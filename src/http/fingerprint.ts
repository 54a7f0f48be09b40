import { canonicalJson, canonicalJsonInPlace, fingerprintOf } from '../core/fingerprint.js';
import type { HttpRequestView } from './event.js';

/**
 * The default fingerprint of an HTTP request: method, path, sorted query and the canonical body. A JSON
 * body is compared by meaning (key order and spacing do not matter), so a body parser that ran before the
 * middleware (the body is then an object) gives the same fingerprint as the raw string.
 *
 * @example
 * httpFingerprint(readHttpEvent(event)!);
 */
export function httpFingerprint(view: HttpRequestView): string {
  return fingerprintOf([view.method, view.path, view.query.join('&'), canonicalBody(view)]);
}

/**
 * The digest of the request as received (docs/protocol.md section 2, "The raw digest"): method, path, sorted
 * query, content type, body encoding and the body string, everything {@link httpFingerprint} reads. Equal digests
 * mean equal fingerprints, so a byte-identical retry skips the canonical JSON. `undefined` when a body parser ran
 * first (the body is then an object, not bytes).
 *
 * @example
 * httpRawDigest(readHttpEvent(event)!);
 */
export function httpRawDigest(view: HttpRequestView): string | undefined {
  const { body } = view;
  if (body !== undefined && body !== null && typeof body !== 'string') return undefined;
  return fingerprintOf([
    'raw',
    view.method,
    view.path,
    view.query.join('&'),
    (view.headers['content-type'] ?? '').toLowerCase(),
    view.isBase64Encoded ? 'base64' : 'text',
    body ?? '',
  ]);
}

function canonicalBody(view: HttpRequestView): string | Uint8Array {
  const { body } = view;
  if (body === undefined || body === null || body === '') return '';
  if (typeof body !== 'string') return `json:${canonicalJson(body)}`;
  const bytes = view.isBase64Encoded ? Buffer.from(body, 'base64') : undefined;
  const text = bytes === undefined ? body : bytes.toString('utf8');
  const contentType = (view.headers['content-type'] ?? '').toLowerCase();
  if (contentType.includes('json') || contentType === '') {
    try {
      return `json:${canonicalJsonInPlace(JSON.parse(text))}`;
    } catch {
      // Not JSON after all: compare the bytes.
    }
  } else if (contentType.startsWith('application/x-www-form-urlencoded')) {
    return `json:${canonicalJsonInPlace(formObject(text))}`;
  }
  return bytes ?? body;
}

/** A form body as the urlencoded body parser shapes it: repeated names become arrays. */
function formObject(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const existing = out[name];
    out[name] =
      existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}
