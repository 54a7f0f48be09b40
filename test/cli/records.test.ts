import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { view } from '../../src/cli/commands/records-shared.js';
import { run } from '../../src/cli/program.js';
import { keyDigest, recordKey } from '../../src/core/keys.js';
import type { IdempotencyRecord } from '../../src/core/types.js';
import { toItem } from '../../src/stores/dynamodb-item.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { idemkit, memoryIo } from './support.js';

const endpoint = inject('dynamoEndpoint');
const { client } = localClient(endpoint);
let table: string;
const now = Date.now();
const nowS = Math.floor(now / 1000);

function record(
  org: string,
  scope: string,
  key: string,
  fields: Partial<IdempotencyRecord> = {},
): IdempotencyRecord {
  return {
    pk: recordKey(org, scope, key),
    org,
    scope,
    status: 'COMPLETED',
    expiresAt: nowS + 3600,
    fingerprint: 'fp',
    createdAt: now - 60_000,
    completedAt: now - 59_000,
    attempt: 1,
    v: 1,
    leaseToken: 'token-1',
    result: JSON.stringify({ statusCode: 201 }),
    ...fields,
  };
}

async function put(...records: IdempotencyRecord[]) {
  for (const r of records) await client.send(new PutItemCommand({ TableName: table, Item: toItem(r) }));
}

async function exists(pk: string) {
  return (
    (
      await client.send(
        new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }),
      )
    ).Item !== undefined
  );
}

const stuck = (key: string) =>
  record('acme', 'charge', key, {
    status: 'IN_PROGRESS',
    leaseUntil: now - 30 * 60_000,
    completedAt: undefined,
    result: undefined,
  });

beforeAll(async () => {
  table = await createIdempotencyTable(client, 'cli-records');
  await put(
    ...Array.from({ length: 20 }, (_, i) => record('acme', 'charge', `pay-${i}`)),
    stuck('pay-stuck'),
    record('acme', 'refund', 'ref-1', { status: 'FAILED' }),
    record('acme', 'charge', 'pay-old', { expiresAt: nowS - 10 }),
    record('globex', 'charge', 'pay-0'),
  );
});

afterAll(() => client.destroy());

const db = () => ['--table', table, '--endpoint', endpoint];

/** `idemkit records <command> --table … --endpoint … --org acme ...args`: how every test here starts. */
const records = (command: 'get' | 'list' | 'release', ...args: string[]) =>
  idemkit(['records', command, ...db(), '--org', 'acme', ...args]);

/** The flags that name acme's `charge` record of `key`. */
const charge = (key: string) => ['--scope', 'charge', '--key', key];

describe("records judge a record by the engine's own rule", () => {
  it('calls a record expired only once the engine would claim over it, in the same whole second', () => {
    const expiresAt = 1_800_000_000;
    const subject = record('acme', 'charge', 'edge', { expiresAt });
    // Half a second past expiresAt the engine's claim condition (expiresAt < nowS) still holds the record.
    expect(view(subject, expiresAt * 1000 + 500).expired).toBe(false);
    expect(view(subject, (expiresAt + 1) * 1000).expired).toBe(true);
  });

  it('calls an IN_PROGRESS record stuck once its lease has ended, and live until then', () => {
    const subject = record('acme', 'charge', 'lease', { status: 'IN_PROGRESS', leaseUntil: now });
    expect(view(subject, now).stuck).toBe(false);
    expect(view(subject, now + 1).stuck).toBe(true);
  });
});

describe('records get computes the same pk as the library', () => {
  it('shows the record for --org --scope --key, with the key only as its digest', async () => {
    const result = await records('get', ...charge('pay-3'), '--json');
    expect(result.code).toBe(0);
    const shown = result.json<{ pk: string; keyDigest: string; status: string }>();
    expect(shown.pk).toBe(recordKey('acme', 'charge', 'pay-3'));
    expect(shown.keyDigest).toBe(keyDigest('pay-3'));
    expect(shown.status).toBe('COMPLETED');
    expect(result.stdout).not.toContain('pay-3');
  });

  it('exits 1 with one line when there is no record', async () => {
    const result = await records('get', ...charge('never'));
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`No record for ${recordKey('acme', 'charge', 'never')}`);
  });
});

describe("records list pages through one org's records", () => {
  it('returns every record of the org across Scan pages, and none of another org', async () => {
    const result = await records('list', '--page-size', '3', '--limit', '1000', '--json');
    expect(result.code).toBe(0);
    const { records: listed, truncated } = result.json<{
      records: { pk: string; org: string }[];
      truncated: boolean;
    }>();
    expect(listed).toHaveLength(23);
    expect(listed.every((r) => r.pk.startsWith('acme#'))).toBe(true);
    expect(truncated).toBe(false);
  });

  it('filters by status, including stuck and expired, and by scope', async () => {
    const list = async (...args: string[]) =>
      (await records('list', '--json', ...args))
        .json<{ records: { pk: string }[] }>()
        .records.map((r) => r.pk);
    expect(await list('--status', 'stuck')).toEqual([recordKey('acme', 'charge', 'pay-stuck')]);
    expect(await list('--status', 'FAILED')).toEqual([recordKey('acme', 'refund', 'ref-1')]);
    expect(await list('--status', 'expired')).toEqual([recordKey('acme', 'charge', 'pay-old')]);
    expect((await list('--status', 'stuck,failed')).sort()).toEqual(
      [recordKey('acme', 'charge', 'pay-stuck'), recordKey('acme', 'refund', 'ref-1')].sort(),
    );
    expect(await list('--scope', 'refund')).toEqual([recordKey('acme', 'refund', 'ref-1')]);
  });

  it('stops at --limit and says more exist', async () => {
    const result = await records('list', '--limit', '5', '--page-size', '4');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('5 record(s); more exist, raise `--limit` above 5 to see them.');
  });
});

describe('records release deletes a stuck record and nothing else', () => {
  it('releases an IN_PROGRESS record whose lease has ended', async () => {
    await put(stuck('rel-1'));
    const result = await records('release', ...charge('rel-1'), '--yes');
    expect(result.code).toBe(0);
    expect(await exists(recordKey('acme', 'charge', 'rel-1'))).toBe(false);
  });

  it('accepts the pk that records list prints', async () => {
    await put(stuck('rel-pk'));
    const pk = recordKey('acme', 'charge', 'rel-pk');
    const result = await records('release', '--pk', pk, '--yes');
    expect(result.code).toBe(0);
    expect(await exists(pk)).toBe(false);
  });

  it('refuses a COMPLETED record unless --force', async () => {
    await put(record('acme', 'charge', 'rel-done'));
    const refused = await records('release', ...charge('rel-done'), '--yes');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      'it is COMPLETED, so releasing it lets the operation run a second time; pass `--force`',
    );
    expect(await exists(recordKey('acme', 'charge', 'rel-done'))).toBe(true);
    expect((await records('release', ...charge('rel-done'), '--yes', '--force')).code).toBe(0);
    expect(await exists(recordKey('acme', 'charge', 'rel-done'))).toBe(false);
  });

  it('refuses a live lease, whose owner may still be running', async () => {
    await put(
      record('acme', 'charge', 'rel-live', { status: 'IN_PROGRESS', leaseUntil: Date.now() + 600_000 }),
    );
    const result = await records('release', ...charge('rel-live'), '--yes');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('its lease is live for');
    expect(await exists(recordKey('acme', 'charge', 'rel-live'))).toBe(true);
  });

  it('refuses without --yes when there is no terminal to ask on', async () => {
    await put(stuck('rel-ask'));
    const result = await records('release', ...charge('rel-ask'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('without confirmation: there is no terminal to ask on; pass `--yes`.');
    expect(await exists(recordKey('acme', 'charge', 'rel-ask'))).toBe(true);
  });

  it('keeps a record that another invocation claimed between the read and the delete', async () => {
    await put(stuck('rel-race'));
    const pk = recordKey('acme', 'charge', 'rel-race');
    // In-process, so a retry can take the lease right after the CLI's read: the race a real server
    // cannot be made to produce on cue.
    const original = DynamoDBClient.prototype.send;
    const spy = vi.spyOn(DynamoDBClient.prototype, 'send').mockImplementation(async function (
      this: DynamoDBClient,
      command: unknown,
    ) {
      const output = await (original as (c: unknown) => Promise<unknown>).call(this, command);
      if (command instanceof GetItemCommand && this !== client) {
        await client.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { pk: { S: pk } },
            UpdateExpression: 'SET leaseToken = :t, leaseUntil = :l',
            ExpressionAttributeValues: { ':t': { S: 'token-2' }, ':l': { N: String(Date.now() + 60_000) } },
          }),
        );
      }
      return output;
    } as never);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    try {
      const io = memoryIo();
      const code = await run(['records', 'release', ...db(), '--org', 'acme', '--pk', pk, '--yes'], io);
      expect(code).toBe(1);
      expect(io.stderrLines[0]).toContain('it changed since it was read');
    } finally {
      spy.mockRestore();
      vi.unstubAllEnvs();
    }
    expect(await exists(pk)).toBe(true);
  });

  it('keeps a record whose owner renewed its lease between the read and the delete', async () => {
    await put(stuck('rel-renewed'));
    const pk = recordKey('acme', 'charge', 'rel-renewed');
    // A slow owner, past its lease but still running, renews it (same token) right after the CLI's read.
    const original = DynamoDBClient.prototype.send;
    const spy = vi.spyOn(DynamoDBClient.prototype, 'send').mockImplementation(async function (
      this: DynamoDBClient,
      command: unknown,
    ) {
      const output = await (original as (c: unknown) => Promise<unknown>).call(this, command);
      if (command instanceof GetItemCommand && this !== client) {
        await client.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { pk: { S: pk } },
            UpdateExpression: 'SET leaseUntil = :l',
            ExpressionAttributeValues: { ':l': { N: String(Date.now() + 60_000) } },
          }),
        );
      }
      return output;
    } as never);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    try {
      const io = memoryIo();
      const code = await run(['records', 'release', ...db(), '--org', 'acme', '--pk', pk, '--yes'], io);
      expect(code).toBe(1);
      expect(io.stderrLines[0]).toContain('it changed since it was read');
    } finally {
      spy.mockRestore();
      vi.unstubAllEnvs();
    }
    expect(await exists(pk)).toBe(true);
  });
});
