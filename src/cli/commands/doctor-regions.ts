import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { isExpired } from '../../core/record-state.js';
import type { ItemLayout } from '../../stores/dynamodb-item.js';
import { formatDuration } from '../io.js';
import type { Check, ItemCheck } from './doctor-checks.js';
import { describeScan } from './scan-bounds.js';

/** How the table's replicas agree: one Region, a global table with eventual or with strong consistency (MRSC). */
export type RegionMode = 'single' | 'eventual' | 'strong';

/**
 * The `regions` check of `idemkit doctor`, for a table with replicas: reads them and the consistency mode. A global table with
 * eventual consistency fails (two Regions can both win one claim and run the operation twice); MRSC passes, and
 * the caller then checks the sweep instead of TTL, which MRSC tables do not have.
 *
 * @example
 * const regions = await checkRegions(ddb, 'idempotency', 'eu-west-1', checks);
 */
export async function checkRegions(
  ddb: DynamoDBClient,
  table: string,
  region: string | undefined,
  checks: Check[],
): Promise<RegionMode> {
  const described = (await ddb.send(new DescribeTableCommand({ TableName: table }))).Table;
  const replicas = (described?.Replicas ?? []).map((replica) => replica.RegionName).filter(isString);
  const regions = [...new Set([...(region === undefined ? [] : [region]), ...replicas])];
  const witnesses = (described?.GlobalTableWitnesses ?? [])
    .map((witness) => witness.RegionName)
    .filter(isString);
  // One Region: nothing to report, every claim is decided in one place (and the report stays as it was).
  if (replicas.length === 0) return 'single';
  const where = `${regions.join(', ')}${witnesses.length === 0 ? '' : ` (witness ${witnesses.join(', ')})`}`;
  if (described?.MultiRegionConsistency === 'STRONG') {
    checks.push({
      name: 'regions',
      status: 'pass',
      detail: `global table with multi-Region strong consistency in ${where}: a claim's conditional write holds across Regions.`,
    });
    return 'strong';
  }
  checks.push({
    name: 'regions',
    status: 'fail',
    detail: `global table with eventual consistency in ${where}: two Regions can both win the same claim (last writer wins) and run the operation twice, silently.`,
    fix: 'recreate the table with multi-Region strong consistency (MRSC: three Regions of one Region set, or two and a witness; `IdempotencyTable` with `replicaRegions`), or route every idempotent request to one Region and drop the replicas',
  });
  return 'eventual';
}

/**
 * The `sweep` check for a table without TTL (MRSC): the scheduled sweep deletes expired records, so none should
 * have been expired for longer than two sweep periods; older ones mean the sweep is not scheduled or not keeping up.
 * It reads the record checks' scan (see {@link ItemCheck}), so the table is scanned once.
 *
 * @example
 * await checkRecords(ddb, table, layout, 15, bounds, checks, [sweepCheck(table, layout, 60)]);
 */
export function sweepCheck(table: string, layout: ItemLayout, sweepEveryMin: number): ItemCheck {
  const now = Date.now();
  const lateS = 2 * sweepEveryMin * 60;
  let late = 0;
  let oldest = Number.POSITIVE_INFINITY;
  return {
    onItem(item) {
      const expiresAt = Number(item[layout.names.expiresAt]?.N ?? 'NaN');
      if (!Number.isFinite(expiresAt) || !isExpired({ expiresAt }, now)) return;
      oldest = Math.min(oldest, expiresAt);
      if (isExpired({ expiresAt: expiresAt + lateS }, now)) late += 1;
    },
    finish(summary, checks) {
      const age = `${
        Number.isFinite(oldest) ? `, the oldest expired ${formatDuration(now - oldest * 1000)} ago` : ''
      }; ${describeScan(summary)}`;
      checks.push({
        name: 'sweep',
        status: late === 0 ? 'pass' : 'fail',
        detail:
          late === 0
            ? `no record expired longer than two sweep periods (${2 * sweepEveryMin} min)${age}: the sweep keeps up (MRSC tables have no TTL).`
            : `${late} record(s) expired more than ${2 * sweepEveryMin} min ago${age}: the sweep is not scheduled or not keeping up, and MRSC tables have no TTL to delete them.`,
        ...(late === 0
          ? {}
          : {
              fix: `schedule the sweep (\`IdempotencyTable\` adds it for MRSC, or \`IdempotencySweep\`), or run \`idemkit records sweep --table ${table}\`; pass \`--sweep-every\` if it runs less often than every ${sweepEveryMin} min`,
            }),
      });
    },
  };
}

const isString = (value: string | undefined): value is string => typeof value === 'string';
