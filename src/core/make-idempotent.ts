import * as z from 'zod/mini';
import {
  type CommonOptions,
  commonOptionsShape,
  functionSchema,
  orgSchema,
  parseOptions,
  scopeSchema,
} from './config.js';
import { buildEngine } from './door.js';
import type { Lease } from './engine.js';
import {
  IdempotencyInProgressError,
  IdempotencyKeyMismatchError,
  IdempotencyPreviouslyFailedError,
  IdempotencyStoreError,
} from './errors.js';
import { canonicalJson, defaultArgumentsFingerprint, fingerprintOf, isLambdaContext } from './fingerprint.js';

/**
 * Options of {@link makeIdempotent}.
 *
 * @example
 * { store, scope: 'charge', org: (payment) => payment.orgId, key: (payment) => payment.paymentId }
 */
export interface MakeIdempotentOptions<Args extends unknown[]> extends CommonOptions {
  /** The operation's name; two operations never share records. */
  readonly scope: string;
  /** The tenant, from trusted data: a constant or a function of the arguments. */
  readonly org: string | ((...args: Args) => string);
  /** The idempotency key, from the arguments (a business id). */
  readonly key: (...args: Args) => string;
  /**
   * What the call means, compared on every duplicate: a reused key with a different fingerprint throws
   * {@link IdempotencyKeyMismatchError}.
   * @default canonical JSON of every argument except a Lambda context
   */
  readonly fingerprint?: (...args: Args) => unknown;
}

const schema = z.strictObject({
  ...commonOptionsShape,
  scope: scopeSchema,
  org: orgSchema,
  key: functionSchema,
  fingerprint: z.optional(functionSchema),
});

/**
 * Makes any async function idempotent: the first call with a key runs it and stores its result; later
 * calls with the same key and arguments get the stored result without running it.
 *
 * Throws {@link IdempotencyKeyMismatchError} for a reused key with other arguments,
 * {@link IdempotencyInProgressError} while the first call still runs past the wait budget, and
 * {@link IdempotencyStoreError} when the store fails and `strictFailClosed` is on (otherwise it runs).
 *
 * @example
 * const charge = makeIdempotent(async (payment: Payment) => psp.charge(payment), {
 *   store, scope: 'charge', org: (payment) => payment.orgId, key: (payment) => payment.paymentId,
 * });
 */
export function makeIdempotent<Args extends unknown[], Result>(
  operation: (...args: Args) => Promise<Result> | Result,
  options: MakeIdempotentOptions<Args>,
): (...args: Args) => Promise<Result> {
  parseOptions(schema, options, 'makeIdempotent');
  const engine = buildEngine(options);
  const { scope } = options;

  return async function idempotent(...args: Args): Promise<Result> {
    if (engine.mode === 'off') return operation(...args);
    const org = typeof options.org === 'string' ? options.org : options.org(...args);
    const key = options.key(...args);
    const fingerprint =
      options.fingerprint === undefined
        ? defaultArgumentsFingerprint(args)
        : // Canonical, so a fingerprint object built with its keys in another order is the same request.
          fingerprintOf([canonicalJson(options.fingerprint(...args))]);
    const context = args.find(isLambdaContext);
    let decision: Awaited<ReturnType<typeof engine.begin>>;
    try {
      decision = await engine.begin({
        org,
        scope,
        key,
        fingerprint,
        remainingTimeMs: context?.getRemainingTimeInMillis(),
      });
    } catch (error) {
      if (error instanceof IdempotencyStoreError && !engine.settings.strictFailClosed)
        return operation(...args);
      throw error;
    }
    if (decision.kind === 'execute') return runUnderLease(decision.lease);
    if (engine.mode === 'observe') return operation(...args);
    switch (decision.kind) {
      case 'replay':
        return decision.result as Result;
      case 'mismatch':
        throw new IdempotencyKeyMismatchError(decision.record);
      case 'in_progress':
        throw new IdempotencyInProgressError(decision.record, decision.retryAfterSeconds);
      case 'failed':
        throw new IdempotencyPreviouslyFailedError(decision.record);
    }

    async function runUnderLease(lease: Lease): Promise<Result> {
      let result: Result;
      try {
        result = await operation(...args);
      } catch (error) {
        await engine.release(lease).catch(() => undefined);
        throw error;
      }
      // The side effect happened: a store failure here is logged and counted, never thrown.
      await engine.complete(lease, result).catch(() => undefined);
      return result;
    }
  };
}
