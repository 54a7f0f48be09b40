/**
 * A model-based test of the protocol's state machine (docs/protocol.md section 3): random sequences of claim,
 * wait, complete, release, renew, crash and clock jumps by three invocations on one key, against every store.
 * Whatever happens, two owners never run at once while both leases are live, and a completed record is never
 * overwritten while it lives.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyEngine, type Lease } from '../../src/core/engine.js';
import { recordKey } from '../../src/core/keys.js';
import { isExpired } from '../../src/core/record-state.js';
import { resolveSettings } from '../../src/core/settings.js';
import { silentTelemetry } from '../../src/core/telemetry.js';
import { RecordStatus, type Store } from '../../src/core/types.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { RedisStore } from '../../src/stores/redis.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import {
  CLIENT_LIBRARIES,
  type ConnectedClient,
  connectClient,
  type RedisServer,
  startRedisServer,
} from '../support/redis.js';

const INVOCATIONS = 3;
const LOCK_TTL_MS = 1000;

/** What the test knows: each invocation's lease as it believes it, and the result a completion stored. */
interface Model {
  readonly leases: (Lease | undefined)[];
  completed: { readonly result: string; readonly expiresAt: number } | undefined;
  readonly outcomes: string[];
}

/** The system under test: one engine per invocation, all on one store and one clock that can jump. */
interface Real {
  readonly engines: IdempotencyEngine[];
  readonly store: Store;
  readonly pk: string;
  readonly key: string;
  readonly clock: { offset: number; now(): number };
}

type Command = fc.AsyncCommand<Model, Real>;

const holder = (model: Model, index: number) => model.leases[index];

class Begin implements Command {
  constructor(
    readonly index: number,
    readonly waitMs: number,
  ) {}
  check(model: Model) {
    return holder(model, this.index) === undefined;
  }
  async run(model: Model, real: Real) {
    const decision = await real.engines[this.index]?.begin({
      org: 'acme',
      scope: 'model',
      key: real.key,
      fingerprint: 'fp',
      waitBudgetMs: this.waitMs,
    });
    if (decision?.kind === 'execute') {
      model.leases[this.index] = decision.lease;
    } else if (decision?.kind === 'replay') {
      // A replay answers exactly what the completion stored.
      expect(decision.result).toBe(model.completed?.result);
    }
    model.outcomes.push(decision?.kind ?? 'none');
  }
  toString() {
    return `begin(${this.index}, wait ${this.waitMs})`;
  }
}

class Complete implements Command {
  constructor(readonly index: number) {}
  check(model: Model) {
    return holder(model, this.index) !== undefined;
  }
  async run(model: Model, real: Real) {
    const lease = holder(model, this.index) as Lease;
    model.leases[this.index] = undefined;
    const result = `result-of-${lease.token}`;
    if (await real.engines[this.index]?.complete(lease, result)) {
      expect(model.completed === undefined || isExpired(model.completed, real.clock.now())).toBe(true);
      model.completed = { result, expiresAt: lease.expiresAt };
    }
  }
  toString() {
    return `complete(${this.index})`;
  }
}

class Release implements Command {
  constructor(readonly index: number) {}
  check(model: Model) {
    return holder(model, this.index) !== undefined;
  }
  async run(model: Model, real: Real) {
    const lease = holder(model, this.index) as Lease;
    model.leases[this.index] = undefined;
    await real.engines[this.index]?.release(lease);
  }
  toString() {
    return `release(${this.index})`;
  }
}

class Renew implements Command {
  constructor(readonly index: number) {}
  check(model: Model) {
    return holder(model, this.index) !== undefined;
  }
  async run(model: Model, real: Real) {
    const lease = holder(model, this.index) as Lease;
    // A lost lease stays the invocation's belief: its later writes must be fenced off by the store.
    const renewed = await real.engines[this.index]?.renew(lease);
    if (renewed !== undefined) model.leases[this.index] = renewed;
  }
  toString() {
    return `renew(${this.index})`;
  }
}

class Crash implements Command {
  constructor(readonly index: number) {}
  check(model: Model) {
    return holder(model, this.index) !== undefined;
  }
  async run(model: Model) {
    model.leases[this.index] = undefined;
  }
  toString() {
    return `crash(${this.index})`;
  }
}

class Jump implements Command {
  constructor(readonly ms: number) {}
  check() {
    return true;
  }
  async run(_model: Model, real: Real) {
    real.clock.offset += this.ms;
  }
  toString() {
    return `jump(${this.ms} ms)`;
  }
}

/** The invariants, checked against the store after every command. */
async function checkInvariants(model: Model, real: Real): Promise<void> {
  const now = real.clock.now();
  const record = await real.store.get(real.pk);
  // A lease is live while `leaseUntil >= now`; the claim condition takes over only `leaseUntil < now`.
  const live = model.leases.filter((lease) => lease !== undefined && lease.leaseUntil >= now) as Lease[];
  expect(live.length).toBeLessThanOrEqual(1);
  const [owner] = live;
  if (owner !== undefined) {
    expect(record).toMatchObject({ status: RecordStatus.InProgress, leaseToken: owner.token });
  }
  if (model.completed !== undefined && !isExpired(model.completed, now)) {
    expect(record).toMatchObject({ status: RecordStatus.Completed });
    expect(record?.result).toBe(JSON.stringify(model.completed.result));
  }
}

const index = fc.integer({ min: 0, max: INVOCATIONS - 1 });
const commands = fc.commands(
  [
    fc.tuple(index, fc.constantFrom(0, 0, 30)).map(([i, wait]) => new Begin(i, wait)),
    index.map((i) => new Complete(i)),
    index.map((i) => new Release(i)),
    index.map((i) => new Renew(i)),
    index.map((i) => new Crash(i)),
    fc.integer({ min: 0, max: 2.5 * LOCK_TTL_MS }).map((ms) => new Jump(ms)),
    // Jumps across a record's lifetime (5 s), so expired records are claimed again too.
    fc.constant(new Jump(5_000)),
  ],
  { maxCommands: 40 },
);

function systemOn(store: Store): Real {
  const clock = {
    offset: 0,
    now() {
      return Date.now() + this.offset;
    },
  };
  const { settings } = resolveSettings(
    {
      environment: 'test',
      mode: 'enforce',
      lockTtlSeconds: LOCK_TTL_MS / 1000,
      expiresAfterSeconds: 5,
      jitterMs: 0,
    },
    {},
  );
  const engines = Array.from(
    { length: INVOCATIONS },
    () => new IdempotencyEngine({ store, settings, telemetry: silentTelemetry, clock: () => clock.now() }),
  );
  const key = `model-${randomUUID()}`;
  return { engines, store, key, pk: recordKey('acme', 'model', key), clock };
}

async function property(makeStore: () => Store, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(commands, async (sequence) => {
      const real = systemOn(makeStore());
      const model: Model = { leases: Array(INVOCATIONS).fill(undefined), completed: undefined, outcomes: [] };
      await fc.asyncModelRun(
        () => ({ model, real }),
        [...sequence].map((command) => ({
          check: (m: Readonly<Model>) => command.check(m as Model),
          run: async (m: Model, r: Real) => {
            await command.run(m, r);
            await checkInvariants(m, r);
          },
          toString: () => command.toString(),
        })),
      );
    }),
    { numRuns },
  );
}

describe('the state machine never runs two live owners nor overwrites a completed record', () => {
  it('on MemoryStore', async () => {
    await property(() => new MemoryStore(), 300);
  });

  describe('on DynamoDBStore (DynamoDB Local)', () => {
    const { client } = localClient();
    let tableName: string;
    beforeAll(async () => {
      tableName = await createIdempotencyTable(client, 'model');
    });
    afterAll(() => client.destroy());

    it('holds over random command sequences', async () => {
      await property(() => new DynamoDBStore({ tableName, client }), 40);
    }, 120_000);
  });

  describe('on RedisStore (redis-server)', () => {
    let server: RedisServer;
    const clients: ConnectedClient[] = [];
    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterAll(async () => {
      for (const client of clients) await client.close();
      await server?.stop();
    });

    for (const library of CLIENT_LIBRARIES) {
      it(`holds over random command sequences through ${library}`, async () => {
        const client = await connectClient(library, server);
        clients.push(client);
        await property(() => new RedisStore({ client: client.adapter }), 40);
      }, 120_000);
    }
  });
});
