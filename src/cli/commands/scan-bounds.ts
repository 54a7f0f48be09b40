import type { TableSize } from '../../stores/dynamodb-admin.js';
import { CliError } from '../errors.js';

/**
 * A table is large, for a scan without `--max-items`, from this many items or bytes as DescribeTable reports
 * them: a whole scan of 10 MiB reads about 1,300 read units (eventually consistent, 4 KB a half unit) in about
 * ten 1 MB pages, and DescribeTable's figures lag by up to six hours, so a bound below them errs towards asking.
 */
export const LARGE_TABLE = { items: 10_000, bytes: 10 * 1024 * 1024 } as const;

/** The bounds a scanning command takes: `--max-items`, `--segments`, `--all`. */
export interface ScanFlags {
  readonly maxItems?: number;
  readonly segments: number;
  readonly all: boolean;
}

/**
 * Refuses an unbounded scan of a large table (see {@link LARGE_TABLE}) unless `--all` says so, naming both ways on.
 *
 * @example
 * refuseUnboundedScan('records list', 'idempotency', await tableSize(ddb, 'idempotency'), flags);
 */
export function refuseUnboundedScan(command: string, table: string, size: TableSize, flags: ScanFlags): void {
  if (flags.maxItems !== undefined || flags.all) return;
  if (size.itemCount < LARGE_TABLE.items && size.sizeBytes < LARGE_TABLE.bytes) return;
  const mib = (size.sizeBytes / 1024 / 1024).toFixed(1);
  throw new CliError(
    `Refusing to scan all of ${table} (about ${size.itemCount} items, ${mib} MiB, as DescribeTable reports): \`idemkit ${command}\` reads the whole table; pass \`--max-items <n>\` to read a part, or \`--all\` to read it all.`,
  );
}

/**
 * The words that say what a scan read and what it cost.
 *
 * @example
 * describeScan(summary); // 'read 500 item(s) in 1 request(s), 19.5 read units, not the whole table'
 */
export function describeScan(summary: {
  scanned: number;
  readUnits: number;
  pages: number;
  complete: boolean;
}): string {
  return `read ${summary.scanned} item(s) in ${summary.pages} request(s), ${summary.readUnits} read units${summary.complete ? '' : ', not the whole table'}`;
}
