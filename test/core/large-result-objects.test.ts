/**
 * Results kept whole outside the record (docs/protocol.md sections 2 and 3): how the object is named, what its bytes
 * are, how a replay verifies them, and the `resultRef` pointer a store keeps, which a damaged field must never pass.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeResult } from '../../src/core/codec.js';
import {
  checkLargeResult,
  decodeLargeResult,
  formatResultRef,
  isLargeResultStore,
  largeResultBody,
  largeResultName,
  parseResultRef,
  sha256Hex,
} from '../../src/core/large-result.js';
import type { ResultRef } from '../../src/core/types.js';

const bytesOf = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
const digestOf = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('a large result’s object', () => {
  it('is named by the record’s pk, then its content digest', () => {
    expect(largeResultName('acme#charge#3q2', 'ab12')).toBe('acme#charge#3q2/ab12');
  });

  it('holds a text result as its UTF-8 bytes, and compressed bytes as they are', () => {
    const text = largeResultBody('{"note":"é"}');
    expect(text.form).toBe('text');
    expect(Buffer.from(text.body).toString('utf8')).toBe('{"note":"é"}');
    expect(text.body.byteLength).toBe(13);
    const compressed = new Uint8Array([1, 2, 3]);
    expect(largeResultBody(compressed)).toEqual({ body: compressed, form: 'bytes' });
  });

  it('has a lower-case hex SHA-256', () => {
    expect(sha256Hex(bytesOf('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});

describe('verifying the bytes a replay read back', () => {
  const body = bytesOf('{"rows":[1,2,3]}');
  const ref: ResultRef = { key: 'results/x', sha256: digestOf(body), size: body.byteLength, form: 'text' };

  it('passes the object the record points at', () => {
    expect(checkLargeResult(ref, body)).toBeUndefined();
  });

  it('is missing without an object', () => {
    expect(checkLargeResult(ref, undefined)).toBe('missing');
  });

  it('is corrupt for another length, even with the recorded digest', () => {
    expect(checkLargeResult({ ...ref, size: ref.size + 1 }, body)).toBe('corrupt');
  });

  it('is corrupt for other bytes of the same length', () => {
    const altered = bytesOf('{"rows":[1,2,4]}');
    expect(altered.byteLength).toBe(body.byteLength);
    expect(checkLargeResult(ref, altered)).toBe('corrupt');
  });
});

describe('decoding verified bytes', () => {
  it('reads text bytes as JSON and compressed bytes through the codec', () => {
    const value = { rows: 'abc'.repeat(2000) };
    const text = largeResultBody(JSON.stringify(value));
    expect(decodeLargeResult({ key: 'k', sha256: '0', size: 0, form: 'text' }, text.body)).toEqual(value);
    const encoded = encodeResult(value, { compressAboveBytes: 100, maxResultBytes: 1_000_000 }).result;
    expect(encoded).toBeInstanceOf(Uint8Array);
    const bytes = largeResultBody(encoded as Uint8Array);
    expect(decodeLargeResult({ key: 'k', sha256: '0', size: 0, form: bytes.form }, bytes.body)).toEqual(
      value,
    );
  });
});

describe('the resultRef pointer', () => {
  const ref: ResultRef = { key: 'results/acme#charge#d/ab', sha256: 'a'.repeat(64), size: 0, form: 'bytes' };

  it('reads back what was written, with only its four fields', () => {
    const text = formatResultRef({ ...ref, extra: 'dropped' } as ResultRef);
    expect(JSON.parse(text)).toEqual(ref);
    expect(parseResultRef(text)).toEqual(ref);
    expect(parseResultRef(JSON.stringify({ ...ref, form: 'text', size: 12 }))).toEqual({
      ...ref,
      form: 'text',
      size: 12,
    });
  });

  it('drops fields it does not know when read', () => {
    expect(parseResultRef(JSON.stringify({ ...ref, extra: 1 }))).toEqual(ref);
  });

  it.each([
    ['text that is not JSON', '{"key":'],
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"results/x"'],
    ['no key', JSON.stringify({ ...ref, key: undefined })],
    ['an empty key', JSON.stringify({ ...ref, key: '' })],
    ['a key that is not text', JSON.stringify({ ...ref, key: 7 })],
    ['a digest that is not text', JSON.stringify({ ...ref, sha256: 7 })],
    ['a digest in a list', JSON.stringify({ ...ref, sha256: ['a'.repeat(64)] })],
    ['a list', JSON.stringify([ref])],
    ['a digest in upper case', JSON.stringify({ ...ref, sha256: 'A'.repeat(64) })],
    ['a digest one character short', JSON.stringify({ ...ref, sha256: 'a'.repeat(63) })],
    ['a digest with text before it', JSON.stringify({ ...ref, sha256: `x${'a'.repeat(64)}` })],
    ['a digest with text after it', JSON.stringify({ ...ref, sha256: `${'a'.repeat(64)}x` })],
    ['a size that is text', JSON.stringify({ ...ref, size: '12' })],
    ['a fractional size', JSON.stringify({ ...ref, size: 1.5 })],
    ['a size past the safe integers', JSON.stringify({ ...ref, size: 2 ** 53 })],
    ['a negative size', JSON.stringify({ ...ref, size: -1 })],
    ['an unknown form', JSON.stringify({ ...ref, form: 'gzip' })],
    ['a form that is not text', JSON.stringify({ ...ref, form: 1 })],
  ])('is no pointer for %s', (_, text) => {
    expect(parseResultRef(text)).toBeUndefined();
  });
});

describe('what counts as a large-result store', () => {
  const put = async () => 'key';
  const get = async () => undefined;

  it('is an object with put and get', () => {
    expect(isLargeResultStore({ put, get })).toBe(true);
  });

  it.each([
    ['null', null],
    ['a function', Object.assign(() => {}, { put, get })],
    ['no put', { get }],
    ['no get', { put }],
    ['put that is no function', { put: 'x', get }],
    ['get that is no function', { put, get: 'x' }],
  ])('is not %s', (_, value) => {
    expect(isLargeResultStore(value)).toBe(false);
  });
});
