import { describe, expectTypeOf, it } from 'vitest';
import {
  type IdempotencyError,
  type IdempotencyProblemError,
  type IdempotencyRequestError,
  type IdempotentClient,
  type IdempotentRequestInit,
  type ProblemDetails,
  ProblemType,
  type RetryInfo,
} from '../../src/client/index.js';

describe('idemkit/client types', () => {
  it('is a fetch: a URL and RequestInit plus the key and correlation id, resolving to a Response', () => {
    expectTypeOf<IdempotentClient['fetch']>().parameters.toEqualTypeOf<
      [input: string | URL, init?: IdempotentRequestInit]
    >();
    expectTypeOf<IdempotentClient['fetch']>().returns.toEqualTypeOf<Promise<Response>>();
    expectTypeOf<IdempotentRequestInit>().toMatchTypeOf<RequestInit>();
    expectTypeOf<IdempotentRequestInit['idempotencyKey']>().toEqualTypeOf<string | undefined>();
  });

  it('throws members of the one error family, with the facts a caller needs typed', () => {
    expectTypeOf<IdempotencyProblemError>().toMatchTypeOf<IdempotencyError>();
    expectTypeOf<IdempotencyRequestError>().toMatchTypeOf<IdempotencyError>();
    expectTypeOf<IdempotencyProblemError['problem']>().toEqualTypeOf<ProblemDetails>();
    expectTypeOf<IdempotencyProblemError['status']>().toBeNumber();
    expectTypeOf<IdempotencyRequestError['reason']>().toEqualTypeOf<'network' | 'timeout'>();
    expectTypeOf<RetryInfo['reason']>().toEqualTypeOf<'status' | 'network' | 'timeout'>();
  });

  it('names each problem type of the middleware as a literal URI', () => {
    expectTypeOf(
      ProblemType.KeyMismatch,
    ).toEqualTypeOf<'https://idemkit.dev/problems/idempotency-key-reused'>();
    expectTypeOf(ProblemType.InProgress).toEqualTypeOf<'https://idemkit.dev/problems/request-in-progress'>();
  });
});
