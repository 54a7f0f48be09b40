import * as z from 'zod/mini';
import { buildGuard } from './door.js';
import { durableGuardInput, isDurableContext } from './durable.js';
import {
  IdempotencyInProgressError,
  IdempotencyKeyMismatchError,
  IdempotencyPreviouslyFailedError,
  IdempotencyResultOmittedError,
} from './errors.js';
import {
  defaultArgumentsFingerprint,
  isLambdaContext,
  remainingTimeOf,
  valueFingerprint,
} from './fingerprint.js';
import type { Duplicate } from './guard.js';
import {
  type CommonOptions,
  commonOptionsShape,
  functionSchema,
  orgSchema,
  parseOptions,
  scopeSchema,
} from './options.js';

/**
 * Options of {@link makeIdempotent}.
 *
 * @example
 * { store, scope: 'charge', org: (payment) => payment.orgId, key: (payment) => payment.paymentId }
 */
export interface MakeIdempotentOptions<Args extends unknown[], Result = unknown> extends CommonOptions {
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
  /**
   * Runs once per operation, right after its result is stored (an audit record): never on a replay, a
   * duplicate, a lost lease or a released key. A throw is logged; the call still returns the result.
   * @default none
   */
  readonly onFirstCompletion?: (result: Result, ...args: Args) => Promise<void> | void;
}

const schema = z.strictObject({
  ...commonOptionsShape,
  scope: scopeSchema,
  org: orgSchema,
  key: functionSchema,
  fingerprint: z.optional(functionSchema),
  onFirstCompletion: z.optional(functionSchema),
});

/**
 * Makes any async function idempotent: the first call with a key runs it and stores its result; later
 * calls with the same key and arguments get the stored result without running it. The first call's lease is
 * renewed while it runs; `leaseSignal()` inside the function aborts if another invocation takes it over.
 *
 * Throws {@link IdempotencyKeyMismatchError} for a reused key with other arguments,
 * {@link IdempotencyInProgressError} while the first call still runs past the wait budget,
 * {@link IdempotencyResultOmittedError} when the first call's result was too large to store, and
 * {@link IdempotencyStoreError} when the store fails and `strictFailClosed` is on (otherwise it runs).
 *
 * @example
 * const charge = makeIdempotent(async (payment: Payment) => psp.charge(payment), {
 *   store, scope: 'charge', org: (payment) => payment.orgId, key: (payment) => payment.paymentId,
 * });
 */
export function makeIdempotent<Args extends unknown[], Result>(
  operation: (...args: Args) => Promise<Result> | Result,
  options: MakeIdempotentOptions<Args, Result>,
): (...args: Args) => Promise<Result> {
  parseOptions(schema, options, 'makeIdempotent');
  const guard = buildGuard(options, 'makeIdempotent');
  const { scope } = options;

  // `this` passes through to the operation, so a method (and the `@idempotent()` decorator) keeps its instance.
  const guarded = async function guarded(this: unknown, ...args: Args): Promise<Result> {
    const context = args.find(isLambdaContext);
    const entry = await guard.enter({
      org: typeof options.org === 'string' ? options.org : options.org(...args),
      scope,
      key: options.key(...args),
      fingerprint:
        options.fingerprint === undefined
          ? defaultArgumentsFingerprint(args.filter((arg) => !isDurableContext(arg)))
          : valueFingerprint(options.fingerprint(...args)),
      // A durable execution owns its record: its replays take their own lease up again (protocol section 10).
      ...durableGuardInput(args, () => remainingTimeOf(context)),
    });
    switch (entry.kind) {
      case 'unguarded':
        return operation.apply(this, args);
      case 'refused':
        throw entry.error;
      case 'duplicate':
        return answer(entry.decision) as Result;
      case 'owner': {
        const outcome = await entry.ownership.run(() => operation.apply(this, args));
        if (!outcome.ok) {
          await entry.ownership.release();
          throw outcome.error;
        }
        const { onFirstCompletion } = options;
        await entry.ownership.complete(outcome.value, {
          audit: onFirstCompletion && (() => onFirstCompletion(outcome.value, ...args)),
        });
        return outcome.value;
      }
    }
  };

  return async function idempotent(this: unknown, ...args: Args): Promise<Result> {
    if (guard.engine.mode === 'off') return operation.apply(this, args);
    try {
      return await guarded.apply(this, args);
    } finally {
      // The call's metrics in one EMF document: the wrapper cannot see the invocation around it.
      guard.engine.telemetry.flush?.();
    }
  };
}

/** The stored result, or the error that says why there is none to give. */
function answer(decision: Duplicate): unknown {
  switch (decision.kind) {
    case 'replay':
      if (decision.dropped !== undefined)
        throw new IdempotencyResultOmittedError(decision.record, decision.dropped);
      return decision.result;
    case 'mismatch':
      throw new IdempotencyKeyMismatchError(decision.record);
    case 'in_progress':
      throw new IdempotencyInProgressError(decision.record, decision.retryAfterSeconds);
    case 'failed':
      throw new IdempotencyPreviouslyFailedError(decision.record);
  }
}
