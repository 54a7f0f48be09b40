import type { Command } from '@commander-js/extra-typings';
import cliProgress from 'cli-progress';
import { DEFAULT_LAYOUT } from '../../stores/dynamodb-item.js';
import type { SweepProgress, SweepSummary } from '../../sweep/index.js';
import { withDynamo } from '../aws.js';
import { ExitCode } from '../errors.js';
import { confirm, formatDuration, type Io } from '../io.js';
import { common, integer, positive } from '../options.js';
import { attributesOption } from './records-shared.js';

/**
 * `idemkit records sweep`: deletes expired records from a table without TTL (a multi-Region strongly consistent
 * global table), each delete conditional on the record still being expired. The same code the scheduled sweep
 * Lambda runs (src/sweep). A dry run counts and deletes nothing.
 *
 * @example
 * recordsSweep(records, io, done); // idemkit records sweep --table t --dry-run
 */
export function recordsSweep(parent: Command, io: Io, done: (code: number) => void) {
  return attributesOption(
    common(
      parent
        .command('sweep')
        .description(
          'Delete expired records from a table without TTL (multi-Region strong consistency), each delete conditional on the record still being expired.',
        ),
    )
      .requiredOption('--table <name>', 'the idempotency table')
      .option('--dry-run', 'count what would be deleted, delete nothing', false)
      .option('--rate <n>', 'deletes per second at most', positive('--rate'), 50)
      .option('--page-size <n>', 'items each Scan page reads', integer('--page-size', 1, 1000), 250)
      .option(
        '--max-minutes <n>',
        'stop after this long; run again to go on (default: to the end)',
        integer('--max-minutes', 1),
      ),
  )
    .addHelpText('after', '\nExample:\n  $ idemkit records sweep --table idempotency --dry-run\n')
    .action(async (flags) => {
      const dryRun = flags.dryRun;
      if (!dryRun) {
        await confirm(
          io,
          flags.yes,
          `Delete every expired record in ${flags.table}, at most ${flags.rate} per second?`,
          `delete expired records from ${flags.table}`,
        );
      }
      const summary = await withDynamo('records sweep', flags, async (ddb) => {
        const { sweepExpiredRecords } = await import('../../sweep/index.js');
        const progress = sweepProgress(io, flags.json, dryRun);
        try {
          return await sweepExpiredRecords({
            client: ddb,
            tableName: flags.table,
            layout: flags.attributes ?? DEFAULT_LAYOUT,
            dryRun,
            maxDeletesPerSecond: flags.rate,
            pageSize: flags.pageSize,
            maxDurationMs: flags.maxMinutes === undefined ? undefined : flags.maxMinutes * 60_000,
            onProgress: progress.update,
          });
        } finally {
          progress.stop();
        }
      });
      for (const line of renderSweep(flags.table, summary, dryRun, flags.json)) io.out(line);
      done(summary.complete ? ExitCode.Ok : ExitCode.Incomplete);
    });
}

function renderSweep(table: string, summary: SweepSummary, dryRun: boolean, json: boolean): string[] {
  if (json) return [JSON.stringify({ table, ...summary })];
  const verb = dryRun ? 'would delete' : 'deleted';
  return [
    `${table}: ${summary.scanned} record(s) read in ${summary.pages} page(s) for ${summary.readUnits} read units, ${summary.expired} expired, ${verb} ${dryRun ? summary.expired : summary.deleted}${summary.kept === 0 ? '' : `, kept ${summary.kept} claimed again or gone since they were read`}, in ${formatDuration(summary.durationMs)}.`,
    ...(summary.complete
      ? []
      : ['Stopped at `--max-minutes` before the end of the table; run it again to go on.']),
  ];
}

/** A bar on a terminal (records read; the table's size is unknown until the end), a line a second otherwise. */
function sweepProgress(io: Io, quiet: boolean, dryRun: boolean) {
  if (quiet) return { update() {}, stop() {} };
  const verb = dryRun ? 'would delete' : 'deleted';
  if (io.progressTty) {
    const bar = new cliProgress.SingleBar(
      {
        stream: io.stderr,
        format: `sweep |{bar}| {value} read | {expired} expired | ${verb} {deleted} | kept {kept}`,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(1, 0, { expired: 0, deleted: 0, kept: 0 });
    return {
      update(values: SweepProgress) {
        if (values.scanned >= bar.getTotal()) bar.setTotal(values.scanned + 1);
        bar.update(values.scanned, { ...values, deleted: dryRun ? values.expired : values.deleted });
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(values: SweepProgress) {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      io.err(
        `progress: ${values.scanned} read, ${values.expired} expired, ${verb} ${dryRun ? values.expired : values.deleted}, kept ${values.kept}`,
      );
    },
    stop() {},
  };
}
