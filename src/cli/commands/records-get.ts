import type { Command } from '@commander-js/extra-typings';
import { decodeResult } from '../../core/codec.js';
import type { IdempotencyRecord } from '../../core/types.js';
import { DEFAULT_LAYOUT } from '../../stores/dynamodb-item.js';
import { withDynamo } from '../aws.js';
import { ExitCode } from '../errors.js';
import { type Io, table } from '../io.js';
import { describeState, loadAdmin, pkFromFlags, recordOptions, view } from './records-shared.js';

/**
 * `idemkit records get`: one record, read consistently.
 *
 * @example
 * recordsGet(records, io, done); // idemkit records get --table t --org acme --scope s --key k
 */
export function recordsGet(parent: Command, io: Io, done: (code: number) => void) {
  return recordOptions(parent.command('get').description('Show one record (consistent read).'))
    .option('--show-result', 'also print the stored result', false)
    .addHelpText(
      'after',
      '\nExample:\n  $ idemkit records get --table idempotency --org acme --scope create-order --key order-42\n',
    )
    .action(async (flags) => {
      const pk = pkFromFlags(flags);
      const layout = flags.attributes ?? DEFAULT_LAYOUT;
      const record = await withDynamo('records get', flags, async (ddb) =>
        (await loadAdmin()).getRecord(ddb, flags.table, pk, layout),
      );
      if (record === undefined) {
        io.err(
          `No record for ${pk} in ${flags.table}: the key was never used in this scope, or its record expired and was deleted.`,
        );
        return done(ExitCode.Incomplete);
      }
      for (const line of renderRecord(record, Date.now(), flags)) io.out(line);
      done(ExitCode.Ok);
    });
}

/** The record as `--json` or as a two-column table; the result only with `--show-result`. */
function renderRecord(
  record: IdempotencyRecord,
  now: number,
  flags: { json?: boolean; showResult?: boolean },
): string[] {
  const shown = {
    ...view(record, now),
    ...(flags.showResult === true ? { result: decodeResult(record.result) } : {}),
  };
  if (flags.json === true) return [JSON.stringify(shown)];
  return table([
    ['pk', record.pk],
    ['status', describeState(record, now)],
    ['expiresAt', shown.expiresAt],
    ...(shown.leaseUntil === undefined ? [] : [['leaseUntil', shown.leaseUntil]]),
    ['createdAt', shown.createdAt],
    ...(shown.completedAt === undefined ? [] : [['completedAt', shown.completedAt]]),
    ['attempt', String(record.attempt)],
    ['fingerprint', record.fingerprint],
    [
      'result',
      record.result === undefined
        ? `none${record.resultDropped === undefined ? '' : ` (${record.resultDropped})`}`
        : flags.showResult === true
          ? JSON.stringify(shown.result)
          : 'stored (pass `--show-result` to print it)',
    ],
  ]);
}
