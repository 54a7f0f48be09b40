import {
  type AttributeValue,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { IdempotencyRecord } from '../core/types.js';
import { compile, fromItem, type Item, type ItemLayout, keyOf, type RecordField } from './dynamodb-item.js';

/**
 * Operator reads and writes of idempotency records (`idemkit records`, `idemkit doctor`): by pk, by a bounded
 * scan, and the release of a stuck record. They go through the store's item layout, so attribute names and the
 * sort key of an existing table live in one place (docs/protocol.md section 2).
 */

/**
 * One record, read consistently; `undefined` when there is none.
 *
 * @example
 * const record = await getRecord(client, 'idempotency', pk);
 */
export async function getRecord(
  client: DynamoDBClient,
  tableName: string,
  pk: string,
  layout: ItemLayout,
): Promise<IdempotencyRecord | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: keyOf(pk, layout), ConsistentRead: true }),
  );
  return Item === undefined ? undefined : fromItem(Item, layout);
}

/**
 * Deletes `record` only if it is still the record that was read (same status, attempt, creation time and lease
 * token), so a record claimed or completed meanwhile is kept. `false` when it changed.
 *
 * @example
 * if (!(await releaseRecord(client, 'idempotency', record, layout))) console.log('it changed; kept');
 */
export async function releaseRecord(
  client: DynamoDBClient,
  tableName: string,
  record: IdempotencyRecord,
  layout: ItemLayout,
): Promise<boolean> {
  const values: Item = {
    ':status': { S: record.status },
    ':attempt': { N: String(record.attempt) },
    ':createdAt': { N: String(record.createdAt) },
  };
  let template = '{status} = :status AND {attempt} = :attempt AND {createdAt} = :createdAt';
  if (record.leaseToken === undefined) template += ' AND attribute_not_exists({leaseToken})';
  else {
    template += ' AND {leaseToken} = :token';
    values[':token'] = { S: record.leaseToken };
  }
  // A renewal keeps the token and moves the lease: an owner that renewed since the read is running, not stuck.
  if (record.leaseUntil === undefined) template += ' AND attribute_not_exists({leaseUntil})';
  else {
    template += ' AND {leaseUntil} = :leaseUntil';
    values[':leaseUntil'] = { N: String(record.leaseUntil) };
  }
  const { expressions, names } = compile(layout, template);
  try {
    await client.send(
      new DeleteItemCommand({
        TableName: tableName,
        Key: keyOf(record.pk, layout),
        ConditionExpression: expressions[0],
        // Never empty: `status` is a reserved word, sent as `#status` whatever the layout.
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

/** The size DescribeTable reports (refreshed by DynamoDB about every six hours). */
export interface TableSize {
  readonly itemCount: number;
  readonly sizeBytes: number;
}

/**
 * The table's item count and size, as DescribeTable reports them.
 *
 * @example
 * const { itemCount, sizeBytes } = await tableSize(client, 'idempotency');
 */
export async function tableSize(client: DynamoDBClient, tableName: string): Promise<TableSize> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  return { itemCount: Table?.ItemCount ?? 0, sizeBytes: Table?.TableSizeBytes ?? 0 };
}

/** What a scan reads and when it stops. */
export interface ScanOptions {
  readonly tableName: string;
  readonly layout: ItemLayout;
  /** Only these fields are read (ProjectionExpression). @default every attribute */
  readonly fields?: readonly RecordField[];
  /** Keeps only matching items: a FilterExpression with `{field}` placeholders (see `compile`). */
  readonly filter?: string;
  /** The values `filter` uses. */
  readonly values?: Item;
  /** Placeholders `filter` uses beside the `{field}` ones (`#sortKey`). */
  readonly names?: Readonly<Record<string, string>>;
  /** Items read at most, over every segment, whatever `filter` keeps. @default no bound */
  readonly maxItems?: number;
  /** Segments scanned in parallel (TotalSegments). @default 1 */
  readonly segments?: number;
  /** Items each Scan request reads at most (Limit). @default up to 1 MB */
  readonly pageSize?: number;
  /** Called with each matching item; returning `false` stops the scan (every segment) after this page. */
  readonly onItem: (item: Item) => boolean | undefined;
}

/** What a scan read. */
export interface ScanSummary {
  /** Items read (ScannedCount), before the filter. */
  readonly scanned: number;
  /** Items the filter kept (Count). */
  readonly matched: number;
  /** Read capacity units the scan consumed (ReturnConsumedCapacity TOTAL). */
  readonly readUnits: number;
  /** Scan requests sent. */
  readonly pages: number;
  /** Every segment reached the end of the table. */
  readonly complete: boolean;
}

/**
 * Scans the table in `segments` parallel segments, reading no more than `maxItems` items in all: each segment
 * gets its share of the bound and asks for no more than it has left (Limit), so the read units consumed are
 * those of the items read.
 *
 * @example
 * const summary = await scanTable(client, { tableName, layout, maxItems: 500, onItem: (item) => { seen.push(item); } });
 */
export async function scanTable(client: DynamoDBClient, options: ScanOptions): Promise<ScanSummary> {
  const segments = options.segments ?? 1;
  const templates = [options.filter ?? '', (options.fields ?? []).map((field) => `{${field}}`).join(', ')];
  const compiled = compile(options.layout, ...templates);
  const { expressions } = compiled;
  const names = { ...compiled.names, ...options.names };
  const [filter, projection] = expressions;
  let scanned = 0;
  let matched = 0;
  let readUnits = 0;
  let pages = 0;
  let stopped = false;
  const scanSegment = async (segment: number): Promise<boolean> => {
    let budget =
      options.maxItems === undefined
        ? Number.POSITIVE_INFINITY
        : Math.floor(options.maxItems / segments) + (segment < options.maxItems % segments ? 1 : 0);
    let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      if (budget <= 0 || stopped) return false;
      const limit = Math.min(budget, options.pageSize ?? Number.POSITIVE_INFINITY);
      const page = await client.send(
        new ScanCommand({
          TableName: options.tableName,
          ...(segments > 1 ? { Segment: segment, TotalSegments: segments } : {}),
          ...(filter === '' ? {} : { FilterExpression: filter }),
          ...(projection === '' ? {} : { ProjectionExpression: projection }),
          ...(Object.keys(names).length === 0 ? {} : { ExpressionAttributeNames: names }),
          ...(options.values === undefined ? {} : { ExpressionAttributeValues: options.values }),
          ...(Number.isFinite(limit) ? { Limit: limit } : {}),
          ExclusiveStartKey,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      pages += 1;
      scanned += page.ScannedCount ?? 0;
      budget -= page.ScannedCount ?? 0;
      readUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
      for (const item of page.Items ?? []) {
        if (stopped) break;
        matched += 1;
        if (options.onItem(item) === false) stopped = true;
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined);
    return true;
  };
  const ended = await Promise.all(Array.from({ length: segments }, (_, segment) => scanSegment(segment)));
  return { scanned, matched, readUnits, pages, complete: ended.every(Boolean) && !stopped };
}
