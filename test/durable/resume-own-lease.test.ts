import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEngine } from '../../src/core/door.js';
import type { BeginInput, IdempotencyEngine } from '../../src/core/engine.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { recordingTelemetry } from '../core/recording-telemetry.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';

// The engine's rule for a durable execution's replay (docs/protocol.md section 10), on DynamoDB Local: the owner
// of a live lease may take it up again when its door says so; nobody else may, and no other door does.
const { client, counter } = localClient();
let store: DynamoDBStore;
beforeAll(async () => {
  store = new DynamoDBStore({ tableName: await createIdempotencyTable(client, 'durable-resume'), client });
});
afterAll(() => client.destroy());

function engine(): { engine: IdempotencyEngine; names: () => string[] } {
  const telemetry = recordingTelemetry();
  return {
    engine: buildEngine(
      { store, environment: 'test', mode: 'enforce', waitBudgetMs: 0, telemetry: telemetry.telemetry },
      {},
    ),
    names: telemetry.names,
  };
}

let ids = 0;
function input(overrides: Partial<BeginInput> = {}): BeginInput {
  return {
    org: 'acme',
    scope: 'durable-order',
    key: `order-${process.pid}-${Date.now()}-${++ids}`,
    fingerprint: 'fp-1',
    owner: 'arn:aws:lambda:eu-west-1:123456789012:function:orders:$LATEST/durable-execution/o-1/run-1',
    resumeOwnLease: true,
    ...overrides,
  };
}

describe('a live lease held by the same owner', () => {
  it('is taken up again, with its own token, by one claim and one fenced renewal', async () => {
    const { engine: first } = engine();
    const { engine: replay, names } = engine();
    const request = input();
    const claimed = await first.begin(request);
    expect(claimed.kind).toBe('execute');
    counter.reset();
    const resumed = await replay.begin(request);
    expect(resumed).toMatchObject({ kind: 'execute', resumed: true });
    if (resumed.kind !== 'execute' || claimed.kind !== 'execute') throw new Error('unreachable');
    expect(resumed.lease.token).toBe(claimed.lease.token);
    expect(resumed.lease.leaseUntil).toBeGreaterThanOrEqual(claimed.lease.leaseUntil);
    expect(counter.calls).toEqual(['PutItemCommand', 'UpdateItemCommand']);
    expect(names()).toEqual(['resumed']);
    // The resumed lease settles the record as the first one would have.
    expect(await replay.complete(resumed.lease, { shipped: true })).toBe(true);
    const later = await engine().engine.begin({ ...request, owner: 'another-execution' });
    expect(later).toMatchObject({ kind: 'replay', result: { shipped: true } });
  });

  it('is not taken up by another owner: that one is in progress', async () => {
    const request = input();
    await engine().engine.begin(request);
    const { engine: other, names } = engine();
    expect(await other.begin({ ...request, owner: 'another-execution' })).toMatchObject({
      kind: 'in_progress',
    });
    expect(names()).toEqual(['in_progress']);
  });

  it('is not taken up when the door does not ask for it (a redelivered SQS message keeps section 6)', async () => {
    const request = input();
    await engine().engine.begin(request);
    expect(await engine().engine.begin({ ...request, resumeOwnLease: false })).toMatchObject({
      kind: 'in_progress',
    });
  });

  it('is a mismatch when the same owner sends another request under the key', async () => {
    const request = input();
    await engine().engine.begin(request);
    expect(await engine().engine.begin({ ...request, fingerprint: 'fp-2' })).toMatchObject({
      kind: 'mismatch',
    });
  });

  it('is claimed afresh once it has lapsed (the owner died), with a new token', async () => {
    const request = input();
    const { engine: first } = engine();
    const claimed = await first.begin({ ...request, remainingTimeMs: 0 });
    const { engine: replay, names } = engine();
    const again = await replay.begin(request);
    expect(again).toMatchObject({ kind: 'execute' });
    expect(again.kind === 'execute' && again.resumed).not.toBe(true);
    expect(again.kind === 'execute' && claimed.kind === 'execute' && again.lease.token).not.toBe(
      claimed.kind === 'execute' && claimed.lease.token,
    );
    expect(names()).toEqual(['first_execution']);
  });
});
