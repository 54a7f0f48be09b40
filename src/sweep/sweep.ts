import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { isExpired } from '../core/record-state.js';
import {
  type AttributeNames,
  type ItemLayout,
  itemLayout,
  keyOf,
  type SortKey,
} from '../stores/dynamodb-item.js';

/**
 * Options of {@link sweepExpiredRecords}.
 *
 * @example
 * { client, tableName: 'idempotency', maxDeletesPerSecond: 25, dryRun: true }
 */
export interface SweepOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /**
   * Attribute names of an existing table, as `DynamoDBStore` takes them.
   * @default - idemkit's schema: `pk`, `expiresAt`
   */
  readonly attributes?: AttributeNames;
  /**
   * The sort key of a single-table design, as `DynamoDBStore` takes it; only items that carry idemkit's value in
   * it are swept, never another entity's.
   * @default - no sort key
   */
  readonly sortKey?: SortKey;
  /**
   * The layout already resolved (`itemLayout(attributes, sortKey)`); wins over `attributes` and `sortKey`.
   * @default - resolved from `attributes` and `sortKey`
   */
  readonly layout?: ItemLayout;
  /**
   * Items read per Scan page.
   * @default 250
   */
  readonly pageSize?: number;
  /**
   * The most deletes sent per second, so a sweep never competes with the hot path for capacity.
   * @default 50
   */
  readonly maxDeletesPerSecond?: number;
  /**
   * Count what would be deleted, delete nothing.
   * @default false
   */
  readonly dryRun?: boolean;
  /**
   * Stop starting pages after this many ms (a scheduled Lambda keeps time to report); the next run goes on.
   * @default no limit
   */
  readonly maxDurationMs?: number;
  /** Called after every page and every delete with the counts so far. */
  readonly onProgress?: (progress: SweepProgress) => void;
  /**
   * The clock, epoch ms. For tests.
   * @default Date.now
   */
  readonly clock?: () => number;
  readonly signal?: AbortSignal;
}

/** The counts of a sweep so far. */
export interface SweepProgress {
  /** Items the Scan read. */
  readonly scanned: number;
  /** Items found expired (`isExpired`, the claim condition's own rule). */
  readonly expired: number;
  /** Expired items deleted (0 in a dry run). */
  readonly deleted: number;
  /** Expired when read but not when deleted: claimed again meanwhile, or already gone. Kept. */
  readonly kept: number;
  readonly pages: number;
  /** Read capacity units the Scan consumed (ReturnConsumedCapacity TOTAL); deletes are not counted. */
  readonly readUnits: number;
}

/** What a sweep did. */
export interface SweepSummary extends SweepProgress {
  readonly dryRun: boolean;
  /** The Scan reached the end of the table; `false` when stopped by `maxDurationMs` or the signal. */
  readonly complete: boolean;
  readonly durationMs: number;
}

/**
 * Deletes expired records from a table without TTL (a multi-Region strongly consistent global table): a paged
 * Scan that reads only `pk` and `expiresAt`, then one `DeleteItem` per expired record, rate-limited and
 * conditional on the record still being expired, so a record claimed again since it was read is kept. The same
 * code runs as `idemkit records sweep` and as the scheduled sweep Lambda.
 *
 * @example
 * const summary = await sweepExpiredRecords({ client, tableName: 'idempotency' });
 */
export async function sweepExpiredRecords(options: SweepOptions): Promise<SweepSummary> {
  const clock = options.clock ?? Date.now;
  const startedAt = clock();
  const rate = options.maxDeletesPerSecond ?? 50;
  if (!(rate > 0)) {
    throw new RangeError(`Expected \`maxDeletesPerSecond\` to be above 0, got ${rate}.`);
  }
  const dryRun = options.dryRun === true;
  const layout = options.layout ?? itemLayout(options.attributes, options.sortKey);
  const { pk: pkName, expiresAt: expiresName } = layout.names;
  const sortName = layout.sortKey?.name;
  const attributeNames: Record<string, string> = { '#pk': pkName, '#expiresAt': expiresName };
  if (sortName !== undefined) attributeNames['#sk'] = sortName;
  const counts = { scanned: 0, expired: 0, deleted: 0, kept: 0, pages: 0, readUnits: 0 };
  const report = () => options.onProgress?.({ ...counts });
  const outOfTime = () =>
    options.signal?.aborted === true ||
    (options.maxDurationMs !== undefined && clock() - startedAt >= options.maxDurationMs);
  // Deletes are paced from the sweep's start: the n-th is sent no earlier than n / rate seconds in.
  const paceStart = Date.now();
  let sent = 0;

  let startKey: Record<string, AttributeValue> | undefined;
  do {
    if (outOfTime()) return summary(false);
    const page = await options.client.send(
      new ScanCommand({
        TableName: options.tableName,
        ProjectionExpression: sortName === undefined ? '#pk, #expiresAt' : '#pk, #sk, #expiresAt',
        ExpressionAttributeNames: attributeNames,
        Limit: options.pageSize ?? 250,
        ExclusiveStartKey: startKey,
        ReturnConsumedCapacity: 'TOTAL',
      }),
      { abortSignal: options.signal },
    );
    counts.pages++;
    counts.readUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
    counts.scanned += page.Items?.length ?? 0;
    for (const item of page.Items ?? []) {
      const pk = item[pkName]?.S;
      const expiresAt = Number(item[expiresName]?.N);
      // In a single-table design, an item of another entity shares the table: only idemkit's records are swept.
      if (pk === undefined || !isOurs(item, pk, layout)) continue;
      // A damaged item (no number) is never expired by this rule: it is the doctor's to report, not to delete.
      if (!Number.isFinite(expiresAt) || !isExpired({ expiresAt }, clock())) continue;
      counts.expired++;
      if (dryRun) continue;
      const due = paceStart + (sent * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal: options.signal });
      sent++;
      if (await deleteIfExpired(options, layout, pk, clock())) counts.deleted++;
      else counts.kept++;
      report();
    }
    report();
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return summary(true);

  function summary(complete: boolean): SweepSummary {
    return { ...counts, dryRun, complete, durationMs: clock() - startedAt };
  }
}

/** One delete, conditional on the record being expired now, in whole seconds, as `isExpired` compares. */
async function deleteIfExpired(
  options: SweepOptions,
  layout: ItemLayout,
  pk: string,
  nowMs: number,
): Promise<boolean> {
  try {
    await options.client.send(
      new DeleteItemCommand({
        TableName: options.tableName,
        Key: keyOf(pk, layout),
        ConditionExpression: 'attribute_exists(#pk) AND #expiresAt < :nowS',
        ExpressionAttributeNames: { '#pk': layout.names.pk, '#expiresAt': layout.names.expiresAt },
        ExpressionAttributeValues: { ':nowS': { N: String(Math.floor(nowMs / 1000)) } },
      }),
      { abortSignal: options.signal },
    );
    return true;
  } catch (error) {
    if (
      error instanceof ConditionalCheckFailedException ||
      (error as { name?: string }).name === 'ConditionalCheckFailedException'
    )
      return false;
    throw error;
  }
}

/** Whether a scanned item is an idemkit record: no sort key, or the one its `pk` gives. */
function isOurs(item: Record<string, AttributeValue>, pk: string, layout: ItemLayout): boolean {
  if (layout.sortKey === undefined) return true;
  const expected = keyOf(pk, layout)[layout.sortKey.name]?.S;
  return item[layout.sortKey.name]?.S === expected;
}
