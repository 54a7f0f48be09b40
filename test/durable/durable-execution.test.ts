import {
  type CheckpointDurableExecutionRequest,
  type DurableContext,
  type DurableExecutionClient,
  DurableExecutionInvocationInputWithClient,
  withDurableExecution,
} from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durableStepKey } from '../../src/core/durable.js';
import { makeIdempotent } from '../../src/core/make-idempotent.js';
import { httpIdempotency } from '../../src/http/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { recordingTelemetry } from '../core/recording-telemetry.js';
import { httpEvent, newKey, orgOf } from '../http/harness.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';

// Lambda durable functions replay: every invocation after the first runs the handler again from the top, and
// completed steps answer from their checkpoints. Run through the durable SDK's own local test runner, with the
// records on DynamoDB Local.
const { client } = localClient();
let store: DynamoDBStore;
// The real clock, taken before the testing SDK installs its fake one.
const realNow = Date.now;
beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'durable'), client });
  await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
});
afterAll(async () => {
  await LocalDurableTestRunner.teardownTestEnvironment();
  client.destroy();
});

/**
 * A wait that suspends the execution: an hour past the fake clock's now. Skipping time moves the fake clock past
 * every wait, while the checkpoint server dates a wait's end on the real clock, so each wait adds the fake clock's
 * lead; a wait that ended before the fake now would be polled in the same invocation instead of suspending it.
 */
function suspension(): { seconds: number } {
  return { seconds: 3_600 + Math.ceil(Math.max(0, Date.now() - realNow()) / 1000) };
}

interface OrderEvent {
  readonly orderId: string;
  readonly amount: number;
}

let ids = 0;
const order = (): OrderEvent => ({ orderId: `order-${process.pid}-${Date.now()}-${++ids}`, amount: 100 });

// Records outlive the fake clock's jumps (a day is less than the waits of a whole file add up to).
const common = () =>
  ({
    store,
    environment: 'test',
    mode: 'enforce',
    waitBudgetMs: 0,
    expiresAfterSeconds: 90 * 86_400,
  }) as const;

type DurableHandler = ReturnType<typeof withDurableExecution>;

/**
 * The handler as the durable service would see it if the checkpoint of some updates never arrived (the sandbox
 * crashed after the step ran, before its checkpoint landed): the SDK's own client, minus those updates.
 */
function losingCheckpoints(
  handler: DurableHandler,
  lost: (update: NonNullable<CheckpointDurableExecutionRequest['Updates']>[number]) => boolean,
): DurableHandler {
  let dropped = false;
  return ((event: unknown, context: Context) => {
    if (!DurableExecutionInvocationInputWithClient.isInstance(event)) return handler(event as never, context);
    const real = (event as DurableExecutionInvocationInputWithClient).durableExecutionClient;
    const losing: DurableExecutionClient = {
      getExecutionState: (params) => real.getExecutionState(params),
      checkpoint: (params) => {
        const updates = params.Updates ?? [];
        if (dropped || !updates.some(lost)) return real.checkpoint(params);
        dropped = true;
        return real.checkpoint({ ...params, Updates: updates.filter((update) => !lost(update)) });
      },
    };
    return handler(new DurableExecutionInvocationInputWithClient(event as never, losing) as never, context);
  }) as DurableHandler;
}

/** The execution's status, with its error when it failed (so a failure says why). */
function outcome(execution: { getStatus(): string | undefined; getError(): unknown }): string {
  const status = execution.getStatus() ?? 'unknown';
  return status === 'FAILED' ? `FAILED: ${JSON.stringify(execution.getError())}` : status;
}

describe('makeIdempotent around a durable handler', () => {
  /** `leaseOutlastsWait`: a lock TTL longer than the suspension; else the test environment's 60 s. */
  function orderWorkflow(leaseOutlastsWait: boolean) {
    const wait = suspension();
    const charges: string[] = [];
    const telemetry = recordingTelemetry();
    const handler = makeIdempotent(
      async (event: OrderEvent, context: DurableContext) => {
        const charge = await context.step('charge', async () => {
          charges.push(event.orderId);
          return { chargeId: `ch-${event.orderId}` };
        });
        // Longer than the invocation may run: the execution suspends, and the next invocation replays.
        await context.wait(wait);
        const shipment = await context.step('ship', async () => ({ shipped: true }));
        return { ...charge, ...shipment };
      },
      {
        ...common(),
        scope: 'durable-order',
        org: 'acme',
        key: (event) => event.orderId,
        telemetry: telemetry.telemetry,
        lockTtlSeconds: leaseOutlastsWait ? 2 * wait.seconds : undefined,
      },
    );
    return { handler: withDurableExecution(handler), charges, telemetry };
  }

  it('lets the replay of its own execution through: no in-progress error, every step once', async () => {
    // A lease that outlasts the wait: the replay takes its own live lease up again.
    const { handler, charges, telemetry } = orderWorkflow(true);
    const event = order();
    const execution = await new LocalDurableTestRunner({ handlerFunction: handler }).run({ payload: event });
    expect(outcome(execution)).toBe('SUCCEEDED');
    expect(execution.getResult()).toEqual({ chargeId: `ch-${event.orderId}`, shipped: true });
    // The wait really suspended the execution: a second invocation replayed the handler from the top.
    expect(execution.getInvocations().length).toBeGreaterThanOrEqual(2);
    expect(charges).toEqual([event.orderId]);
    expect(telemetry.names().filter((name) => name !== 'lease_lost')).toEqual([
      'first_execution',
      ...Array(execution.getInvocations().length - 1).fill('resumed'),
    ]);
  });

  it('claims the lease again when it lapsed during a wait longer than the lock TTL: still no error', async () => {
    // The default lock TTL in `test` is 60 s, far shorter than the hour the execution is suspended.
    const { handler, charges, telemetry } = orderWorkflow(false);
    const execution = await new LocalDurableTestRunner({ handlerFunction: handler }).run({
      payload: order(),
    });
    expect(outcome(execution)).toBe('SUCCEEDED');
    expect(charges).toHaveLength(1);
    // Counted as a second first_execution: the lease of the first invocation had ended.
    expect(telemetry.names().filter((name) => name !== 'lease_lost')).toEqual([
      'first_execution',
      'first_execution',
    ]);
  });

  it('answers another execution with the same key from the stored result, running nothing', async () => {
    const { handler, charges, telemetry } = orderWorkflow(false);
    const event = order();
    await new LocalDurableTestRunner({ handlerFunction: handler }).run({ payload: event });
    telemetry.reset();
    const second = await new LocalDurableTestRunner({ handlerFunction: handler }).run({ payload: event });
    expect(second.getStatus()).toBe('SUCCEEDED');
    expect(second.getResult()).toEqual({ chargeId: `ch-${event.orderId}`, shipped: true });
    expect(second.getOperations()).toEqual([]);
    expect(charges).toEqual([event.orderId]);
    expect(telemetry.names()).toContain('replay');
    expect(telemetry.names()).not.toContain('first_execution');
  });
});

describe('httpIdempotency inside a durable handler', () => {
  it('lets the replay through and stores the response once: a retry of the request replays it', async () => {
    const charges: string[] = [];
    const telemetry = recordingTelemetry();
    const wait = suspension();
    const handler = withDurableExecution(
      middy(async (event: { body: string }, context: DurableContext) => {
        const charge = await context.step('charge', async () => {
          charges.push(event.body);
          return { chargeId: `ch-${charges.length}` };
        });
        await context.wait(wait);
        return { statusCode: 201, body: JSON.stringify(charge) };
      }).use(
        httpIdempotency<{ body: string }>({
          ...common(),
          scope: 'durable-http',
          org: (event) => orgOf(event as never),
          lockTtlSeconds: 2 * wait.seconds,
          telemetry: telemetry.telemetry,
        }),
      ) as never,
    );
    const request = httpEvent('http', { key: newKey(), body: { sku: 'tea' } });
    const first = await new LocalDurableTestRunner({ handlerFunction: handler }).run({ payload: request });
    expect(outcome(first)).toBe('SUCCEEDED');
    expect(first.getInvocations().length).toBeGreaterThanOrEqual(2);
    expect(first.getResult()).toMatchObject({ statusCode: 201, body: '{"chargeId":"ch-1"}' });
    expect(telemetry.names().filter((name) => name !== 'lease_lost')).toEqual(['first_execution', 'resumed']);

    const retry = await new LocalDurableTestRunner({ handlerFunction: handler }).run({ payload: request });
    expect(retry.getResult()).toMatchObject({
      statusCode: 201,
      body: '{"chargeId":"ch-1"}',
      headers: expect.objectContaining({ 'Idempotent-Replayed': 'true' }),
    });
    expect(charges).toHaveLength(1);
  });
});

describe('a side effect inside an at-least-once durable step, keyed by execution and step', () => {
  it('does not run again when the step crashed after the side effect, before its checkpoint', async () => {
    const charges: string[] = [];
    const stepRuns: number[] = [];
    const chargeOnce = makeIdempotent(
      async (event: OrderEvent, _stepKey: string) => {
        charges.push(event.orderId);
        return { chargeId: `ch-${charges.length}` };
      },
      {
        ...common(),
        scope: 'durable-charge',
        org: 'acme',
        key: (_event, stepKey) => stepKey,
        telemetry: recordingTelemetry().telemetry,
      },
    );
    const wait = suspension();
    const workflow = withDurableExecution(async (event: OrderEvent, context: DurableContext) => {
      const charge = await context.step('charge', async (step) => {
        stepRuns.push(step.attempt);
        return chargeOnce(event, durableStepKey(context, 'charge'));
      });
      await context.wait(wait);
      return charge;
    });
    const handler = losingCheckpoints(
      workflow,
      (update) => update.Name === 'charge' && update.Action === 'SUCCEED',
    );

    const execution = await new LocalDurableTestRunner({ handlerFunction: handler }).run({
      payload: order(),
    });
    expect(outcome(execution)).toBe('SUCCEEDED');
    // The step ran twice (its success was never checkpointed), the charge once, and both runs agree on it.
    expect(stepRuns).toHaveLength(2);
    expect(charges).toHaveLength(1);
    expect(execution.getResult()).toEqual({ chargeId: 'ch-1' });
  });

  it('keys each execution and step apart', () => {
    const context = (arn: string) => ({
      executionContext: { durableExecutionArn: arn },
      step: () => undefined,
    });
    const a = durableStepKey(context('arn:exec/a'), 'charge');
    expect(a).not.toBe(durableStepKey(context('arn:exec/b'), 'charge'));
    expect(a).not.toBe(durableStepKey(context('arn:exec/a'), 'ship'));
    expect(durableStepKey(context(`arn:${'x'.repeat(2000)}`), 'charge').length).toBeLessThanOrEqual(255);
  });
});
