import { BatchWriteItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LARGE_TABLE } from '../../src/cli/commands/scan-bounds.js';
import { recordKey } from '../../src/core/keys.js';
import type { IdempotencyRecord } from '../../src/core/types.js';
import { toItem } from '../../src/stores/dynamodb-item.js';
import { createIdempotencyTable, deleteTable, localClient } from '../support/dynamodb.js';
import { idemkit } from './support.js';

const endpoint = inject('dynamoEndpoint');
const { client } = localClient(endpoint);
const COUNT = 10_000;
const now = Date.now();
let table: string;

function record(i: number): IdempotencyRecord {
  return {
    pk: recordKey(i % 2 === 0 ? 'acme' : 'globex', 'charge', `pay-${i}`),
    org: i % 2 === 0 ? 'acme' : 'globex',
    scope: 'charge',
    status: 'COMPLETED',
    expiresAt: Math.floor(now / 1000) + 3600,
    fingerprint: 'fp',
    createdAt: now - 60_000,
    completedAt: now - 59_000,
    attempt: 1,
    v: 1,
    leaseToken: 'token-1',
    result: JSON.stringify({ statusCode: 201, body: 'x'.repeat(100) }),
  };
}

/** The bytes DynamoDB counts for an item: each attribute's name and value (numbers counted as their text, a bound). */
function itemBytes(item: ReturnType<typeof toItem>): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + name.length + String(value.S ?? value.N ?? '').length,
    0,
  );
}

beforeAll(async () => {
  table = await createIdempotencyTable(client, 'cli-scan');
  const requests: WriteRequest[] = Array.from({ length: COUNT }, (_, i) => ({
    PutRequest: { Item: toItem(record(i)) },
  }));
  for (let i = 0; i < requests.length; i += 25) {
    let pending: WriteRequest[] = requests.slice(i, i + 25);
    while (pending.length > 0) {
      const { UnprocessedItems } = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [table]: pending } }),
      );
      pending = UnprocessedItems?.[table] ?? [];
    }
  }
}, 600_000);

afterAll(async () => {
  await deleteTable(client, table);
  client.destroy();
});

interface ListOutput {
  records: unknown[];
  truncated: boolean;
  scan: { scanned: number; readUnits: number; pages: number; complete: boolean };
}

const list = (...flags: string[]) =>
  idemkit(['records', 'list', '--table', table, '--endpoint', endpoint, '--org', 'acme', '--json', ...flags]);

describe(`a scan of a table of ${COUNT} records reads no more than it needs`, () => {
  it('reads at most --max-items items, and consumes the read units of those items only', async () => {
    const result = await list('--max-items', '500', '--limit', '10000');
    expect(result.stderr).toBe('');
    const { scan, records } = result.json<ListOutput>();
    expect(scan.scanned).toBe(500);
    expect(scan.complete).toBe(false);
    // Half the records are acme's: the filter keeps about half of what was read, never more than was read.
    expect(records.length).toBeGreaterThan(0);
    expect(records.length).toBeLessThanOrEqual(500);
    // An eventually consistent Scan costs half a unit per 4 KB read, rounded up per request.
    const bytes = 500 * itemBytes(toItem(record(0)));
    expect(scan.readUnits).toBeGreaterThan(0);
    expect(scan.readUnits).toBeLessThanOrEqual(Math.ceil(bytes / 4096) * 0.5 + scan.pages * 0.5);
    const whole = (await list('--all', '--limit', '10000')).json<ListOutput>().scan;
    expect(whole.scanned).toBe(COUNT);
    expect(whole.complete).toBe(true);
    expect(scan.readUnits * 15).toBeLessThan(whole.readUnits);
  }, 120_000);

  it('splits --max-items over parallel --segments, reading no more in all', async () => {
    const { scan } = (
      await list('--max-items', '500', '--segments', '4', '--limit', '10000')
    ).json<ListOutput>();
    expect(scan.scanned).toBeLessThanOrEqual(500);
    expect(scan.scanned).toBeGreaterThan(400);
    expect(scan.pages).toBeGreaterThanOrEqual(4);
  }, 120_000);

  it('stops reading once --limit records are found', async () => {
    const { scan, records, truncated } = (
      await list('--max-items', '5000', '--limit', '20', '--page-size', '100')
    ).json<ListOutput>();
    expect(records).toHaveLength(20);
    expect(truncated).toBe(true);
    expect(scan.scanned).toBeLessThanOrEqual(100);
  }, 120_000);

  it(`refuses an unbounded scan of a table of ${LARGE_TABLE.items} items or more without --all`, async () => {
    for (const command of [['records', 'list', '--org', 'acme'], ['doctor']]) {
      const result = await idemkit([...command, '--table', table, '--endpoint', endpoint]);
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(
            `^idemkit: Refusing to scan all of ${table} \\(about ${COUNT} items, .* pass \`--max-items <n>\` to read a part, or \`--all\` to read it all\\.$`,
          ),
        ),
      ]);
    }
  }, 120_000);

  it('the doctor samples --max-items and says how much it read', async () => {
    const result = await idemkit([
      'doctor',
      '--table',
      table,
      '--endpoint',
      endpoint,
      '--max-items',
      '500',
      '--json',
    ]);
    const { checks } = result.json<{ checks: { name: string; detail: string }[] }>();
    const stuck = checks.find((check) => check.name === 'stuck leases');
    expect(stuck?.detail).toMatch(
      /read 500 item\(s\) in \d+ request\(s\), [\d.]+ read units, not the whole table/,
    );
  }, 120_000);
});
