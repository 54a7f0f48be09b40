import { IdempotencyConfigError } from './errors.js';
import { type MakeIdempotentOptions, makeIdempotent } from './make-idempotent.js';
import { expected } from './messages.js';

/**
 * `@idempotent(options)`: makes an async method idempotent, exactly as {@link makeIdempotent} does (the same
 * options, checked when the class is defined, and the same errors). A TypeScript standard (TC39) method
 * decorator: no `experimentalDecorators`. `this` is the instance; records are shared by every instance, so the
 * key must name the operation, not the object. Static and private methods work alike.
 *
 * @example
 * class Payments {
 *   @idempotent({ store, scope: 'charge', org: (payment: Payment) => payment.orgId, key: (payment) => payment.paymentId })
 *   async charge(payment: Payment): Promise<Receipt> { return this.psp.charge(payment); }
 * }
 */
export function idempotent<Args extends unknown[], Declared = unknown>(
  options: MakeIdempotentOptions<Args, Declared>,
) {
  // The method's own result type, within what `onFirstCompletion` (when typed) accepts.
  return function decorate<This, Result extends Declared>(
    method: (this: This, ...args: Args) => Promise<Result>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Promise<Result>>,
  ): (this: This, ...args: Args) => Promise<Result> {
    if (context.kind !== 'method') {
      throw new IdempotencyConfigError([
        expected(
          '`@idempotent()`',
          'applied to a method',
          `a ${String((context as { kind: unknown }).kind)}`,
        ),
      ]);
    }
    // Built once, when the class is defined: the options are validated and the guard made, as at cold start.
    const wrapped = makeIdempotent(method, options);
    return function idempotentMethod(this: This, ...args: Args): Promise<Result> {
      return wrapped.apply(this, args);
    };
  };
}
