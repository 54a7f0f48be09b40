/**
 * How a door tells a Lambda durable function's context apart and what it then asks the guard (docs/protocol.md
 * section 10), and the step keys a durable handler guards its side effects with. No store: these are the rules the
 * DynamoDB-backed tests beside this file rely on.
 */
import { describe, expect, it } from 'vitest';
import { durableGuardInput, durableStepKey, isDurableContext } from '../../src/core/durable.js';
import { IdempotencyValidationError } from '../../src/core/errors.js';
import { keyDigest } from '../../src/core/keys.js';

const ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:orders:$LATEST/durable-execution/run-1/abc';

const durableContext = (arn: unknown = ARN) => ({
  executionContext: { durableExecutionArn: arn },
  step: async (): Promise<void> => {},
});

describe('a durable context', () => {
  it('is an object with a step function that names its execution', () => {
    expect(isDurableContext(durableContext())).toBe(true);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', ARN],
    ['a Lambda context', { functionName: 'orders', getRemainingTimeInMillis: () => 1000 }],
    ['a context without step', { executionContext: { durableExecutionArn: ARN } }],
    ['a context whose step is no function', { ...durableContext(), step: 'charge' }],
    ['a context without its execution', { step: async (): Promise<void> => {} }],
    ['a context whose execution has no ARN', { ...durableContext(), executionContext: {} }],
    ['a context whose ARN is no string', durableContext(42)],
  ])('is not %s', (_, value) => {
    expect(isDurableContext(value)).toBe(false);
  });
});

describe('the key of a durable step', () => {
  it('is the digest of the execution ARN and the step name, so it stays short', () => {
    const key = durableStepKey(durableContext() as never, 'charge');
    expect(key).toBe(`${keyDigest(ARN)}#charge`);
    expect(key).not.toContain(ARN);
  });

  it('differs by step and by execution', () => {
    const one = durableStepKey(durableContext() as never, 'charge');
    expect(durableStepKey(durableContext() as never, 'refund')).not.toBe(one);
    expect(durableStepKey(durableContext(`${ARN}x`) as never, 'charge')).not.toBe(one);
  });

  it('takes a step name of 1 to 200 characters', () => {
    expect(durableStepKey(durableContext() as never, 'a')).toMatch(/#a$/);
    expect(durableStepKey(durableContext() as never, 's'.repeat(200))).toMatch(/#s{200}$/);
  });

  it.each([
    ['an empty step name', '', /got 0 characters\./],
    ['a step name of 201 characters', 's'.repeat(201), /got 201 characters\./],
    ['a step name that is no string', 7, /got number\./],
  ])('refuses %s, saying what it expected', (_, step, got) => {
    const refuse = () => durableStepKey(durableContext() as never, step as string);
    expect(refuse).toThrow(IdempotencyValidationError);
    expect(refuse).toThrow(/Expected the step name of `durableStepKey` to be 1 to 200 characters, got/);
    expect(refuse).toThrow(got);
  });
});

describe('what a door asks the guard for', () => {
  const remainingTimeMs = () => 1234;

  it('is only the remaining time, unchanged, when no candidate is a durable context', () => {
    const input = durableGuardInput([{ id: 'order-1' }, null, { functionName: 'orders' }], remainingTimeMs);
    expect(input).toStrictEqual({ remainingTimeMs });
  });

  it('is the execution as owner, its own lease taken up, and no bound by the invocation, for a durable context', () => {
    const input = durableGuardInput([{ id: 'order-1' }, durableContext()], remainingTimeMs);
    expect(input).toStrictEqual({ remainingTimeMs: expect.any(Function), owner: ARN, resumeOwnLease: true });
    expect(input.remainingTimeMs()).toBeUndefined();
  });
});
