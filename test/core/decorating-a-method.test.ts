/**
 * `@idempotent()` applied as the runtime applies a standard decorator: `decorate(method, context)` when the class
 * is defined, the returned function in the method's place. On a memory store, so it runs without DynamoDB Local
 * (decorator.test.ts runs real decorated classes on DynamoDB Local).
 */
import { describe, expect, it } from 'vitest';
import { idempotent } from '../../src/core/decorator.js';
import { IdempotencyConfigError } from '../../src/core/errors.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

interface Ledger {
  readonly name: string;
  runs: number;
}

const options = () => ({
  store: new MemoryStore(),
  scope: 'post-entry',
  org: 'acme',
  key: (entry: string) => entry,
  environment: 'test' as const,
  telemetry: recordingTelemetry().telemetry,
});

/** The context the runtime passes for a method (or, cast, for another kind of class element). */
const contextOf = (kind: string) =>
  ({ kind, name: 'post', static: false, private: false }) as unknown as ClassMethodDecoratorContext<
    Ledger,
    (this: Ledger, entry: string) => Promise<string>
  >;

async function post(this: Ledger, entry: string): Promise<string> {
  this.runs += 1;
  return `${this.name} posted ${entry}`;
}

describe('@idempotent() as the runtime applies it', () => {
  it('puts a method in place that runs once with the instance as `this` and replays afterwards', async () => {
    const decorated = idempotent(options())(post, contextOf('method'));
    const ledger: Ledger = { name: 'main', runs: 0 };
    expect(await decorated.call(ledger, 'e-1')).toBe('main posted e-1');
    expect(await decorated.call(ledger, 'e-1')).toBe('main posted e-1');
    expect(ledger.runs).toBe(1);
  });

  it.each(['getter', 'setter', 'field', 'accessor', 'class'])(
    'refuses a %s when the class is defined, naming what it is applied to',
    (kind) => {
      const decorate = idempotent(options());
      let thrown: unknown;
      try {
        decorate(post, contextOf(kind));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(IdempotencyConfigError);
      expect((thrown as IdempotencyConfigError).message).toBe(
        `Expected \`@idempotent()\` to be applied to a method, got 'a ${kind}'.`,
      );
    },
  );

  it('checks the options when the class is defined, before any call', () => {
    const decorate = idempotent({ ...options(), scope: 'post#entry' });
    expect(() => decorate(post, contextOf('method'))).toThrow(IdempotencyConfigError);
  });
});
