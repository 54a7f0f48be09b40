import { hash } from 'node:crypto';
import { IdempotencyValidationError } from './errors.js';

/** The longest key accepted, after the IETF draft's guidance and Stripe's limit. */
export const MAX_KEY_LENGTH = 255;
/** The longest org or scope accepted: keeps `pk` well under DynamoDB's 2,048-byte partition key limit. */
export const MAX_NAME_LENGTH = 128;

// Printable ASCII and any non-control Unicode; no C0/C1 controls, no DEL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to reject them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A UTF-16 surrogate half without its partner. UTF-8 encodes every one of them as U+FFFD, so two keys
// that differ only there would share a digest (and a record); DynamoDB cannot store them faithfully either.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The digest of a key as it appears in `pk` and in logs: SHA-256, base64url (43 characters). The raw key
 * is never stored or logged.
 *
 * @example
 * keyDigest('order-42'); // 'Bq2...'
 */
export function keyDigest(key: string): string {
  return hash('sha256', key, 'base64url');
}

/**
 * Throws {@link IdempotencyValidationError} unless `key` is 1 to 255 characters of well-formed Unicode with
 * no control character.
 *
 * @example
 * assertValidKey(header); // throws on '' or '\n'
 */
export function assertValidKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') {
    throw new IdempotencyValidationError(
      'key',
      `Expected the idempotency key to be a string, got ${typeOf(key)}.`,
    );
  }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new IdempotencyValidationError(
      'key',
      `Expected the idempotency key to be 1 to ${MAX_KEY_LENGTH} characters, got ${key.length}.`,
    );
  }
  if (CONTROL.test(key)) {
    throw new IdempotencyValidationError(
      'key',
      'Expected the idempotency key to have no control characters.',
    );
  }
  if (LONE_SURROGATE.test(key)) {
    throw new IdempotencyValidationError(
      'key',
      'Expected the idempotency key to be well-formed Unicode, got a lone surrogate; send valid UTF-8.',
    );
  }
}

/**
 * Throws {@link IdempotencyValidationError} unless `value` can lead a `pk`: 1 to 128 printable characters
 * without `#` (the separator) or `*` (the `LeadingKeys` wildcard).
 *
 * @example
 * assertValidName('org', 'acme');
 */
export function assertValidName(field: 'org' | 'scope', value: unknown): asserts value is string {
  if (typeof value !== 'string') {
    throw new IdempotencyValidationError(
      field,
      `Expected \`${field}\` to be a string, got ${typeOf(value)}.`,
    );
  }
  if (value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new IdempotencyValidationError(
      field,
      `Expected \`${field}\` to be 1 to ${MAX_NAME_LENGTH} characters, got ${value.length}.`,
    );
  }
  if (
    CONTROL.test(value) ||
    LONE_SURROGATE.test(value) ||
    value.includes('#') ||
    value.includes('*') ||
    value.trim() !== value
  ) {
    throw new IdempotencyValidationError(
      field,
      `Expected \`${field}\` to be printable, well-formed Unicode with no \`#\`, \`*\` or surrounding spaces.`,
    );
  }
}

/**
 * The partition key of the record for (org, scope, key): the org leads so IAM `dynamodb:LeadingKeys`
 * can fence a tenant, and the key digest spreads one org over many partitions (docs/protocol.md section 2).
 *
 * @example
 * recordKey('acme', 'charge', 'pay-1'); // 'acme#charge#<43 chars>'
 */
export function recordKey(org: string, scope: string, key: string): string {
  assertValidName('org', org);
  assertValidName('scope', scope);
  assertValidKey(key);
  return `${org}#${scope}#${keyDigest(key)}`;
}

/** The digest part of a `pk`, for logs. */
export function digestOf(pk: string): string {
  return pk.slice(pk.lastIndexOf('#') + 1);
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}
