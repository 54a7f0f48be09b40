import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { isExpired } from '../core/record-state.js';

// The two attributes a sweep reads, as src/stores/dynamodb-item.ts lays a record out (docs/protocol.md section 2).
const PK = 'pk';
const EXPIRES_AT = 'expiresAt';

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
  const counts = { scanned: 0, expired: 0, deleted: 0, kept: 0, pages: 0 };
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
        ProjectionExpression: '#pk, #expiresAt',
        ExpressionAttributeNames: { '#pk': PK, '#expiresAt': EXPIRES_AT },
        Limit: options.pageSize ?? 250,
        ExclusiveStartKey: startKey,
      }),
      { abortSignal: options.signal },
    );
    counts.pages++;
    counts.scanned += page.Items?.length ?? 0;
    for (const item of page.Items ?? []) {
      const pk = item[PK]?.S;
      const expiresAt = Number(item[EXPIRES_AT]?.N);
      // A damaged item (no number) is never expired by this rule: it is the doctor's to report, not to delete.
      if (pk === undefined || !Number.isFinite(expiresAt) || !isExpired({ expiresAt }, clock())) continue;
      counts.expired++;
      if (dryRun) continue;
      const due = paceStart + (sent * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal: options.signal });
      sent++;
      if (await deleteIfExpired(options, pk, clock())) counts.deleted++;
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
async function deleteIfExpired(options: SweepOptions, pk: string, nowMs: number): Promise<boolean> {
  try {
    await options.client.send(
      new DeleteItemCommand({
        TableName: options.tableName,
        Key: { [PK]: { S: pk } },
        ConditionExpression: 'attribute_exists(#pk) AND #expiresAt < :nowS',
        ExpressionAttributeNames: { '#pk': PK, '#expiresAt': EXPIRES_AT },
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
