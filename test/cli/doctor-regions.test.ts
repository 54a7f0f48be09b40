import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/program.js';
import { memoryIo } from './support.js';

// DynamoDB Local has no global tables, so these tables are described by a fault-injecting client: what
// DescribeTable answers for a single-Region table, an eventually consistent and a strongly consistent one.
const ddb = mockClient(DynamoDBClient);
const nowS = Math.floor(Date.now() / 1000);

const base = {
  KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' as const }],
  AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' as const }],
};
const tables: Record<string, DescribeTableCommandOutput['Table']> = {
  single: base,
  eventual: {
    ...base,
    Replicas: [{ RegionName: 'us-east-2' }, { RegionName: 'eu-west-1' }],
    MultiRegionConsistency: 'EVENTUAL',
  },
  // Before MRSC existed, DescribeTable of a global table carried no consistency mode: it is eventual.
  legacy: { ...base, Replicas: [{ RegionName: 'eu-west-1' }] },
  strong: {
    ...base,
    Replicas: [{ RegionName: 'us-east-2' }, { RegionName: 'us-west-2' }],
    MultiRegionConsistency: 'STRONG',
  },
  witness: {
    ...base,
    Replicas: [{ RegionName: 'us-east-2' }],
    GlobalTableWitnesses: [{ RegionName: 'us-west-2' }],
    MultiRegionConsistency: 'STRONG',
  },
};

interface Report {
  ok: boolean;
  checks: { name: string; status: string; detail: string; fix?: string }[];
}

async function doctor(table: string, items: { expiresAt: number }[] = [], extra: string[] = []) {
  ddb.on(DescribeTableCommand).resolves({ Table: tables[table] });
  // MRSC tables have no TTL.
  const mrsc = tables[table]?.MultiRegionConsistency === 'STRONG';
  ddb.on(DescribeTimeToLiveCommand).resolves({
    TimeToLiveDescription: mrsc
      ? { TimeToLiveStatus: 'DISABLED' }
      : { TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' },
  });
  ddb.on(DescribeContinuousBackupsCommand).resolves({
    ContinuousBackupsDescription: {
      ContinuousBackupsStatus: 'ENABLED',
      PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'ENABLED' },
    },
  });
  ddb.on(ScanCommand).resolves({
    Items: items.map((item, index) => ({
      pk: { S: `acme#charge#k${index}` },
      status: { S: 'COMPLETED' },
      expiresAt: { N: String(item.expiresAt) },
    })),
  });
  const io = memoryIo();
  const code = await run(['doctor', '--table', table, '--region', 'us-east-1', '--json', ...extra], io);
  const report = JSON.parse(io.stdout.join('')) as Report;
  const check = (name: string) => report.checks.find((entry) => entry.name === name);
  return { code, report, check };
}

beforeAll(() => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'x');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'x');
});
beforeEach(() => ddb.reset());
afterAll(() => ddb.restore());

describe('idemkit doctor reads the replicas and the consistency mode', () => {
  it('reports nothing new for a single-Region table and checks TTL as before', async () => {
    const { code, check } = await doctor('single');
    expect(code).toBe(0);
    expect(check('regions')).toBeUndefined();
    expect(check('ttl')).toMatchObject({ status: 'pass' });
    expect(check('sweep')).toBeUndefined();
  });

  it.each(['eventual', 'legacy'])(
    'fails a global table with eventual consistency (%s), explaining the duplicate and the fix',
    async (table) => {
      const { code, check } = await doctor(table);
      expect(code).toBe(1);
      const regions = check('regions');
      expect(regions?.status).toBe('fail');
      expect(regions?.detail).toMatch(
        /two Regions can both win the same claim \(last writer wins\) and run the operation twice/,
      );
      expect(regions?.fix).toMatch(/multi-Region strong consistency/);
    },
  );

  it.each(['strong', 'witness'])(
    'passes an MRSC table (%s) and checks the sweep instead of TTL',
    async (table) => {
      const { code, check } = await doctor(table, [{ expiresAt: nowS - 60 }]);
      expect(code).toBe(0);
      expect(check('regions')).toMatchObject({ status: 'pass' });
      expect(check('regions')?.detail).toMatch(
        table === 'witness' ? /witness us-west-2/ : /us-east-1, us-east-2, us-west-2/,
      );
      expect(check('ttl')).toMatchObject({ status: 'skip' });
      expect(check('sweep')).toMatchObject({ status: 'pass' });
      // The sweep check reads the record checks' scan: the table is scanned once.
      expect(ddb.commandCalls(ScanCommand)).toHaveLength(1);
    },
  );

  it('fails an MRSC table whose expired records outlive two sweep periods: the sweep is not scheduled', async () => {
    const { code, check } = await doctor('strong', [
      { expiresAt: nowS - 3 * 3600 },
      { expiresAt: nowS - 60 },
    ]);
    expect(code).toBe(1);
    expect(check('sweep')).toMatchObject({ status: 'fail' });
    expect(check('sweep')?.detail).toMatch(/^1 record\(s\) expired more than 120 min ago/);
    expect(check('sweep')?.fix).toMatch(/idemkit records sweep --table strong/);
  });

  it('points lingering expired records on an MRSC table at the sweep, not at TTL', async () => {
    const { check } = await doctor('strong', [{ expiresAt: nowS - 3 * 86_400 }]);
    expect(check('expired records')).toMatchObject({ status: 'fail' });
    expect(check('expired records')?.fix).toMatch(/no TTL: schedule the sweep/);
  });

  it('takes the sweep period from --sweep-every', async () => {
    const { check } = await doctor('strong', [{ expiresAt: nowS - 3 * 3600 }], ['--sweep-every', '120']);
    expect(check('sweep')).toMatchObject({ status: 'pass' });
  });
});
