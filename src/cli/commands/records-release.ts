import type { Command } from '@commander-js/extra-typings';
import { RecordState, recordState } from '../../core/record-state.js';
import { RecordStatus } from '../../core/types.js';
import { DEFAULT_LAYOUT } from '../../stores/dynamodb-item.js';
import { withDynamo } from '../aws.js';
import { CliError, ExitCode } from '../errors.js';
import { confirm, formatDuration, type Io } from '../io.js';
import { describeState, loadAdmin, pkFromFlags, recordOptions } from './records-shared.js';

/**
 * `idemkit records release`: deletes a record so the operation can run again. Meant for an `IN_PROGRESS` record
 * whose lease is stuck; a live lease, a `COMPLETED` or a `FAILED` record needs `--force`. The delete is
 * conditional on what was shown, so a record that changed meanwhile is kept.
 *
 * @example
 * recordsRelease(records, io, done); // idemkit records release --table t --org acme --pk acme#s#digest
 */
export function recordsRelease(parent: Command, io: Io, done: (code: number) => void) {
  return recordOptions(
    parent
      .command('release')
      .description('Delete an IN_PROGRESS record whose lease is stuck, so the operation can run again.'),
  )
    .option('--force', 'also release a COMPLETED or FAILED record, or a live lease', false)
    .addHelpText(
      'after',
      '\nExample:\n  $ idemkit records release --table idempotency --org acme --scope create-order --key order-42\n',
    )
    .action(async (flags) => {
      const pk = pkFromFlags(flags);
      const layout = flags.attributes ?? DEFAULT_LAYOUT;
      const released = await withDynamo('records release', flags, async (ddb) => {
        const admin = await loadAdmin();
        const record = await admin.getRecord(ddb, flags.table, pk, layout);
        if (record === undefined) {
          throw new CliError(
            `No record for ${pk} in ${flags.table}; nothing to release (check \`--org\`, \`--scope\` and \`--key\`).`,
            { exitCode: ExitCode.Incomplete },
          );
        }
        const now = Date.now();
        if (record.status !== RecordStatus.InProgress && !flags.force) {
          throw new CliError(
            `Refusing to release ${pk}: it is ${record.status}, so releasing it lets the operation run a second time; pass \`--force\` if that is what you want.`,
          );
        }
        if (recordState(record, now) === RecordState.Live && !flags.force) {
          throw new CliError(
            `Refusing to release ${pk}: its lease is live for ${formatDuration((record.leaseUntil ?? 0) - now)}, so its owner may still be running; wait for the lease to end or pass \`--force\`.`,
          );
        }
        await confirm(io, flags.yes, `Delete ${pk} (${describeState(record, now)})?`, `delete record ${pk}`);
        if (!(await admin.releaseRecord(ddb, flags.table, record, layout))) {
          throw new CliError(
            `Kept ${pk}: it changed since it was read (another invocation claimed or completed it); run \`idemkit records get\` to see it now.`,
            { exitCode: ExitCode.Incomplete },
          );
        }
        return record;
      });
      io.out(
        flags.json
          ? JSON.stringify({ released: pk, was: released.status })
          : `Released ${pk} (was ${released.status}); the next delivery or retry runs the operation.`,
      );
      done(ExitCode.Ok);
    });
}
