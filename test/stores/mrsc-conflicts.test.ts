import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  ReplicatedWriteConflictException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildGuard } from '../../src/core/door.js';
import { recordKey } from '../../src/core/keys.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { toItem } from '../../src/stores/dynamodb-item.js';
import { CONFLICT_RETRY, retryOnReplicatedWriteConflict } from '../../src/stores/dynamodb-retry.js';
import { recordingTelemetry } from '../core/recording-telemetry.js';

// A multi-Region strongly consistent table answers ReplicatedWriteConflictException when another Region writes
// the same item at once; no local server produces it, so a fault-injecting client does.
const client = new DynamoDBClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
});
const ddb = mockClient(client);
const conflict = () =>
  new ReplicatedWriteConflictException({ message: 'Replicated write conflict', $metadata: {} });

function guardOn() {
  const telemetry = recordingTelemetry();
  const store = new DynamoDBStore({ tableName: 'idempotency', client });
  const guard = buildGuard(
    { store, environment: 'test', mode: 'enforce', telemetry: telemetry.telemetry },
    'test',
    {},
  );
  return { guard, telemetry };
}
const input = (key: string) => ({
  org: 'acme',
  scope: 'charge',
  key,
  fingerprint: 'fp',
  remainingTimeMs: () => undefined,
});

beforeEach(() => {
  ddb.reset();
});

describe('a claim on an MRSC table', () => {
  it('is sent again after replicated write conflicts, like a throttle, and owns the key once it lands', async () => {
    ddb.on(PutItemCommand).rejectsOnce(conflict()).rejectsOnce(conflict()).resolves({});
    const { guard, telemetry } = guardOn();
    const entry = await guard.enter(input('k1'));
    expect(entry.kind).toBe('owner');
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(3);
    expect(telemetry.names()).toEqual(['first_execution']);
    if (entry.kind === 'owner') await entry.ownership.release();
  });

  it("decides from the other Region's record when the retried claim meets it", async () => {
    const other = {
      pk: recordKey('acme', 'charge', 'k2'),
      org: 'acme',
      scope: 'charge',
      status: 'COMPLETED' as const,
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
      fingerprint: 'fp',
      result: JSON.stringify({ charged: true }),
      createdAt: Date.now(),
      completedAt: Date.now(),
      attempt: 1,
      v: 1,
    };
    ddb
      .on(PutItemCommand)
      .rejectsOnce(conflict())
      .rejects(
        new ConditionalCheckFailedException({ message: 'failed', $metadata: {}, Item: toItem(other) }),
      );
    const { guard } = guardOn();
    const entry = await guard.enter(input('k2'));
    expect(entry).toMatchObject({
      kind: 'duplicate',
      decision: { kind: 'replay', result: { charged: true } },
    });
  });

  it('is a store error once the conflicts outlast the retries: counted, and failed open by default', async () => {
    ddb.on(PutItemCommand).rejects(conflict());
    ddb.on(DeleteItemCommand).resolves({});
    const { guard, telemetry } = guardOn();
    const entry = await guard.enter(input('k3'));
    expect(entry).toMatchObject({ kind: 'unguarded', reason: 'fail_open' });
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(CONFLICT_RETRY.retries + 1);
    expect(telemetry.signals.find((s) => s.signal === 'store_error')?.facts.detail).toMatchObject({
      operation: 'claim',
      error: 'ReplicatedWriteConflictException',
    });
  });
});

describe('a write after the side effect on an MRSC table', () => {
  it('is settled like any store error: a complete that meets a conflict is retried by the engine and lands', async () => {
    ddb.on(PutItemCommand).resolves({});
    ddb.on(UpdateItemCommand).rejectsOnce(conflict()).resolves({});
    const { guard, telemetry } = guardOn();
    const entry = await guard.enter(input('k4'));
    if (entry.kind !== 'owner') throw new Error(`expected to own the key, got ${entry.kind}`);
    expect(await entry.ownership.complete({ ok: true })).toBe('done');
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(2);
    expect(telemetry.names()).toContain('store_error');
    expect(telemetry.names()).not.toContain('lease_lost');
  });

  it('is not retried by the store itself: one conflict is one store error the engine sees', async () => {
    ddb.on(DeleteItemCommand).rejects(conflict());
    const store = new DynamoDBStore({ tableName: 'idempotency', client });
    await expect(store.release('acme#charge#x', 'token')).rejects.toThrow(ReplicatedWriteConflictException);
    expect(ddb.commandCalls(DeleteItemCommand)).toHaveLength(1);
  });
});

describe('the backoff between claims sent again after conflicts', () => {
  /** A pause that only records its length, and jitter pinned to the middle of its range. */
  const timing = (pauses: number[]) => ({
    sleep: async (ms: number) => {
      pauses.push(ms);
    },
    random: () => 0.5,
  });

  it('waits a jittered 50 ms first, doubling each time, five times by default, then throws the last conflict', async () => {
    const pauses: number[] = [];
    let writes = 0;
    const write = async () => {
      writes += 1;
      throw conflict();
    };
    await expect(retryOnReplicatedWriteConflict(write, undefined, timing(pauses))).rejects.toThrow(
      ReplicatedWriteConflictException,
    );
    expect(writes).toBe(6);
    expect(pauses).toEqual([25, 50, 100, 200, 400]);
  });

  it('caps the backoff at maxDelayMs before the jitter', async () => {
    const pauses: number[] = [];
    const write = async () => {
      throw conflict();
    };
    const retry = { ...CONFLICT_RETRY, retries: 7 };
    await expect(retryOnReplicatedWriteConflict(write, retry, timing(pauses))).rejects.toThrow(
      ReplicatedWriteConflictException,
    );
    expect(pauses).toEqual([25, 50, 100, 200, 400, 500, 500]);
  });

  it('resolves what the write resolves once it lands, and throws any other error at once, without a pause', async () => {
    const pauses: number[] = [];
    let writes = 0;
    const landsSecond = async () => {
      writes += 1;
      if (writes === 1) throw conflict();
      return 'landed';
    };
    expect(await retryOnReplicatedWriteConflict(landsSecond, undefined, timing(pauses))).toBe('landed');
    expect(pauses).toEqual([25]);
    const refused = async () => {
      throw new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });
    };
    await expect(retryOnReplicatedWriteConflict(refused, undefined, timing(pauses))).rejects.toThrow(
      ConditionalCheckFailedException,
    );
    expect(pauses).toEqual([25]);
  });
});
