import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdempotencyValidationError } from '../../src/core/errors.js';
import { canonicalJson, canonicalJsonInPlace, fingerprintOf } from '../../src/core/fingerprint.js';
import {
  assertValidKey,
  digestOf,
  keyDigest,
  MAX_KEY_LENGTH,
  MAX_NAME_LENGTH,
  recordKey,
} from '../../src/core/keys.js';

/** Strings of any UTF-16 code units, lone surrogates and control characters included. */
const anyString = fc.string({ unit: 'binary', maxLength: 300 });
/** Strings built to hit the rules: separators, wildcards, controls, surrogate halves, edges of the limits. */
const nastyString = fc.oneof(
  anyString,
  fc.constantFrom(
    '',
    ' ',
    '#',
    '*',
    'a#b',
    'a*',
    '\n',
    '\u0000',
    '\u007f',
    '\u0085',
    '\ud800',
    '\udfff',
    '\ufffd',
  ),
  fc.string({ unit: fc.constantFrom('a', '#', '*', ' ', '\t', '\ud83d', '\ude80', 'é'), maxLength: 20 }),
  fc.integer({ min: MAX_NAME_LENGTH - 1, max: MAX_KEY_LENGTH + 2 }).map((length) => 'k'.repeat(length)),
  fc.constant('x'.repeat(100_000)),
);

/** Whether `recordKey` accepts this triple. */
function accepted(org: string, scope: string, key: string): boolean {
  try {
    recordKey(org, scope, key);
    return true;
  } catch {
    return false;
  }
}

describe('keyDigest', () => {
  it('is stable: the same key always has the same 43-character base64url digest', () => {
    fc.assert(
      fc.property(anyString, (key) => {
        const digest = keyDigest(key);
        expect(keyDigest(String(key))).toBe(digest);
        expect(digest).toMatch(/^[A-Za-z0-9_-]{43}$/);
      }),
    );
  });

  it('is SHA-256 of the UTF-8 key, pinned so stored records stay readable across versions', () => {
    expect(keyDigest('order-42')).toBe('O_ixV8Qjju_lrkpm7Kgca4h9Tc7bWN1nQnGFn03C7f0');
  });
});

describe('recordKey', () => {
  it('has a digest part that logs name by itself: the key digest, nothing of the org or scope', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('acme', 'a b', 'org-1'),
        fc.constantFrom('charge', 'POST /orders'),
        (org, scope) => {
          const key = `pay-${org.length}-${scope.length}`;
          expect(digestOf(recordKey(org, scope, key))).toBe(keyDigest(key));
        },
      ),
    );
    expect(digestOf('no-separator')).toBe('no-separator');
  });

  it('never maps two distinct accepted (org, scope, key) triples to one pk', () => {
    // Small alphabets make equal and nearly equal components common, where a collision would hide; the
    // surrogate halves and U+FFFD are there because UTF-8 would merge them.
    const near = (units: string[]) =>
      fc.string({ unit: fc.constantFrom(...units), minLength: 1, maxLength: 3 });
    const name = fc.oneof(
      { weight: 6, arbitrary: near(['a', 'b', '\ufffd']) },
      { weight: 1, arbitrary: nastyString },
    );
    const key = fc.oneof(
      { weight: 6, arbitrary: near(['a', 'b', '#', '\ud800', '\udc00', '\ufffd']) },
      { weight: 1, arbitrary: nastyString },
    );
    const triple = fc.tuple(name, name, key);
    // The second triple differs from the first in at most one component, so near misses are the common case.
    const pair = fc.tuple(triple, fc.nat(2), name, key).map(([first, index, otherName, otherKey]) => {
      const second = [...first] as [string, string, string];
      second[index] = index === 2 ? otherKey : otherName;
      return [first, second] as const;
    });
    let compared = 0;
    fc.assert(
      fc.property(pair, ([[org1, scope1, key1], [org2, scope2, key2]]) => {
        if (!accepted(org1, scope1, key1) || !accepted(org2, scope2, key2)) return;
        compared += 1;
        const same = org1 === org2 && scope1 === scope2 && key1 === key2;
        expect(recordKey(org1, scope1, key1) === recordKey(org2, scope2, key2)).toBe(same);
      }),
      { numRuns: 2_000 },
    );
    expect(compared).toBeGreaterThan(200);
  });

  it('keeps keys that UTF-8 would merge apart: a lone surrogate is rejected, not encoded as U+FFFD', () => {
    // Node encodes any lone surrogate as U+FFFD, so '\ud800', '\udc00' and '\ufffd' would share a digest.
    const pks = ['\ud800', '\udc00', '\ufffd'].filter((key) => accepted('acme', 'charge', key));
    expect(pks).toEqual(['\ufffd']);
    expect(() => recordKey('acme', 'charge', 'a\ud800b')).toThrow(IdempotencyValidationError);
    expect(() => recordKey('ac\udc00me', 'charge', 'k')).toThrow(IdempotencyValidationError);
    expect(recordKey('acme', 'charge', 'rocket 🚀')).toMatch(/^acme#charge#/);
  });

  it('leads with the org and has exactly two separators, so LeadingKeys `<org>#*` fences a tenant', () => {
    fc.assert(
      fc.property(nastyString, nastyString, nastyString, (org, scope, key) => {
        fc.pre(accepted(org, scope, key));
        const pk = recordKey(org, scope, key);
        expect(pk.startsWith(`${org}#${scope}#`)).toBe(true);
        expect(pk.split('#')).toHaveLength(3);
        // The key appears only as its digest (a key that is part of the scope, like 'kkk' of 'kkkk', is in pk
        // through the scope, so the test looks at the third part, not at pk as a whole).
        expect(pk.slice(`${org}#${scope}#`.length)).toBe(keyDigest(key));
      }),
    );
  });

  it('only ever throws IdempotencyValidationError, whatever it is given', () => {
    fc.assert(
      fc.property(
        fc.oneof(nastyString, fc.anything()),
        fc.oneof(nastyString, fc.anything()),
        fc.oneof(nastyString, fc.anything()),
        (org, scope, key) => {
          try {
            recordKey(org as string, scope as string, key as string);
          } catch (error) {
            expect(error).toBeInstanceOf(IdempotencyValidationError);
            if (typeof key === 'string' && key.length >= 8)
              expect((error as Error).message).not.toContain(key);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it.each([
    ['org', 'a#b', 'charge', 'k'],
    ['org', '*', 'charge', 'k'],
    ['org', ' acme', 'charge', 'k'],
    ['org', 'a'.repeat(MAX_NAME_LENGTH + 1), 'charge', 'k'],
    ['scope', 'acme', 'create\norder', 'k'],
    ['scope', 'acme', '', 'k'],
    ['key', 'acme', 'charge', ''],
    ['key', 'acme', 'charge', 'k'.repeat(MAX_KEY_LENGTH + 1)],
    ['key', 'acme', 'charge', 'line\r\nbreak'],
  ])('rejects a bad %s, saying which input', (field, org, scope, key) => {
    expect(() => recordKey(org, scope, key)).toThrow(
      expect.objectContaining({ name: 'IdempotencyValidationError', field }),
    );
  });

  it('accepts keys at the limits', () => {
    expect(() => assertValidKey('k'.repeat(MAX_KEY_LENGTH))).not.toThrow();
    expect(() => recordKey('a'.repeat(MAX_NAME_LENGTH), 's'.repeat(MAX_NAME_LENGTH), 'k')).not.toThrow();
  });
});

/** The same JSON value with the keys of every object in another order. */
function shuffled(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item, index) => shuffled(item, seed + index));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const rotated = entries.map((_, index) => entries[(index + seed) % entries.length] as [string, unknown]);
  return Object.fromEntries(rotated.reverse().map(([name, member]) => [name, shuffled(member, seed + 1)]));
}

describe('canonicalJson', () => {
  it('is insensitive to the order of object keys at every depth', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, seed) => {
        expect(canonicalJson(shuffled(value, seed))).toBe(canonicalJson(value));
      }),
    );
  });

  it('keeps the meaning: it parses back to the same value as plain JSON does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('keeps a `__proto__` member, which JSON.parse makes an own property of a request body', () => {
    const withProto = JSON.parse('{"__proto__":{"admin":true},"amount":1}');
    expect(canonicalJson(withProto)).toBe('{"__proto__":{"admin":true},"amount":1}');
    expect(canonicalJson(withProto)).not.toBe(canonicalJson({ amount: 1 }));
  });

  it('tells different values apart', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        fc.pre(JSON.stringify(JSON.parse(canonicalJson(a))) !== JSON.stringify(JSON.parse(canonicalJson(b))));
        expect(canonicalJson(a)).not.toBe(canonicalJson(b));
      }),
    );
  });
});

describe('canonicalJsonInPlace', () => {
  /** JSON text of any value, its objects' keys in any order, with integer-like and `__proto__` names among them. */
  const jsonText = fc
    .tuple(
      fc.jsonValue(),
      fc.nat(),
      fc.dictionary(fc.constantFrom('__proto__', '10', '2', '01', 'b', 'a', ''), fc.jsonValue(), {
        maxKeys: 5,
      }),
    )
    .map(([value, seed, extra]) =>
      JSON.stringify([shuffled(value, seed), extra]).replace('[', '[{"__proto__":1},'),
    );

  it('writes exactly what canonicalJson writes for a parsed body, so fingerprints stay the same', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        expect(canonicalJsonInPlace(JSON.parse(text))).toBe(canonicalJson(JSON.parse(text)));
      }),
    );
  });

  it('keeps an array of more than ten members an array, in its order (their indexes do not sort as text)', () => {
    const text = JSON.stringify({
      z: 1,
      items: Array.from({ length: 12 }, (_, index) => ({ b: index, a: -index })),
    });
    expect(canonicalJsonInPlace(JSON.parse(text))).toBe(canonicalJson(JSON.parse(text)));
    expect(canonicalJsonInPlace(JSON.parse(text))).toMatch(/^\{"items":\[\{"a":0,"b":0\},/);
  });

  it('keeps a `__proto__` member of an object it sorts as a member, never as a prototype', () => {
    const sorted = canonicalJsonInPlace(JSON.parse('{"b":1,"__proto__":{"z":1,"y":2}}'));
    expect(sorted).toBe('{"__proto__":{"y":2,"z":1},"b":1}');
  });

  it('writes what canonicalJson writes for a body nested deeper than it sorts in place', () => {
    for (const depth of [999, 1000, 1001, 1500]) {
      const text = `${'{"b":1,"a":'.repeat(depth)}[{"d":1,"c":2}]${'}'.repeat(depth)}`;
      expect(canonicalJsonInPlace(JSON.parse(text))).toBe(canonicalJson(JSON.parse(text)));
    }
  });

  it('gives up where canonicalJson gives up, for a body deeper than it but not too deep to write', () => {
    /** The text, or the kind of error: what a door gets back for the body. */
    const outcome = (write: (value: unknown) => string, text: string) => {
      try {
        return write(JSON.parse(text));
      } catch (error) {
        return (error as Error).constructor.name;
      }
    };
    // Past canonicalJson's limit (about 2,000 levels here) and under JSON.stringify's own (about 4,000): a
    // fingerprint made in place would differ from every one the general form makes, the door's bytes fallback.
    for (const depth of [2500, 3000, 3500]) {
      for (const text of [
        `${'['.repeat(depth)}1${']'.repeat(depth)}`,
        `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
        `${'{"b":1,"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
      ]) {
        expect(outcome(canonicalJsonInPlace, text)).toBe(outcome(canonicalJson, text));
      }
    }
  });

  it('throws what canonicalJson throws for a body too deep for either', () => {
    const text = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    expect(() => canonicalJson(JSON.parse(text))).toThrow(RangeError);
    expect(() => canonicalJsonInPlace(JSON.parse(text))).toThrow(RangeError);
  });
});

describe('fingerprintOf', () => {
  /** How fingerprints were always computed: a Hash fed each part's byte length and bytes. */
  const reference = (parts: readonly string[]) => {
    const hash = createHash('sha256');
    for (const part of parts) {
      const bytes = Buffer.from(part, 'utf8');
      hash.update(`${bytes.byteLength}:`);
      hash.update(bytes);
    }
    return hash.digest('base64url');
  };

  it('digests string parts as it always did, lone surrogates included, so stored records keep matching', () => {
    fc.assert(
      fc.property(fc.array(anyString, { maxLength: 6 }), (parts) => {
        expect(fingerprintOf(parts)).toBe(reference(parts));
        expect(fingerprintOf(parts.map((part) => Buffer.from(part, 'utf8')))).toBe(reference(parts));
      }),
    );
  });

  it('digests byte parts as their bytes, also bytes that are no UTF-8 text (a binary body)', () => {
    fc.assert(
      fc.property(fc.string(), fc.uint8Array({ minLength: 1, maxLength: 64 }), (text, bytes) => {
        const hash = createHash('sha256');
        hash.update(`${Buffer.byteLength(text, 'utf8')}:${text}`);
        hash.update(`${bytes.byteLength}:`);
        hash.update(bytes);
        expect(fingerprintOf([text, bytes])).toBe(hash.digest('base64url'));
        // Bytes alone too: no text part, and still no UTF-8 reading of them.
        const alone = createHash('sha256').update(`${bytes.byteLength}:`).update(bytes);
        expect(fingerprintOf([bytes])).toBe(alone.digest('base64url'));
      }),
    );
    expect(fingerprintOf([Uint8Array.of(0xff)])).not.toBe(fingerprintOf([Uint8Array.of(0xfe)]));
  });

  it('digests a body that is JSON null, a string or a number as canonicalJson writes it', () => {
    // A string of more than ten characters too: its indexes, read as names, are out of order as text.
    for (const text of ['null', '"text"', '"a string of more than ten characters"', '12', 'true'])
      expect(canonicalJsonInPlace(JSON.parse(text))).toBe(canonicalJson(JSON.parse(text)));
  });

  it('length-prefixes its parts, so moving a boundary changes the fingerprint', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, b, c) => {
        fc.pre(a !== `${a}${b}`.slice(0, a.length + 1) || b.length > 0);
        fc.pre(b.length > 0);
        expect(fingerprintOf([a, `${b}${c}`])).not.toBe(fingerprintOf([`${a}${b}`, c]));
      }),
    );
  });
});

describe('canonicalJson on a cycle', () => {
  it('throws a TypeError before any side effect, as JSON.stringify does', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(TypeError);
  });
});
