import { IdempotencyValidationError } from './errors.js';
import type { GuardInput } from './guard.js';
import { keyDigest } from './keys.js';

/**
 * The part of a Lambda durable function's `DurableContext` (`@aws/durable-execution-sdk-js`) idemkit reads:
 * which execution runs, and the invocation's Lambda context. idemkit does not import the SDK.
 */
export interface DurableExecutionContext {
  readonly executionContext: { readonly durableExecutionArn: string };
  readonly lambdaContext?: { getRemainingTimeInMillis(): number };
  readonly step: (...args: never[]) => unknown;
}

/** Whether `value` is a durable function's context: it has `step` and names its execution. */
export function isDurableContext(value: unknown): value is DurableExecutionContext {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { step?: unknown; executionContext?: { durableExecutionArn?: unknown } };
  return (
    typeof candidate.step === 'function' &&
    typeof candidate.executionContext?.durableExecutionArn === 'string'
  );
}

/**
 * The idempotency key of one step of one durable execution, for a side effect inside `context.step(...)`:
 * steps are at least once (a step that crashes after its side effect but before its checkpoint runs again on
 * replay), so guard the side effect with `makeIdempotent` keyed by this. `step` must name the step uniquely
 * within the execution (add the loop index for steps in a loop). The execution ARN is digested, so the key
 * stays within 255 characters.
 *
 * @example
 * await context.step('charge', () => chargeOnce(order, durableStepKey(context, 'charge')));
 */
export function durableStepKey(context: DurableExecutionContext, step: string): string {
  if (typeof step !== 'string' || step.length === 0 || step.length > 200) {
    throw new IdempotencyValidationError(
      'key',
      `Expected the step name of \`durableStepKey\` to be 1 to 200 characters, got ${typeof step === 'string' ? `${step.length} characters` : typeof step}.`,
    );
  }
  return `${keyDigest(context.executionContext.durableExecutionArn)}#${step}`;
}

/**
 * What a door adds to its guard input so that a Lambda durable execution owns its record
 * (docs/protocol.md section 10): when one of `candidates` (the door's arguments or its context) is a durable
 * context, the execution ARN is the owner, a replay takes its own live lease up again, and the lease is not
 * bounded by the invocation's remaining time (the execution outlives the invocation). Otherwise only
 * `remainingTimeMs` is given, unchanged.
 *
 * @example
 * guard.enter({ org, scope, key, fingerprint, ...durableGuardInput(args, () => remainingTimeOf(context)) });
 */
export function durableGuardInput(
  candidates: readonly unknown[],
  remainingTimeMs: () => number | undefined,
): Pick<GuardInput, 'remainingTimeMs' | 'owner' | 'resumeOwnLease'> {
  const durable = candidates.find(isDurableContext);
  if (durable === undefined) return { remainingTimeMs };
  return {
    remainingTimeMs: () => undefined,
    owner: durable.executionContext.durableExecutionArn,
    resumeOwnLease: true,
  };
}
