import { assertValidKey } from '../core/keys.js';

/** The header that carries the key (IETF draft "The Idempotency-Key HTTP Header Field"). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** The outcome of reading the header. */
export type KeyReading =
  | { readonly kind: 'missing' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'valid'; readonly key: string };

/**
 * Parses an `Idempotency-Key` value: a Structured Field string (`"abc"`, with `\"` and `\\` escapes, as the
 * draft specifies) or a bare token (`abc`, as Stripe's clients send). Empty, over 255 characters or
 * containing control characters is invalid. The raw key never appears in `reason`.
 *
 * @example
 * readIdempotencyKey('"8e03978e-40d5"'); // { kind: 'valid', key: '8e03978e-40d5' }
 */
export function readIdempotencyKey(raw: string | undefined): KeyReading {
  if (raw === undefined) return { kind: 'missing' };
  const trimmed = raw.trim();
  let key = trimmed;
  if (trimmed.startsWith('"')) {
    const unquoted = unquoteSfString(trimmed);
    if (unquoted === undefined) {
      return { kind: 'invalid', reason: 'The quoted key is not a valid Structured Field string (RFC 9651).' };
    }
    key = unquoted;
  }
  try {
    assertValidKey(key);
  } catch (error) {
    return { kind: 'invalid', reason: (error as Error).message };
  }
  return { kind: 'valid', key };
}

/** RFC 9651 section 4.2.5: printable ASCII, `\` only before `"` or `\`, one closing quote at the end. */
function unquoteSfString(value: string): string | undefined {
  let out = '';
  for (let index = 1; index < value.length; index++) {
    const char = value[index] as string;
    const code = char.charCodeAt(0);
    if (char === '\\') {
      const next = value[index + 1];
      if (next !== '"' && next !== '\\') return undefined;
      out += next;
      index++;
    } else if (char === '"') {
      return index === value.length - 1 ? out : undefined;
    } else if (code < 0x20 || code > 0x7e) {
      return undefined;
    } else {
      out += char;
    }
  }
  return undefined;
}
