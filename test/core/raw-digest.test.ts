import { describe, expect, it } from 'vitest';
import { RecordCache } from '../../src/core/cache.js';
import { type BeginInput, type Decision, IdempotencyEngine } from '../../src/core/engine.js';
import { resolveSettings } from '../../src/core/settings.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

// docs/protocol.md section 2, "The raw digest": the meaning is computed only when the raw digests cannot decide.
function engineOn(store: MemoryStore, cache?: RecordCache) {
  const { settings } = resolveSettings({ environment: 'test', mode: 'enforce', waitBudgetMs: 0 }, {});
  return new IdempotencyEngine({ store, settings, telemetry: recordingTelemetry().telemetry, cache });
}

/** A request whose meaning counts how often it was computed. */
function request(key: string, rawDigest: string | undefined, meaning: string) {
  const computed = { count: 0 };
  const input: BeginInput = {
    org: 'acme',
    scope: 'create-order',
    key,
    rawDigest,
    fingerprint: () => {
      computed.count++;
      return meaning;
    },
  };
  return { input, computed };
}

async function firstExecution(engine: IdempotencyEngine, key: string): Promise<void> {
  const { input, computed } = request(key, 'raw-1', 'meaning-1');
  const decision = await engine.begin(input);
  if (decision.kind !== 'execute') throw new Error(`Expected execute, got ${decision.kind}`);
  expect(computed.count).toBe(0);
  await engine.complete(decision.lease, { statusCode: 201 });
  expect(computed.count).toBe(1);
}

const kindOf = (decision: Decision) => decision.kind;

describe('the meaning of a request with a raw digest', () => {
  it('is computed once on a first execution, when it completes, and never on a byte-identical replay', async () => {
    const store = new MemoryStore();
    const engine = engineOn(store);
    await firstExecution(engine, 'k-1');
    const replay = request('k-1', 'raw-1', 'meaning-1');
    expect(kindOf(await engine.begin(replay.input))).toBe('replay');
    expect(replay.computed.count).toBe(0);
  });

  it('is computed once, and decides, when the raw digest differs', async () => {
    const store = new MemoryStore();
    const engine = engineOn(store);
    await firstExecution(engine, 'k-2');
    const sameMeaning = request('k-2', 'raw-2', 'meaning-1');
    expect(kindOf(await engine.begin(sameMeaning.input))).toBe('replay');
    expect(sameMeaning.computed.count).toBe(1);
    const otherMeaning = request('k-2', 'raw-3', 'meaning-2');
    expect(kindOf(await engine.begin(otherMeaning.input))).toBe('mismatch');
    expect(otherMeaning.computed.count).toBe(1);
  });

  it('is not needed for a replay from the local cache either', async () => {
    const store = new MemoryStore();
    const engine = engineOn(store, new RecordCache({}));
    await firstExecution(engine, 'k-3');
    const replay = request('k-3', 'raw-1', 'meaning-1');
    expect(await engine.begin(replay.input)).toMatchObject({ kind: 'replay', fromCache: true });
    expect(replay.computed.count).toBe(0);
    const sameMeaning = request('k-3', 'raw-9', 'meaning-1');
    expect(await engine.begin(sameMeaning.input)).toMatchObject({ kind: 'replay', fromCache: true });
  });

  it('stays unknown while the first runs: another raw digest is in progress, never a mismatch yet', async () => {
    const store = new MemoryStore();
    const engine = engineOn(store);
    const first = request('k-4', 'raw-1', 'meaning-1');
    const decision = await engine.begin(first.input);
    expect(decision.kind).toBe('execute');
    const other = request('k-4', 'raw-2', 'meaning-2');
    expect(kindOf(await engine.begin(other.input))).toBe('in_progress');
    expect(other.computed.count).toBe(0);
  });

  it('is written at the claim when the door already has it, so another request meanwhile is a mismatch at once', async () => {
    const store = new MemoryStore();
    const engine = engineOn(store);
    const decision = await engine.begin({
      ...request('k-6', 'raw-1', 'meaning-1').input,
      fingerprint: 'meaning-1',
    });
    expect(decision.kind).toBe('execute');
    expect(store.records()[0]?.fingerprint).toBe('meaning-1');
    expect(kindOf(await engine.begin(request('k-6', 'raw-2', 'meaning-2').input))).toBe('mismatch');
  });

  it('is never assumed for a completed record that does not carry one: other bytes are a mismatch', async () => {
    const store = new MemoryStore();
    const engine = engineOn(store);
    const decision = await engine.begin(request('k-7', 'raw-1', 'meaning-1').input);
    if (decision.kind !== 'execute') throw new Error(`Expected execute, got ${decision.kind}`);
    // Completed by a writer that never wrote the meaning: the record keeps the provisional fingerprint.
    await store.complete(decision.lease.pk, decision.lease.token, {
      status: 'COMPLETED',
      result: '{"statusCode":201}',
      completedAt: decision.lease.createdAt,
      expiresAt: decision.lease.expiresAt,
    });
    expect(kindOf(await engine.begin(request('k-7', 'raw-2', 'meaning-1').input))).toBe('mismatch');
    expect(kindOf(await engine.begin(request('k-7', 'raw-1', 'meaning-1').input))).toBe('replay');
  });

  it('is computed before the claim when the door gives no raw digest, as before', async () => {
    const store = new MemoryStore();
    const engine = engineOn(store);
    const { input, computed } = request('k-5', undefined, 'meaning-1');
    const decision = await engine.begin(input);
    expect(decision.kind).toBe('execute');
    expect(computed.count).toBe(1);
    expect(
      (await store.get((decision as Extract<Decision, { kind: 'execute' }>).lease.pk))?.fingerprint,
    ).toBe('meaning-1');
  });
});
