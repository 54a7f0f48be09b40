import { describe, expect, it } from 'vitest';
import { IdempotencyValidationError } from '../../src/core/errors.js';
import { assertValidKey, assertValidName } from '../../src/core/keys.js';

/** The message of the error `assertValidKey` throws for `key`. */
function refusal(key: unknown): string {
  try {
    assertValidKey(key);
  } catch (error) {
    expect(error).toBeInstanceOf(IdempotencyValidationError);
    return (error as Error).message;
  }
  throw new Error('Expected the key to be refused.');
}

// A wrapper's or a job's caller reads these messages when its key function returns something unusable: each
// one names what was wrong with the key (never the key itself).
describe('a refused idempotency key', () => {
  it('says it expected a string and names what it got instead', () => {
    expect(refusal(42)).toMatch(/string.*number/);
    expect(refusal(null)).toMatch(/string.*null/);
    expect(refusal([])).toMatch(/string.*an array/);
    expect(refusal({})).toMatch(/string.*an object/);
  });

  it('says it has control characters', () => {
    expect(refusal('order\n42')).toMatch(/control character/);
  });

  it('says it is not well-formed Unicode when it holds a lone surrogate', () => {
    expect(refusal('order-\ud800')).toMatch(/lone surrogate/);
  });
});

describe('a refused org or scope', () => {
  it('names the option and what it got instead of a string, or its length', () => {
    expect(() => assertValidName('org', 7)).toThrow(/`org`.*string.*number/);
    expect(() => assertValidName('scope', 's'.repeat(129))).toThrow(/`scope`.*1 to 128 characters, got 129/);
  });
});
