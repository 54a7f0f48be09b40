/**
 * `onFirstCompletion` runs exactly once per operation, through HTTP and `makeIdempotent` as through the job
 * runners: never for a replay, a duplicate that waited, a released key or an owner whose lease was lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import middy from '@middy/core';
import { describe, expect, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { makeIdempotent } from '../../src/core/make-idempotent.js';
import { RecordStatus } from '../../src/core/types.js';
import { httpIdempotency } from '../../src/http/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { header, httpEvent, lambdaContext } from '../http/harness.js';
import { gate, recordingTelemetry } from '../sqs/support.js';

const common = (store: MemoryStore) => ({
  store,
  environment: 'test' as const,
  mode: 'enforce' as const,
  lockTtlSeconds: 2,
  renewEvery: 200,
  telemetry: recordingTelemetry().telemetry,
});

async function untilStatus(store: MemoryStore, pk: string, status: string): Promise<void> {
  while ((await store.get(pk))?.status !== status) await sleep(5);
}

describe('onFirstCompletion', () => {
  it('through httpIdempotency runs once across waits, replays and a released first attempt', async () => {
    const store = new MemoryStore();
    const audited: number[] = [];
    let attempt = 0;
    const open = gate();
    const handler = middy(async () => {
      attempt += 1;
      if (attempt === 1) return { statusCode: 503, body: 'busy' };
      await open.wait;
      return { statusCode: 201, body: JSON.stringify({ attempt }) };
    }).use(
      httpIdempotency({
        ...common(store),
        org: 'acme',
        scope: 'order',
        waitBudgetMs: 5_000,
        onFirstCompletion: (_event, response) => {
          audited.push(JSON.parse((response as { body: string }).body).attempt);
        },
      }),
    );
    const send = () =>
      handler(httpEvent('http', { key: 'k-1', body: { n: 1 } }) as never, lambdaContext()) as Promise<{
        statusCode: number;
        headers?: Record<string, string>;
      }>;

    // A 5xx releases the key: nothing to audit.
    expect((await send()).statusCode).toBe(503);
    expect(audited).toEqual([]);
    const first = send();
    await untilStatus(store, recordKey('acme', 'order', 'k-1'), RecordStatus.InProgress);
    const waiting = [send(), send()];
    open.open();
    const answers = await Promise.all([first, ...waiting, send()]);

    expect(answers.map((answer) => answer.statusCode)).toEqual([201, 201, 201, 201]);
    expect(answers.filter((answer) => header(answer, 'Idempotent-Replayed') === 'true')).toHaveLength(3);
    expect(audited).toEqual([2]);
  });

  it('through makeIdempotent runs once for the owner that stored the result, never for a zombie', async () => {
    const store = new MemoryStore();
    const audited: string[] = [];
    const zombieGo = gate();
    let calls = 0;
    const charge = makeIdempotent(
      async (_payment: { id: string }) => {
        calls += 1;
        const me = `run-${calls}`;
        if (calls === 1) await zombieGo.wait;
        return me;
      },
      {
        ...common(store),
        scope: 'charge',
        org: 'acme',
        key: (payment) => payment.id,
        onFirstCompletion: (result) => {
          audited.push(result);
        },
      },
    );
    const pk = recordKey('acme', 'charge', 'p-1');
    const zombie = charge({ id: 'p-1' });
    await untilStatus(store, pk, RecordStatus.InProgress);
    // The first owner's lease is taken over (as after a pause past its lease): the new owner runs and audits.
    const current = await store.get(pk);
    await store.claim(
      {
        ...(current as NonNullable<typeof current>),
        leaseToken: 'new-owner',
        leaseUntil: Date.now() + 60_000,
      },
      { nowMs: (current?.leaseUntil ?? 0) + 1 },
    );
    await store.complete(pk, 'new-owner', {
      status: RecordStatus.Completed,
      result: JSON.stringify('run-by-new-owner'),
      completedAt: Date.now(),
      expiresAt: current?.expiresAt ?? 0,
    });
    zombieGo.open();

    expect(await zombie).toBe('run-1');
    expect(await charge({ id: 'p-1' })).toBe('run-by-new-owner');
    expect(audited).toEqual([]);

    expect(await charge({ id: 'p-2' })).toBe('run-2');
    expect(await charge({ id: 'p-2' })).toBe('run-2');
    expect(audited).toEqual(['run-2']);
  });

  it('logs a throwing onFirstCompletion and still answers with the result', async () => {
    const store = new MemoryStore();
    const telemetry = recordingTelemetry();
    const charge = makeIdempotent(async (_payment: { id: string }) => 'done', {
      ...common(store),
      telemetry: telemetry.telemetry,
      scope: 'charge',
      org: 'acme',
      key: (payment) => payment.id,
      onFirstCompletion: () => {
        throw new TypeError('audit table is down');
      },
    });
    expect(await charge({ id: 'p-3' })).toBe('done');
    expect(telemetry.warnings).toEqual([expect.stringContaining('`onFirstCompletion` threw TypeError')]);
  });
});
