import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  defaultArgumentsFingerprint,
  remainingTimeOf,
  valueFingerprint,
} from '../../src/core/fingerprint.js';

/** A Lambda context of one invocation: every invocation has its own request id and remaining time. */
function invocation(requestId: string, remainingMs: number): Context {
  return {
    awsRequestId: requestId,
    functionName: 'charge',
    getRemainingTimeInMillis: () => remainingMs,
  } as unknown as Context;
}

describe('the default fingerprint of a wrapped function’s arguments', () => {
  it('is the same for two invocations that differ only in their Lambda context', () => {
    const payment = { paymentId: 'pay-1', amount: 5 };
    expect(defaultArgumentsFingerprint([payment, invocation('req-1', 900)])).toBe(
      defaultArgumentsFingerprint([payment, invocation('req-2', 12_000)]),
    );
  });

  it('still tells two different arguments apart next to a Lambda context', () => {
    const context = invocation('req-1', 900);
    expect(defaultArgumentsFingerprint([{ amount: 5 }, context])).not.toBe(
      defaultArgumentsFingerprint([{ amount: 6 }, context]),
    );
  });

  it('takes a null argument as a value: it differs from no argument and from an object', () => {
    expect(defaultArgumentsFingerprint([null])).not.toBe(defaultArgumentsFingerprint([]));
    expect(defaultArgumentsFingerprint([null])).not.toBe(defaultArgumentsFingerprint([{}]));
  });

  it('keeps a plain object that merely has a non-function getRemainingTimeInMillis member', () => {
    expect(defaultArgumentsFingerprint([{ getRemainingTimeInMillis: 1 }])).not.toBe(
      defaultArgumentsFingerprint([{ getRemainingTimeInMillis: 2 }]),
    );
  });
});

describe('the remaining time of an invocation', () => {
  it('is read from a Lambda context, 0 included', () => {
    expect(remainingTimeOf(invocation('req-1', 1234))).toBe(1234);
    expect(remainingTimeOf(invocation('req-1', 0))).toBe(0);
  });

  it('is unknown for anything that is not a Lambda context', () => {
    expect(remainingTimeOf(undefined)).toBeUndefined();
    expect(remainingTimeOf(null)).toBeUndefined();
    expect(remainingTimeOf({ getRemainingTimeInMillis: 1234 })).toBeUndefined();
  });
});

describe('binary values in a fingerprinted value', () => {
  it('count by their own bytes, wherever the view sits in its buffer', () => {
    const whole = Uint8Array.from([9, 9, 1, 2, 3, 9]);
    const view = whole.subarray(2, 5);
    expect(canonicalJson({ file: view })).toBe(canonicalJson({ file: Uint8Array.from([1, 2, 3]) }));
    expect(valueFingerprint({ file: view })).not.toBe(valueFingerprint({ file: Uint8Array.from([1, 2, 4]) }));
  });

  it('differ from the same numbers sent as a JSON array', () => {
    expect(valueFingerprint({ file: Uint8Array.from([1, 2, 3]) })).not.toBe(
      valueFingerprint({ file: [1, 2, 3] }),
    );
  });
});

describe('a BigInt in a fingerprinted value', () => {
  it('counts by its digits, so 10n and 11n differ and 10n is the same every time', () => {
    expect(valueFingerprint({ amount: 10n })).toBe(valueFingerprint({ amount: 10n }));
    expect(valueFingerprint({ amount: 10n })).not.toBe(valueFingerprint({ amount: 11n }));
  });
});

describe('an object referenced twice (not a cycle)', () => {
  it('is fingerprinted like two copies of it, with its keys sorted in both places', () => {
    const shared = { b: 1, a: 2 };
    expect(canonicalJson({ x: shared, y: shared })).toBe('{"x":{"a":2,"b":1},"y":{"a":2,"b":1}}');
  });
});
