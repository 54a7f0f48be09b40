import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'aws-lambda';
import { transform } from 'esbuild';
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { idempotent } from '../../src/core/decorator.js';
import {
  IdempotencyConfigError,
  IdempotencyInProgressError,
  IdempotencyKeyMismatchError,
  IdempotencyStoreError,
} from '../../src/core/errors.js';
import type { MakeIdempotentOptions } from '../../src/core/make-idempotent.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { Fault, faultyClient } from '../stores/faults.js';
import { createIdempotencyTable } from '../support/dynamodb.js';
import type * as Fixture from './decorator-fixture.js';
import { recordingTelemetry } from './recording-telemetry.js';

// The makeIdempotent tests that apply to a method, run through `@idempotent()` on DynamoDB Local.
const { client, control } = faultyClient();
let store: DynamoDBStore;
let fixture: typeof Fixture;
const lowered = new URL(`../../.cache/decorator-test/fixture-${process.pid}.mjs`, import.meta.url);

/**
 * Loads decorator-fixture.ts with its standard decorators lowered by esbuild (Vitest's transform leaves them in
 * place and Node 22 cannot run them); its imports point at the same source modules this test imports.
 */
async function loadFixture(): Promise<typeof Fixture> {
  const source = new URL('./decorator-fixture.ts', import.meta.url);
  const { code } = await transform(readFileSync(source, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'es2022',
  });
  const absolute = code.replaceAll(
    /from "(\.{1,2}\/[^"]+)"/g,
    (_match, path: string) => `from "${new URL(path, source).pathname}"`,
  );
  mkdirSync(new URL('./', lowered), { recursive: true });
  writeFileSync(lowered, absolute);
  return (await import(lowered.pathname)) as typeof Fixture;
}

beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'decorator'), client });
  fixture = await loadFixture();
});
afterAll(() => {
  client.destroy();
  rmSync(lowered, { force: true });
});
beforeEach(() => control.reset());

let ids = 0;
const payment = (overrides: Partial<Fixture.Payment> = {}): Fixture.Payment => ({
  orgId: 'acme',
  paymentId: `pay-${process.pid}-${Date.now()}-${++ids}`,
  amount: 100,
  ...overrides,
});

function payments(
  options: Partial<MakeIdempotentOptions<[Fixture.Payment]>> = {},
  psp: Fixture.Charge = async (p) => ({ charged: p.amount }),
) {
  const telemetry = recordingTelemetry();
  const Payments = fixture.paymentsClass({
    store,
    scope: 'charge-method',
    org: (p) => p.orgId,
    key: (p) => p.paymentId,
    environment: 'test',
    mode: 'enforce',
    waitBudgetMs: 0,
    telemetry: telemetry.telemetry,
    ...options,
  });
  return { instance: new Payments(psp), Payments, telemetry };
}

describe('@idempotent()', () => {
  it('runs the method once, with its instance as `this`, and replays the stored result', async () => {
    const { instance } = payments();
    const p = payment();
    expect(await instance.charge(p)).toEqual({ charged: 100 });
    control.reset();
    expect(await instance.charge({ ...p })).toEqual({ charged: 100 });
    expect(instance.runs).toHaveLength(1);
    expect(control.calls).toEqual(['PutItemCommand']);
  });

  it('shares records between instances: the key names the operation, not the object', async () => {
    const { instance, Payments } = payments();
    const p = payment();
    await instance.charge(p);
    const other = new Payments(async () => 'never');
    expect(await other.charge(p)).toEqual({ charged: 100 });
    expect(other.runs).toHaveLength(0);
  });

  it('throws IdempotencyKeyMismatchError for a reused key with other arguments, without running', async () => {
    const { instance } = payments();
    const p = payment();
    await instance.charge(p);
    await expect(instance.charge({ ...p, amount: 999 })).rejects.toBeInstanceOf(IdempotencyKeyMismatchError);
    expect(instance.runs).toHaveLength(1);
  });

  it('throws IdempotencyInProgressError while the first call still runs, and gives that call its lease signal', async () => {
    let finish: () => void = () => {};
    const { instance } = payments({}, () => new Promise((resolve) => (finish = () => resolve('done'))));
    const p = payment();
    const first = instance.charge(p);
    while (instance.runs.length === 0) await sleep(5);
    const error = await instance.charge(p).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyInProgressError);
    finish();
    expect(await first).toBe('done');
    expect(instance.signals[0]).toBeInstanceOf(AbortSignal);
  });

  it('releases when the method throws, so a retry runs it again', async () => {
    let fail = true;
    const { instance, telemetry } = payments({}, async () => {
      if (fail) throw new Error('psp down');
      return 'charged';
    });
    const p = payment();
    await expect(instance.charge(p)).rejects.toThrow('psp down');
    expect(telemetry.names()).toContain('released');
    fail = false;
    expect(await instance.charge(p)).toBe('charged');
    expect(instance.runs).toHaveLength(2);
  });

  it('in off mode makes no store call and runs every time', async () => {
    const { instance } = payments({ mode: 'off' });
    const p = payment();
    await instance.charge(p);
    await instance.charge(p);
    expect(instance.runs).toHaveLength(2);
    expect(control.calls).toEqual([]);
  });

  it('in observe mode always runs and counts would_replay and would_reject', async () => {
    const { instance, telemetry } = payments({ mode: 'observe' });
    const p = payment();
    await instance.charge(p);
    await instance.charge(p);
    await instance.charge({ ...p, amount: 5 });
    expect(instance.runs).toHaveLength(3);
    expect(telemetry.names()).toEqual(['first_execution', 'would_replay', 'would_reject']);
  });

  it('uses a custom fingerprint', async () => {
    const { instance } = payments({ fingerprint: (p) => ({ org: p.orgId }) });
    const p = payment();
    await instance.charge(p);
    expect(await instance.charge({ ...p, amount: 1 })).toEqual({ charged: 100 });
    expect(instance.runs).toHaveLength(1);
  });

  it('leaves the Lambda context of a handler method out of the fingerprint', async () => {
    const Handler = fixture.handlerClass({
      store: new MemoryStore(),
      scope: 'orders-handler',
      org: 'acme',
      key: (event) => event.orderId,
      environment: 'test',
      telemetry: recordingTelemetry().telemetry,
    });
    const handler = new Handler();
    const context = (remaining: number) => ({ getRemainingTimeInMillis: () => remaining }) as Context;
    expect(await handler.handler({ orderId: 'o-1' }, context(5_000))).toEqual({ orderId: 'o-1', run: 1 });
    expect(await handler.handler({ orderId: 'o-1' }, context(1_234))).toEqual({ orderId: 'o-1', run: 1 });
    expect(handler.runs).toBe(1);
  });

  it('decorates static and private methods alike', async () => {
    const Ledger = fixture.otherMethodsClass({
      store: new MemoryStore(),
      scope: 'ledger',
      org: 'acme',
      key: (entry) => entry,
      environment: 'test',
      telemetry: recordingTelemetry().telemetry,
    });
    expect(await Ledger.post('e-1')).toBe('posted e-1');
    expect(await Ledger.post('e-1')).toBe('posted e-1');
    expect(Ledger.runs).toBe(1);
    const ledger = new Ledger();
    expect(await ledger.reverse('e-1')).toBe('reversed e-1');
    expect(await ledger.reverse('e-1')).toBe('reversed e-1');
    expect(ledger.privateRuns).toBe(1);
  });

  describe('when the store fails', () => {
    it('fails open: runs the method and counts store_error', async () => {
      const { instance, telemetry } = payments();
      control.fail(Fault.Throttling);
      expect(await instance.charge(payment())).toEqual({ charged: 100 });
      expect(telemetry.names()).toEqual(['store_error']);
    });

    it('with strictFailClosed refuses: throws IdempotencyStoreError and does not run', async () => {
      const { instance } = payments({ strictFailClosed: true });
      control.fail(Fault.Throttling);
      await expect(instance.charge(payment())).rejects.toBeInstanceOf(IdempotencyStoreError);
      expect(instance.runs).toHaveLength(0);
    });
  });

  describe('configuration', () => {
    it('rejects an unknown option when the class is defined, naming makeIdempotent', () => {
      expect(() => payments({ scpoe: 'charge' } as never)).toThrow(
        /Unknown option `scpoe` passed to `makeIdempotent`; remove it or check its spelling \(did you mean `scope`\?\)\./,
      );
    });

    it('rejects a scope that cannot lead a record key, when the class is defined', () => {
      expect(() => payments({ scope: 'create#order' })).toThrow(IdempotencyConfigError);
    });
  });
});

describe('@idempotent() types', () => {
  it('keeps the decorated method’s own signature', () => {
    expectTypeOf(fixture.paymentsClass).returns.instance.toHaveProperty('charge');
    type Charge = InstanceType<ReturnType<typeof Fixture.paymentsClass>>['charge'];
    expectTypeOf<Charge>().toEqualTypeOf<(payment: Fixture.Payment) => Promise<unknown>>();
    type Handle = InstanceType<ReturnType<typeof Fixture.handlerClass>>['handler'];
    expectTypeOf<Handle>().returns.toEqualTypeOf<Promise<{ orderId: string; run: number }>>();
  });

  it('types key, org and fingerprint from the method’s parameters, and requires an async method', () => {
    const options = { store: new MemoryStore(), scope: 's', org: 'acme' } as const;
    const decorate = idempotent({ ...options, key: (id: string) => id });
    expectTypeOf(decorate).parameter(0).toEqualTypeOf<(this: unknown, id: string) => Promise<unknown>>();
    // A method whose parameters the key cannot read, or that is not async, does not compile.
    const wrongArguments = (method: (this: unknown, id: number) => Promise<string>) =>
      // @ts-expect-error: the key reads a string, the method takes a number
      decorate(method, {} as ClassMethodDecoratorContext<unknown, typeof method>);
    const notAsync = (method: (this: unknown, id: string) => string) =>
      // @ts-expect-error: the decorated method must return a Promise
      decorate(method, {} as ClassMethodDecoratorContext<unknown, typeof method>);
    expectTypeOf(wrongArguments).toBeFunction();
    expectTypeOf(notAsync).toBeFunction();
  });

  it('holds a typed onFirstCompletion to the method’s result', () => {
    const decorate = idempotent({
      store: new MemoryStore(),
      scope: 's',
      org: 'acme',
      key: (id: string) => id,
      onFirstCompletion: (receipt: { id: string }) => void receipt.id,
    });
    const wrongResult = (method: (this: unknown, id: string) => Promise<number>) =>
      // @ts-expect-error: onFirstCompletion takes a receipt, the method returns a number
      decorate(method, {} as ClassMethodDecoratorContext<unknown, typeof method>);
    expectTypeOf(wrongResult).toBeFunction();
  });
});
