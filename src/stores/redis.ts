/**
 * `idemkit/redis`: the Valkey and Redis OSS store (ElastiCache, MemoryDB, self-hosted), and one adapter per
 * client, so users keep the client they already run. No client library is a dependency of idemkit: the adapters
 * only describe the few methods they call.
 *
 * @example
 * import { createClient } from '@redis/client';
 * import { nodeRedisClient, RedisStore } from 'idemkit/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const store = new RedisStore({ client: nodeRedisClient(redis) });
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatResultRef } from '../core/large-result.js';
import type { ClaimOptions } from '../core/record-state.js';
import type { ClaimResult, CompletionUpdate, IdempotencyRecord, Store } from '../core/types.js';
import { fromFields, replyToFields, resultFields, toFields } from './redis-record.js';

/** A Lua script the store runs, with its SHA-1 so clients can send `EVALSHA` instead of the source. */
export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
}

/**
 * What {@link RedisStore} needs from a client: run one Lua script atomically on the server that holds its
 * one key. Build it with {@link nodeRedisClient}, {@link ioredisClient} (also `iovalkey`) or
 * {@link valkeyGlideClient}, or implement it for another client.
 *
 * @example
 * const client: RedisScriptClient = { runScript: (script, keys, args) => myClient.eval(script.source, keys, args) };
 */
export interface RedisScriptClient {
  /** Runs `script` (`EVALSHA`, falling back to `EVAL` when the server does not hold it yet) and resolves its reply. */
  runScript(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown>;
}

function lua(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

// The claim condition of docs/protocol.md section 3, evaluated on the server in one step: `isClaimable`
// (src/core/record-state.ts) as Lua; the store contract suite checks that both agree. A record whose numbers do not
// parse is never claimable: it comes back whole, and reading it is a store error (IdempotencyCorruptRecordError).
// The claim's own token on a live lease is claimable too, so a claim re-sent after a cut connection finds itself.
// ARGV: nowS, nowMs, failedToken ('' for none), ttlMs, leaseToken, then the record's field/value pairs.
const CLAIM = lua(`local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
  local current = redis.call('HMGET', key, 'status', 'expiresAt', 'leaseUntil', 'leaseToken')
  local status, token = current[1], current[4]
  local expiresAt, leaseUntil = tonumber(current[2]), tonumber(current[3])
  local claimable = false
  if expiresAt ~= nil then
    if expiresAt < tonumber(ARGV[1]) then
      claimable = true
    elseif status == 'IN_PROGRESS' and leaseUntil ~= nil and token then
      claimable = leaseUntil < tonumber(ARGV[2]) or token == ARGV[5]
    elseif status == 'FAILED' and ARGV[3] ~= '' and token == ARGV[3] then
      claimable = true
    end
  end
  if not claimable then return redis.call('HGETALL', key) end
  redis.call('DEL', key)
end
redis.call('HSET', key, unpack(ARGV, 6))
redis.call('PEXPIRE', key, ARGV[4])
return 1`);

// Fenced writes: only the caller's own, still running claim (docs/protocol.md section 8, "Fencing includes the status").
const OWNED = `local current = redis.call('HMGET', KEYS[1], 'leaseToken', 'status')
if current[1] ~= ARGV[1] or current[2] ~= 'IN_PROGRESS' then return 0 end
`;

// ARGV: leaseToken, ttlMs, then the completion's field/value pairs.
const COMPLETE =
  lua(`${OWNED}redis.call('HDEL', KEYS[1], 'leaseUntil', 'result', 'resultBytes', 'resultDropped', 'resultRef')
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`);

// ARGV: leaseToken.
const RELEASE = lua(`${OWNED}redis.call('DEL', KEYS[1])
return 1`);

// ARGV: leaseToken, leaseUntil, then (optionally) expiresAt and its ttlMs: the record lives as long as the lease.
const RENEW = lua(`${OWNED}redis.call('HSET', KEYS[1], 'leaseUntil', ARGV[2])
if ARGV[3] then
  redis.call('HSET', KEYS[1], 'expiresAt', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1`);

const GET = lua(`return redis.call('HGETALL', KEYS[1])`);

/** Every script the store runs, for tools that preload them (`SCRIPT LOAD`) or check a server's ACL. */
export const REDIS_SCRIPTS: Readonly<Record<'claim' | 'complete' | 'release' | 'renew' | 'get', LuaScript>> =
  {
    claim: CLAIM,
    complete: COMPLETE,
    release: RELEASE,
    renew: RENEW,
    get: GET,
  };

/**
 * Options of {@link RedisStore}.
 *
 * @example
 * { client: nodeRedisClient(redis), keyPrefix: 'idem:' }
 */
export interface RedisStoreOptions {
  /** The client, through its adapter. Connect it once at cold start and share it. */
  readonly client: RedisScriptClient;
  /**
   * Put before every record key (`<keyPrefix><org>#<scope>#<digest>`), to keep idemkit's keys apart on a shared
   * server. An ACL that fences a tenant matches `~<keyPrefix><org>#*`.
   * @default ''
   */
  readonly keyPrefix?: string;
  /**
   * How many times one operation is sent when the connection fails (a cut, a reconnection, a timeout), as the AWS
   * SDK retries DynamoDB calls. Safe, because each script finds its own earlier write (section 8). An error the
   * server answered (`ERR`, `WRONGTYPE`, ...) is never retried.
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * Where the jitter of the wait before an operation is sent again comes from, in [0, 1): tests pin it.
   * @default `Math.random`
   */
  readonly random?: () => number;
  /**
   * How the store waits before an operation is sent again: tests record the waits instead of sleeping.
   * @default `setTimeout` from `node:timers/promises`
   */
  readonly sleep?: (ms: number) => Promise<unknown>;
}

/**
 * The Valkey / Redis OSS store: every operation is one Lua script on the record's one key (cluster-safe), atomic on
 * the server, one round trip. Records expire by the server's TTL (`PEXPIRE`, relative to the engine's clock, so the
 * server's clock does not matter) and, as everywhere, by comparison of `expiresAt` with now. Durability is the
 * server's: see the README, "Choosing a store".
 *
 * @example
 * const store = new RedisStore({ client: ioredisClient(new Redis(process.env.REDIS_URL!)) });
 */
export class RedisStore implements Store {
  readonly client: RedisScriptClient;
  readonly keyPrefix: string;
  readonly maxAttempts: number;
  readonly #random: () => number;
  readonly #sleep: (ms: number) => Promise<unknown>;

  constructor(options: RedisStoreOptions) {
    if (typeof options?.client?.runScript !== 'function') {
      throw new TypeError(
        `Expected \`client\` of \`RedisStore\` to be a client adapter (nodeRedisClient, ioredisClient or valkeyGlideClient from 'idemkit/redis'), got ${describe(options?.client)}.`,
      );
    }
    if (options.keyPrefix !== undefined && typeof options.keyPrefix !== 'string') {
      throw new TypeError(
        `Expected \`keyPrefix\` of \`RedisStore\` to be a string, got ${describe(options.keyPrefix)}.`,
      );
    }
    const attempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new TypeError(
        `Expected \`maxAttempts\` of \`RedisStore\` to be a whole number of at least 1, got ${describe(options.maxAttempts)}.`,
      );
    }
    this.client = options.client;
    this.keyPrefix = options.keyPrefix ?? '';
    this.maxAttempts = attempts;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? ((ms) => sleep(ms));
  }

  async #run(script: LuaScript, pk: string, args: readonly string[]): Promise<unknown> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.client.runScript(script, [this.keyOf(pk)], args);
      } catch (error) {
        if (attempt >= this.maxAttempts || isServerReply(error)) throw error;
        // Full jitter from 25 ms doubling, so clients that lost one connection together do not return together.
        await this.#sleep(this.#random() * RETRY_BASE_MS * 2 ** (attempt - 1));
      }
    }
  }

  /** The server key of the record `pk`. */
  keyOf(pk: string): string {
    return `${this.keyPrefix}${pk}`;
  }

  async claim(record: IdempotencyRecord, options: ClaimOptions): Promise<ClaimResult> {
    const reply = await this.#run(CLAIM, record.pk, [
      String(Math.floor(options.nowMs / 1000)),
      String(options.nowMs),
      // Stryker disable next-line StringLiteral: any text that is no lease token means "no takeover" as well as ''
      options.failedToken ?? '',
      ttlMs(record.expiresAt, options.nowMs),
      // Stryker disable next-line StringLiteral: a claim record always has its token; the fallback is for the type
      record.leaseToken ?? '',
      ...toFields(record),
    ]);
    if (isOne(reply)) return { claimed: true };
    const fields = replyToFields(reply);
    return { claimed: false, existing: fields === undefined ? undefined : fromFields(fields) };
  }

  async get(pk: string): Promise<IdempotencyRecord | undefined> {
    // Stryker disable next-line ArrayDeclaration: the read script reads no argument, so any sent are ignored
    const fields = replyToFields(await this.#run(GET, pk, []));
    return fields === undefined ? undefined : fromFields(fields);
  }

  /**
   * Many records at once: one read script per key, all sent together (one key per script keeps it cluster-safe; the
   * clients pipeline commands sent in the same tick, so this costs about one round trip).
   */
  async getMany(pks: readonly string[]): Promise<ReadonlyMap<string, IdempotencyRecord>> {
    const unique = [...new Set(pks)];
    const records = await Promise.all(unique.map((pk) => this.get(pk)));
    const found = new Map<string, IdempotencyRecord>();
    for (const record of records) if (record !== undefined) found.set(record.pk, record);
    return found;
  }

  async complete(pk: string, leaseToken: string, update: CompletionUpdate): Promise<boolean> {
    const pairs = [
      'status',
      update.status,
      'completedAt',
      String(update.completedAt),
      'expiresAt',
      String(update.expiresAt),
    ];
    if (update.result !== undefined) pairs.push(...resultFields(update.result));
    if (update.resultDropped !== undefined) pairs.push('resultDropped', update.resultDropped);
    if (update.resultRef !== undefined) pairs.push('resultRef', formatResultRef(update.resultRef));
    if (update.fingerprint !== undefined) pairs.push('fingerprint', update.fingerprint);
    const reply = await this.#run(COMPLETE, pk, [
      leaseToken,
      ttlMs(update.expiresAt, update.completedAt),
      ...pairs,
    ]);
    return isOne(reply);
  }

  async release(pk: string, leaseToken: string): Promise<boolean> {
    return isOne(await this.#run(RELEASE, pk, [leaseToken]));
  }

  async renew(pk: string, leaseToken: string, leaseUntil: number, expiresAt?: number): Promise<boolean> {
    const lifetime = expiresAt === undefined ? [] : [String(expiresAt), ttlMs(expiresAt, Date.now())];
    return isOne(await this.#run(RENEW, pk, [leaseToken, String(leaseUntil), ...lifetime]));
  }
}

/**
 * The server TTL of a record, relative to the engine's now: it ends with the last whole second in which the record
 * is not yet expired (`expiresAt < floor(now / 1000)` is the rule), and is at least 1 ms.
 */
function ttlMs(expiresAtSeconds: number, nowMs: number): string {
  return String(Math.max(1, (expiresAtSeconds + 1) * 1000 - nowMs));
}

const DEFAULT_MAX_ATTEMPTS = 3;
const RETRY_BASE_MS = 25;

/**
 * Whether the server itself answered with an error (`ERR ...`, `WRONGTYPE ...`, `NOSCRIPT ...`: an upper-case code
 * first, as RESP error replies are): the operation was refused, so sending it again would be refused again.
 */
function isServerReply(error: unknown): boolean {
  return (
    error instanceof Error &&
    /^[A-Z][A-Z_]+ /.test(error.message) &&
    !/^(ECONN|EPIPE|ETIMEDOUT)/.test(error.message)
  );
}

function isOne(reply: unknown): boolean {
  return reply === 1 || reply === 1n || reply === '1';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object without \`runScript\``;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

// ---------------------------------------------------------------------------------------------------------------
// Adapters. Each describes only the methods it calls, so no client library is imported here.

/** Whether a server answered that it does not hold a script (then `EVAL` sends it once). */
function isNoScript(error: unknown): boolean {
  return error instanceof Error && /^NOSCRIPT\b/.test(error.message);
}

async function evalShaOrEval(
  evalSha: () => Promise<unknown>,
  evalSource: () => Promise<unknown>,
): Promise<unknown> {
  try {
    return await evalSha();
  } catch (error) {
    // NOSCRIPT means the script did not run: sending its source cannot apply it twice.
    if (isNoScript(error)) return evalSource();
    throw error;
  }
}

/** The methods of a node-redis 5+ client (`@redis/client` or `redis`; `createClient` or `createCluster`) the adapter calls. */
export interface NodeRedisLike {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * Adapts a connected node-redis client (`@redis/client`, `redis`; single node or `createCluster`).
 *
 * @example
 * const store = new RedisStore({ client: nodeRedisClient(await createClient({ url }).connect()) });
 */
export function nodeRedisClient(client: NodeRedisLike): RedisScriptClient {
  return {
    runScript: (script, keys, args) => {
      const options = { keys: [...keys], arguments: [...args] };
      return evalShaOrEval(
        () => client.evalSha(script.sha1, options),
        () => client.eval(script.source, options),
      );
    },
  };
}

/** The methods of an ioredis or iovalkey client (`Redis`/`Valkey` or `Cluster`) the adapter calls. */
export interface IoRedisLike {
  evalsha(sha1: string, numberOfKeys: number, ...keysAndArguments: string[]): Promise<unknown>;
  eval(script: string, numberOfKeys: number, ...keysAndArguments: string[]): Promise<unknown>;
}

/**
 * Adapts an ioredis or iovalkey client (single node or `Cluster`). Give it `maxRetriesPerRequest` of your
 * choosing: a script re-sent after a reconnection is safe, because each script finds its own earlier write.
 *
 * @example
 * const store = new RedisStore({ client: ioredisClient(new Redis(process.env.REDIS_URL!)) });
 */
export function ioredisClient(client: IoRedisLike): RedisScriptClient {
  return {
    runScript: (script, keys, args) =>
      evalShaOrEval(
        () => client.evalsha(script.sha1, keys.length, ...keys, ...args),
        () => client.eval(script.source, keys.length, ...keys, ...args),
      ),
  };
}

/** The method of a Valkey GLIDE client (`GlideClient` or `GlideClusterClient`) the adapter calls. */
export interface ValkeyGlideLike<S> {
  invokeScript(script: S, options: { keys: string[]; args: string[] }): Promise<unknown>;
}

/**
 * Adapts a Valkey GLIDE client (`@valkey/valkey-glide`). Pass its `Script` class too: GLIDE loads scripts by their
 * hash itself, and the adapter builds each `Script` once.
 *
 * @example
 * import { GlideClient, Script } from '@valkey/valkey-glide';
 * const glide = await GlideClient.createClient({ addresses: [{ host, port }] });
 * const store = new RedisStore({ client: valkeyGlideClient(glide, Script) });
 */
export function valkeyGlideClient<S>(
  client: ValkeyGlideLike<S>,
  Script: new (code: string) => S,
): RedisScriptClient {
  const built = new Map<string, S>();
  return {
    runScript: (script, keys, args) => {
      let prepared = built.get(script.sha1);
      if (prepared === undefined) {
        prepared = new Script(script.source);
        built.set(script.sha1, prepared);
      }
      return client.invokeScript(prepared, { keys: [...keys], args: [...args] });
    },
  };
}
