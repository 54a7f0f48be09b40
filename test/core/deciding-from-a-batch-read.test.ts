import { describe, expect, it } from 'vitest';
import { RecordCache } from '../../src/core/cache.js';
import { type Decision, IdempotencyEngine, type Lease } from '../../src/core/engine.js';
import { resolveSettings } from '../../src/core/settings.js';
import { Signal } from '../../src/core/telemetry.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from './recording-telemetry.js';

// A batch door reads its jobs' records in one batch read (`prefetch`) and hands each claim the record found for it
// (`known`): a completed one is decided with no further round trip, anything else is claimed as usual.
function rig(store = new MemoryStore()) {
  const telemetry = recordingTelemetry();
  const calls: string[] = [];
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const member = Reflect.get(target, name, receiver);
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return (member as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const { settings } = resolveSettings({ environment: 'test', mode: 'enforce', waitBudgetMs: 0 }, {});
  const engine = new IdempotencyEngine({
    store: counted,
    settings,
    telemetry: telemetry.telemetry,
    cache: new RecordCache({}),
  });
  return { engine, store, telemetry, calls };
}

const job = (key: string) => ({ org: 'acme', scope: 'ship', key, fingerprint: 'fp-1' });

function leaseOf(decision: Decision): Lease {
  if (decision.kind !== 'execute') throw new Error(`Expected an execute decision, got ${decision.kind}.`);
  return decision.lease;
}

async function completedJob(store: MemoryStore, key: string): Promise<void> {
  const { engine } = rig(store);
  await engine.complete(leaseOf(await engine.begin(job(key))), { shipped: key });
}

describe('a record a batch read found', () => {
  it('decides a completed job with no further round trip, as read from the store, and keeps it in the cache', async () => {
    const store = new MemoryStore();
    await completedJob(store, 'k-done');
    const { engine, telemetry, calls } = rig(store);
    const found = await engine.prefetch([job('k-done')]);
    const [known] = [...found.values()];

    expect(await engine.begin({ ...job('k-done'), known })).toMatchObject({
      kind: 'replay',
      result: { shipped: 'k-done' },
      fromCache: false,
    });
    expect(calls).toEqual(['getMany']);
    // The next duplicate is answered from the cache.
    expect(await engine.begin(job('k-done'))).toMatchObject({ kind: 'replay', fromCache: true });
    expect(calls).toEqual(['getMany']);
    expect(telemetry.signals.map(({ signal, facts }) => [signal, facts.detail?.fromCache])).toEqual([
      [Signal.Replay, false],
      [Signal.Replay, true],
    ]);
  });

  it('is not used for another job: that one is claimed', async () => {
    const store = new MemoryStore();
    await completedJob(store, 'k-other');
    const { engine, calls } = rig(store);
    const [known] = [...(await engine.prefetch([job('k-other')])).values()];

    expect(await engine.begin({ ...job('k-new'), known })).toMatchObject({ kind: 'execute' });
    expect(calls).toEqual(['getMany', 'claim']);
  });

  it('is claimed as usual while it runs, and decided from what the claim finds', async () => {
    const store = new MemoryStore();
    await rig(store).engine.begin(job('k-running'));
    const { engine, calls } = rig(store);
    const [known] = [...(await engine.prefetch([job('k-running')])).values()];

    expect(await engine.begin({ ...job('k-running'), known })).toMatchObject({ kind: 'in_progress' });
    expect(calls).toEqual(['getMany', 'claim']);
  });
});
