/**
 * Classes whose methods carry `@idempotent()`, for test/core/decorator.test.ts. Type-checked by `tsc` as written;
 * the test lowers the decorators with esbuild before running them (Vitest's transform keeps standard decorators
 * as they are, and Node 22 does not run them).
 */
import type { Context } from 'aws-lambda';
import { idempotent } from '../../src/core/decorator.js';
import { leaseSignal } from '../../src/core/guard.js';
import type { MakeIdempotentOptions } from '../../src/core/make-idempotent.js';

export interface Payment {
  readonly orgId: string;
  readonly paymentId: string;
  readonly amount: number;
}

export type Charge = (payment: Payment) => Promise<unknown>;

/** A class with one decorated method that records each run on its instance and calls `psp`. */
export function paymentsClass(options: MakeIdempotentOptions<[Payment]>) {
  class Payments {
    readonly runs: Payment[] = [];
    readonly signals: (AbortSignal | undefined)[] = [];
    readonly psp: Charge;
    constructor(psp: Charge) {
      this.psp = psp;
    }

    @idempotent(options)
    async charge(payment: Payment): Promise<unknown> {
      this.runs.push(payment);
      this.signals.push(leaseSignal());
      return this.psp(payment);
    }
  }
  return Payments;
}

/** A Lambda handler class, as Powertools users write them: `handler(event, context)`. */
export function handlerClass(options: MakeIdempotentOptions<[{ orderId: string }, Context]>) {
  class OrdersHandler {
    runs = 0;

    @idempotent(options)
    async handler(event: { orderId: string }, _context: Context): Promise<{ orderId: string; run: number }> {
      this.runs += 1;
      return { orderId: event.orderId, run: this.runs };
    }
  }
  return OrdersHandler;
}

/** Static and private methods, decorated the same way. */
export function otherMethodsClass(options: MakeIdempotentOptions<[string]>) {
  class Ledger {
    static runs = 0;
    #runs = 0;

    @idempotent(options)
    static async post(entry: string): Promise<string> {
      Ledger.runs += 1;
      return `posted ${entry}`;
    }

    @idempotent({ ...options, scope: `${options.scope}-private` })
    async #reverse(entry: string): Promise<string> {
      this.#runs += 1;
      return `reversed ${entry}`;
    }

    reverse(entry: string): Promise<string> {
      return this.#reverse(entry);
    }

    get privateRuns(): number {
      return this.#runs;
    }
  }
  return Ledger;
}
