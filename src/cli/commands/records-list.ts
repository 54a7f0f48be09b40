import type { Command } from '@commander-js/extra-typings';
import { type IdempotencyRecord, RecordStatus } from '../../core/types.js';
import type { ScanSummary } from '../../stores/dynamodb-admin.js';
import { DEFAULT_LAYOUT, fromItem, type Item, keyOf } from '../../stores/dynamodb-item.js';
import { withDynamo } from '../aws.js';
import { CliError, ExitCode } from '../errors.js';
import { type Io, table } from '../io.js';
import { common, integer, scanBounds } from '../options.js';
import { LIST_STATUSES, type ListStatus } from './list-statuses.js';
import { attributesOption, describeState, loadAdmin, nameFlag, view } from './records-shared.js';
import { describeScan, refuseUnboundedScan } from './scan-bounds.js';

/** The argument parser of `--status`: a comma-separated list of {@link LIST_STATUSES}, any case. */
function statuses(value: string): ListStatus[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const found = LIST_STATUSES.find((known) => known.toLowerCase() === s.toLowerCase());
      if (found === undefined) {
        throw new CliError(
          `Expected \`--status\` to be one or more of ${LIST_STATUSES.join(', ')} (comma-separated), got ${JSON.stringify(s)}.`,
        );
      }
      return found;
    });
}

/**
 * `idemkit records list`: one org's records. `pk` is the table's only key, so this is a Scan filtered on
 * `begins_with(pk, '<org>#')`, bounded by `--max-items` (and refused on a large table without it or `--all`).
 *
 * @example
 * recordsList(records, io, done); // idemkit records list --table t --org acme --status stuck --max-items 5000
 */
export function recordsList(parent: Command, io: Io, done: (code: number) => void) {
  return scanBounds(
    attributesOption(
      common(
        parent
          .command('list')
          .description("Page through one org's records (a Scan filtered on the org's pk prefix)."),
      )
        .requiredOption('--table <name>', 'the idempotency table')
        .requiredOption('--org <org>', 'the tenant', nameFlag('org'))
        .option('--scope <scope>', 'only this operation (default: all)', nameFlag('scope'))
        .option('--status <list>', `comma-separated: ${LIST_STATUSES.join(', ')} (default: all)`, statuses)
        .option('--limit <n>', 'records to show at most', integer('--limit', 1), 100)
        .option(
          '--page-size <n>',
          'items each Scan request reads (default: up to 1 MB)',
          integer('--page-size', 1),
        ),
    ),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ idemkit records list --table idempotency --org acme --status stuck,FAILED --max-items 20000\n',
    )
    .action(async (flags) => {
      const layout = flags.attributes ?? DEFAULT_LAYOUT;
      const now = Date.now();
      const wanted = flags.status ?? [];
      const { filter, values } = listFilter(
        flags.org,
        flags.scope,
        wanted,
        now,
        keyOf('', layout),
        layout.sortKey?.name,
      );
      const records: IdempotencyRecord[] = [];
      let more = false;
      const summary = await withDynamo('records list', flags, async (ddb) => {
        const admin = await loadAdmin();
        refuseUnboundedScan('records list', flags.table, await admin.tableSize(ddb, flags.table), flags);
        return admin.scanTable(ddb, {
          tableName: flags.table,
          layout,
          filter,
          values,
          ...(layout.sortKey === undefined ? {} : { names: { '#sortKey': layout.sortKey.name } }),
          maxItems: flags.maxItems,
          segments: flags.segments,
          pageSize: flags.pageSize,
          onItem: (item: Item) => {
            if (records.length === flags.limit) {
              more = true;
              return false;
            }
            records.push(fromItem(item, layout));
            return undefined;
          },
        });
      });
      const output = renderList(
        { org: flags.org, scope: flags.scope, statuses: wanted, limit: flags.limit },
        records,
        summary,
        more,
        now,
        flags.json,
      );
      for (const line of output.out) io.out(line);
      for (const line of output.err) io.err(line);
      done(ExitCode.Ok);
    });
}

/**
 * The Scan filter of a listing: the org's (and scope's) pk prefix, idemkit's sort key value in a single-table
 * design, and any of the statuses (`stuck` and `expired` compared with now).
 */
function listFilter(
  org: string,
  scope: string | undefined,
  statuses: readonly ListStatus[],
  now: number,
  key: Item,
  sortKeyName: string | undefined,
): { filter: string; values: Item } {
  const values: Item = { ':prefix': { S: `${org}#${scope === undefined ? '' : `${scope}#`}` } };
  const alternatives: string[] = [];
  for (const status of statuses) {
    if (status === 'stuck') {
      values[':ip'] = { S: RecordStatus.InProgress };
      values[':nowMs'] = { N: String(now) };
      alternatives.push(
        statuses.length > 1
          ? '({status} = :ip AND {leaseUntil} < :nowMs)'
          : '{status} = :ip AND {leaseUntil} < :nowMs',
      );
    } else if (status === 'expired') {
      values[':nowS'] = { N: String(Math.floor(now / 1000)) };
      alternatives.push('{expiresAt} < :nowS');
    } else {
      values[`:${status}`] = { S: status };
      alternatives.push(`{status} = :${status}`);
    }
  }
  // DynamoDB rejects redundant parentheses, so they are added only around an OR.
  const either = alternatives.length > 1 ? `(${alternatives.join(' OR ')})` : alternatives[0];
  let filter = 'begins_with({pk}, :prefix)';
  // In a single-table design only the items with idemkit's sort key value are records.
  if (sortKeyName !== undefined) {
    values[':sortKey'] = key[sortKeyName] ?? { S: '' };
    filter += ` AND #sortKey = :sortKey`;
  }
  if (either !== undefined) filter += ` AND ${either}`;
  return { filter, values };
}

/** The listing as `--json` or a table, and what the scan read on stderr. */
function renderList(
  asked: { org: string; scope?: string; statuses: readonly ListStatus[]; limit: number },
  records: readonly IdempotencyRecord[],
  summary: ScanSummary,
  more: boolean,
  now: number,
  json: boolean,
): { out: string[]; err: string[] } {
  const scan = {
    scanned: summary.scanned,
    readUnits: summary.readUnits,
    pages: summary.pages,
    complete: summary.complete,
  };
  if (json) {
    return {
      out: [
        JSON.stringify({
          org: asked.org,
          scope: asked.scope ?? null,
          records: records.map((record) => view(record, now)),
          truncated: more,
          scan,
        }),
      ],
      err: [],
    };
  }
  const err = [`scan: ${describeScan(scan)}.`];
  if (records.length === 0) {
    return {
      out: [
        `No records for org ${asked.org}${asked.scope === undefined ? '' : ` scope ${asked.scope}`}${asked.statuses.length === 0 ? '' : ` with status ${asked.statuses.join(' or ')}`}${summary.complete ? '' : ' in the items read'}.`,
      ],
      err,
    };
  }
  return {
    out: [
      ...table([
        ['PK', 'STATUS', 'ATTEMPT', 'CREATED'],
        ...records.map((record) => [
          record.pk,
          describeState(record, now),
          String(record.attempt),
          new Date(record.createdAt).toISOString(),
        ]),
      ]),
      `${records.length} record(s)${more ? `; more exist, raise \`--limit\` above ${asked.limit} to see them` : ''}.`,
    ],
    err,
  };
}
