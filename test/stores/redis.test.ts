import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { GlideClient, Script } from '@valkey/valkey-glide';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEngine } from '../../src/core/door.js';
import { IdempotencyCorruptRecordError, IdempotencyStoreError } from '../../src/core/errors.js';
import { recordKey } from '../../src/core/keys.js';
import { silentTelemetry } from '../../src/core/telemetry.js';
import {
  nodeRedisClient,
  REDIS_SCRIPTS,
  type RedisScriptClient,
  RedisStore,
  valkeyGlideClient,
} from '../../src/stores/redis.js';
import { replyToFields } from '../../src/stores/redis-record.js';
import {
  CLIENT_LIBRARIES,
  type ConnectedClient,
  connectClient,
  type RedisServer,
  startRedisServer,
} from '../support/redis.js';
import { claimRecord, storeContract } from './store-contract.js';

const NOW_MS = 1_800_000_000_000;

let server: RedisServer;
const clients = new Map<string, ConnectedClient>();

beforeAll(async () => {
  server = await startRedisServer();
  for (const library of CLIENT_LIBRARIES) clients.set(library, await connectClient(library, server));
});
afterAll(async () => {
  for (const client of clients.values()) await client.close();
  await server?.stop();
});

const connected = (library: string) => {
  const client = clients.get(library);
  if (client === undefined) throw new Error(`${library} is not connected`);
  return client;
};

for (const library of CLIENT_LIBRARIES) {
  storeContract(
    `RedisStore through ${library} on redis-server`,
    () => new RedisStore({ client: connected(library).adapter }),
  );
}

/** An adapter that counts the scripts sent through it, by name. */
function counting(inner: RedisScriptClient): { adapter: RedisScriptClient; calls: string[] } {
  const names = new Map(Object.entries(REDIS_SCRIPTS).map(([name, script]) => [script.sha1, name]));
  const calls: string[] = [];
  return {
    calls,
    adapter: {
      runScript(script, keys, args) {
        calls.push(names.get(script.sha1) ?? 'unknown');
        return inner.runScript(script, keys, args);
      },
    },
  };
}

describe('RedisStore on redis-server', () => {
  for (const library of CLIENT_LIBRARIES) {
    it(`claims and decides a blocked claim in one script each, through ${library}`, async () => {
      const { adapter, calls } = counting(connected(library).adapter);
      const store = new RedisStore({ client: adapter });
      const record = claimRecord();
      expect(await store.claim(record, { nowMs: NOW_MS })).toEqual({ claimed: true });
      const blocked = await store.claim({ ...record, leaseToken: 'other' }, { nowMs: NOW_MS + 1 });
      expect(blocked).toStrictEqual({ claimed: false, existing: record });
      expect(calls).toEqual(['claim', 'claim']);
    });

    it(`loads its scripts again after the server forgot them (SCRIPT FLUSH), through ${library}`, async () => {
      const client = connected(library);
      const store = new RedisStore({ client: client.adapter });
      const record = claimRecord();
      await client.command(['SCRIPT', 'FLUSH']);
      expect(await store.claim(record, { nowMs: NOW_MS })).toEqual({ claimed: true });
      await client.command(['SCRIPT', 'FLUSH']);
      expect(await store.get(record.pk)).toStrictEqual(record);
    });
  }

  it('keeps each record in one hash at <keyPrefix><org>#<scope>#<digest>, with no raw key in it', async () => {
    const client = connected('node-redis');
    const store = new RedisStore({ client: client.adapter, keyPrefix: 'idem:' });
    const rawKey = `raw-key-${randomUUID()}`;
    const engine = buildEngine(
      { store, telemetry: silentTelemetry, environment: 'test', mode: 'enforce' },
      {},
    );
    const decision = await engine.begin({ org: 'acme', scope: 'keys', key: rawKey, fingerprint: 'fp' });
    if (decision.kind !== 'execute') throw new Error(`expected execute, got ${decision.kind}`);
    const pk = recordKey('acme', 'keys', rawKey);
    expect(pk).toMatch(/^acme#keys#[A-Za-z0-9_-]+$/);
    expect(await client.command(['TYPE', `idem:${pk}`])).toBe('hash');
    const fields = replyToFields(await client.command(['HGETALL', `idem:${pk}`])) ?? {};
    expect(fields).toMatchObject({ pk, org: 'acme', scope: 'keys', status: 'IN_PROGRESS' });
    expect(Object.values(fields).some((value) => value.includes(rawKey))).toBe(false);
    const keys = (await client.command(['KEYS', '*'])) as string[];
    expect(keys.some((key) => key.includes(rawKey))).toBe(false);
  });

  it('gives every record a server TTL that ends with the last second of its lifetime', async () => {
    const client = connected('ioredis');
    const store = new RedisStore({ client: client.adapter });
    const now = Date.now();
    const expiresAt = Math.floor(now / 1000) + 600;
    const record = claimRecord({ expiresAt, leaseUntil: now + 60_000 });
    await store.claim(record, { nowMs: now });
    const claimTtl = Number(await client.command(['PTTL', record.pk]));
    // At least what is left of the lifetime's last second now, after the claim was written.
    expect(claimTtl).toBeGreaterThanOrEqual((expiresAt + 1) * 1000 - Date.now() - 5);
    expect(claimTtl).toBeLessThanOrEqual((expiresAt + 1) * 1000 - now);
    await store.complete(record.pk, record.leaseToken ?? '', {
      status: 'COMPLETED',
      result: '"done"',
      completedAt: now,
      expiresAt: expiresAt + 3600,
    });
    const completedTtl = Number(await client.command(['PTTL', record.pk]));
    expect(completedTtl).toBeGreaterThan(claimTtl + 3_000_000);
    expect(completedTtl).toBeLessThanOrEqual((expiresAt + 3601) * 1000 - now);
    // A renewal that moves the lifetime moves the server TTL with it (relative to the wall clock: renew has no now).
    const renewed = claimRecord({ expiresAt, leaseUntil: now + 60_000 });
    await store.claim(renewed, { nowMs: now });
    const before = Date.now();
    await store.renew(renewed.pk, renewed.leaseToken ?? '', now + 120_000, expiresAt + 7200);
    const renewedTtl = Number(await client.command(['PTTL', renewed.pk]));
    expect(renewedTtl).toBeGreaterThan(claimTtl + 7_000_000);
    expect(renewedTtl).toBeLessThanOrEqual((expiresAt + 7201) * 1000 - before);
    expect(await store.get(renewed.pk)).toMatchObject({
      leaseUntil: now + 120_000,
      expiresAt: expiresAt + 7200,
    });
  });

  it('lets the server delete a record once its lifetime is over', async () => {
    const client = connected('iovalkey');
    const store = new RedisStore({ client: client.adapter });
    const now = Date.now();
    // Lifetime ends with the current second: the server drops it within about a second.
    const record = claimRecord({ expiresAt: Math.floor(now / 1000), leaseUntil: now + 60_000 });
    await store.claim(record, { nowMs: now });
    expect(await store.get(record.pk)).toStrictEqual(record);
    const deadline = Date.now() + 20_000;
    while ((await store.get(record.pk)) !== undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await store.get(record.pk)).toBeUndefined();
  });

  it('takes a claim re-sent with its own token (a cut connection) instead of blocking on itself', async () => {
    const store = new RedisStore({ client: connected('node-redis').adapter });
    const record = claimRecord();
    await store.claim(record, { nowMs: NOW_MS });
    expect(await store.claim(record, { nowMs: NOW_MS + 5 })).toEqual({ claimed: true });
    expect(await store.get(record.pk)).toStrictEqual(record);
  });

  it('sends an operation again after a connection error, up to maxAttempts, but never after a server error', async () => {
    const { adapter, calls } = counting(connected('ioredis').adapter);
    let cut = 2;
    const flaky: RedisScriptClient = {
      runScript(script, keys, args) {
        if (cut-- > 0) return Promise.reject(new Error('Socket closed unexpectedly'));
        return adapter.runScript(script, keys, args);
      },
    };
    const record = claimRecord();
    expect(await new RedisStore({ client: flaky }).claim(record, { nowMs: NOW_MS })).toEqual({
      claimed: true,
    });
    expect(calls).toEqual(['claim']);
    cut = 1;
    await expect(new RedisStore({ client: flaky, maxAttempts: 1 }).get(record.pk)).rejects.toThrow(
      /Socket closed/,
    );
    const refused: RedisScriptClient = {
      runScript: () => {
        calls.push('refused');
        return Promise.reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
      },
    };
    await expect(new RedisStore({ client: refused }).get(record.pk)).rejects.toThrow(/WRONGTYPE/);
    expect(calls).toEqual(['claim', 'refused']);
    expect(() => new RedisStore({ client: flaky, maxAttempts: 0 })).toThrow(
      /Expected `maxAttempts` of `RedisStore` to be a whole number of at least 1, got 0\./,
    );
  });

  it('waits a jittered share of 25 ms, doubling, before sending an operation again', async () => {
    const { adapter } = connected('ioredis');
    let cut = 3;
    const flaky: RedisScriptClient = {
      runScript(script, keys, args) {
        if (cut-- > 0) return Promise.reject(new Error('Socket closed unexpectedly'));
        return adapter.runScript(script, keys, args);
      },
    };
    const waits: number[] = [];
    const shares = [0.5, 0.2, 0.9];
    const store = new RedisStore({
      client: flaky,
      maxAttempts: 4,
      random: () => shares.shift() ?? 0,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    const record = claimRecord();
    expect(await store.claim(record, { nowMs: NOW_MS })).toEqual({ claimed: true });
    // Full jitter: the share drawn of 25, 50 and 100 ms.
    expect(waits).toEqual([12.5, 10, 90]);
  });

  it('refuses to be built without a client adapter, saying what it expected', () => {
    expect(() => new RedisStore({ client: {} as never })).toThrow(
      /Expected `client` of `RedisStore` to be a client adapter \(nodeRedisClient, ioredisClient or valkeyGlideClient from 'idemkit\/redis'\), got an object without `runScript`\./,
    );
    expect(() => new RedisStore({ client: null as never })).toThrow(/from 'idemkit\/redis'\), got null\./);
    expect(() => new RedisStore(undefined as never)).toThrow(/from 'idemkit\/redis'\), got undefined\./);
  });

  it('refuses a key prefix that is not text and attempts that are not a whole number of at least 1', () => {
    const client = connected('node-redis').adapter;
    expect(() => new RedisStore({ client, keyPrefix: 5 as never })).toThrow(
      'Expected `keyPrefix` of `RedisStore` to be a string, got 5.',
    );
    expect(() => new RedisStore({ client, maxAttempts: 1.5 })).toThrow(
      'Expected `maxAttempts` of `RedisStore` to be a whole number of at least 1, got 1.5.',
    );
    expect(() => new RedisStore({ client, maxAttempts: Number.POSITIVE_INFINITY })).toThrow(
      'Expected `maxAttempts` of `RedisStore` to be a whole number of at least 1, got Infinity.',
    );
    expect(() => new RedisStore({ client, maxAttempts: '3' as never })).toThrow(
      'Expected `maxAttempts` of `RedisStore` to be a whole number of at least 1, got "3".',
    );
    const store = new RedisStore({ client, maxAttempts: 1 });
    expect([store.keyPrefix, store.maxAttempts]).toEqual(['', 1]);
    expect(new RedisStore({ client }).maxAttempts).toBe(3);
  });

  it('sends an operation at most three times by default, and again after any failure that is not a server reply', async () => {
    const inner = connected('ioredis').adapter;
    const failures: unknown[] = [];
    const failing = (errors: unknown[]): RedisScriptClient => ({
      runScript(script, keys, args) {
        const next = errors.shift();
        if (next === undefined) return inner.runScript(script, keys, args);
        failures.push(next);
        return Promise.reject(next);
      },
    });
    const record = claimRecord();
    const connectionErrors = [
      new Error('connect ECONNREFUSED 127.0.0.1:6379'),
      new Error('ECONNRESET read ECONNRESET'),
      new Error('ETIMEDOUT connect ETIMEDOUT'),
    ];
    expect(
      await new RedisStore({ client: failing(connectionErrors), maxAttempts: 4 }).claim(record, {
        nowMs: NOW_MS,
      }),
    ).toEqual({
      claimed: true,
    });
    expect(failures).toHaveLength(3);
    // A rejection that is not even an Error is no server reply either.
    const others = [new Error('EPIPE write EPIPE'), 'connection lost'];
    expect(await new RedisStore({ client: failing(others) }).get(record.pk)).toStrictEqual(record);
    const three = [
      new Error('Connection is closed.'),
      new Error('Connection is closed.'),
      new Error('Connection is closed.'),
    ];
    await expect(new RedisStore({ client: failing(three) }).get(record.pk)).rejects.toThrow(
      'Connection is closed.',
    );
    expect(three).toEqual([]);
    const noScript = [new Error('NOSCRIPT No matching script.'), new Error('unused')];
    await expect(new RedisStore({ client: failing(noScript) }).get(record.pk)).rejects.toThrow(/^NOSCRIPT/);
    expect(noScript).toHaveLength(1);
    // A server reply is one whatever it names (here an unknown command called ETIMEDOUT).
    const named = [
      new Error('ERR unknown command `ETIMEDOUT`, with args beginning with:'),
      new Error('unused'),
    ];
    await expect(new RedisStore({ client: failing(named) }).get(record.pk)).rejects.toThrow(/^ERR unknown/);
    expect(named).toHaveLength(1);
  });

  it('takes a script that ran as 1 in the reply shape of any client: a number, a BigInt or text', async () => {
    const inner = connected('node-redis').adapter;
    for (const shape of [(one: unknown) => BigInt(one as number), (one: unknown) => String(one)]) {
      const reshaped: RedisScriptClient = {
        runScript: async (script, keys, args) => {
          const reply = await inner.runScript(script, keys, args);
          return reply === 1 ? shape(reply) : reply;
        },
      };
      const store = new RedisStore({ client: reshaped });
      const record = claimRecord();
      expect(await store.claim(record, { nowMs: NOW_MS })).toEqual({ claimed: true });
      expect(await store.renew(record.pk, record.leaseToken ?? '', NOW_MS + 90_000)).toBe(true);
      expect(await store.release(record.pk, record.leaseToken ?? '')).toBe(true);
      expect(await store.release(record.pk, record.leaseToken ?? '')).toBe(false);
    }
  });

  it('sends a script source only when the server does not hold it (NOSCRIPT), not after another error', async () => {
    const raw = await createClient({ url: `redis://127.0.0.1:${server.port}` }).connect();
    const sources: string[] = [];
    const store = new RedisStore({
      client: nodeRedisClient({
        evalSha: (sha1, options) => raw.evalSha(sha1, options),
        eval: (source, options) => {
          sources.push(source);
          return raw.eval(source, options);
        },
      }),
    });
    const record = claimRecord();
    await raw.scriptFlush();
    await store.claim(record, { nowMs: NOW_MS });
    expect(sources).toEqual([REDIS_SCRIPTS.claim.source]);
    const pk = recordKey('acme', 'wrongtype', randomUUID());
    await raw.set(pk, 'not a hash');
    await store.get(pk).catch(() => undefined);
    await expect(store.get(pk)).rejects.toThrow(/^WRONGTYPE/);
    raw.destroy();
    expect(sources).toEqual([REDIS_SCRIPTS.claim.source, REDIS_SCRIPTS.get.source]);
  });

  it('builds each GLIDE Script once and sends that one every time', async () => {
    const glide = await GlideClient.createClient({ addresses: [{ host: '127.0.0.1', port: server.port }] });
    const sent: Script[] = [];
    const adapter = valkeyGlideClient(
      {
        invokeScript: (script: Script, options: { keys: string[]; args: string[] }) => {
          sent.push(script);
          return glide.invokeScript(script, options);
        },
      },
      Script,
    );
    const store = new RedisStore({ client: adapter });
    const [first, second] = [claimRecord(), claimRecord()];
    await store.claim(first, { nowMs: NOW_MS });
    await store.claim(second, { nowMs: NOW_MS });
    expect(await store.get(first.pk)).toStrictEqual(first);
    glide.close();
    expect(sent).toHaveLength(3);
    expect(sent[1]).toBe(sent[0]);
    expect(new Set(sent).size).toBe(2);
  });

  it('surfaces a server error (a key of another type) as IdempotencyStoreError', async () => {
    const client = connected('node-redis');
    const store = new RedisStore({ client: client.adapter });
    const key = `wrongtype-${randomUUID()}`;
    const pk = recordKey('acme', 'wrongtype', key);
    await client.command(['SET', pk, 'not a hash']);
    const engine = buildEngine(
      { store, telemetry: silentTelemetry, environment: 'test', mode: 'enforce' },
      {},
    );
    const error = await engine
      .begin({ org: 'acme', scope: 'wrongtype', key, fingerprint: 'fp' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect(String((error as IdempotencyStoreError).cause)).toMatch(/WRONGTYPE/);
  });
});

describe('a damaged record read from redis-server', () => {
  const damaged: [string, string[]][] = [
    ['without a status', ['HDEL', 'status']],
    ['with an unknown status', ['HSET', 'status', 'DONE']],
    ['without expiresAt', ['HDEL', 'expiresAt']],
    ['with expiresAt that is not a number', ['HSET', 'expiresAt', 'soon']],
    ['IN_PROGRESS without a lease end', ['HDEL', 'leaseUntil']],
    ['without a fingerprint', ['HDEL', 'fingerprint']],
    ['with an attempt that is not a whole number', ['HSET', 'attempt', '1.5']],
    ['with a completedAt that is not a number', ['HSET', 'completedAt', 'later']],
    ['with compressed bytes that are not base64', ['HSET', 'resultBytes', 'no*base64']],
    ['with a result both as text and as compressed bytes', ['HSET', 'result', '"a"', 'resultBytes', 'AAE=']],
  ];
  for (const [name, [command, ...fieldsAndValues]] of damaged) {
    it(`${name} is a store error naming the field, never a claimable lease`, async () => {
      const client = connected('ioredis');
      const store = new RedisStore({ client: client.adapter });
      const key = `damaged-${randomUUID()}`;
      const pk = recordKey('acme', 'damaged', key);
      const now = Date.now();
      const record = claimRecord({ pk, scope: 'damaged', expiresAt: Math.floor(now / 1000) + 3600 });
      await store.claim({ ...record, leaseUntil: now + 60_000 }, { nowMs: now });
      await client.command([command ?? '', pk, ...fieldsAndValues]);
      const read = await store.get(pk).catch((caught: unknown) => caught);
      expect(read).toBeInstanceOf(IdempotencyCorruptRecordError);
      expect((read as IdempotencyCorruptRecordError).message).toMatch(/`\w+` missing or malformed/);
      const engine = buildEngine(
        { store, telemetry: silentTelemetry, environment: 'test', mode: 'enforce' },
        {},
      );
      const error = await engine
        .begin({ org: 'acme', scope: 'damaged', key, fingerprint: 'fp-1' })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdempotencyStoreError);
      expect((error as IdempotencyStoreError).cause).toBeInstanceOf(IdempotencyCorruptRecordError);
      // The damaged record is still there, untouched by the claim.
      expect(Number(await client.command(['EXISTS', pk]))).toBe(1);
    });
  }
});
