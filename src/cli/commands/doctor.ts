import { type Command, Option } from '@commander-js/extra-typings';
import { DEFAULT_LAYOUT } from '../../stores/dynamodb-item.js';
import { loadCommand, target, withDynamo, withSqs } from '../aws.js';
import { CliError, ExitCode } from '../errors.js';
import type { Io } from '../io.js';
import { common, integer, scanBounds } from '../options.js';
import type { Check } from './doctor-checks.js';
import { attributesOption } from './records-shared.js';
import { refuseUnboundedScan } from './scan-bounds.js';

const loadChecks = () =>
  loadCommand('doctor', async () => ({
    ...(await import('./doctor-checks.js')),
    ...(await import('./doctor-regions.js')),
    ...(await import('../../stores/dynamodb-admin.js')),
  }));

/**
 * `idemkit doctor`: the periodic consistency check. Exits 1 when a check fails; `warn` and `skip` do not fail
 * the run. The record checks scan the table, bounded as `records list` is.
 *
 * @example
 * doctor(program, io, done); // idemkit doctor --table idempotency --queue orders --dlq orders-dlq
 */
export function doctor(parent: Command, io: Io, done: (code: number) => void) {
  return scanBounds(
    attributesOption(
      common(
        parent
          .command('doctor')
          .description(
            'Check a deployment: key schema, Regions and consistency, TTL or sweep, PITR, stuck and expired records, DLQ depth and age.',
          ),
      )
        .requiredOption('--table <name>', 'the idempotency table')
        .option('--queue <queue>', 'the job queue; checks it redrives into --dlq')
        .option('--dlq <queue>', 'the dead-letter queue; checks its depth and oldest age')
        .option(
          '--stuck-after <minutes>',
          'an IN_PROGRESS record past its lease by more than this is stuck',
          integer('--stuck-after', 0),
          15,
        )
        .option(
          '--max-dlq-depth <n>',
          'messages allowed in the DLQ before the check fails',
          integer('--max-dlq-depth', 0),
          0,
        )
        .option(
          '--sweep-every <minutes>',
          'how often the sweep runs on an MRSC table (no TTL); expired records older than two periods fail',
          integer('--sweep-every', 1),
          60,
        )
        .addOption(
          new Option(
            '--sqs-endpoint <url>',
            'SQS endpoint for --queue and --dlq when it differs from --endpoint, e.g. DynamoDB Local and an SQS emulator side by side (default: --endpoint)',
          ),
        ),
    ),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ idemkit doctor --table idempotency --queue orders --dlq orders-dlq --max-items 50000\n',
    )
    .action(async (flags) => {
      if (flags.queue !== undefined && flags.dlq === undefined) {
        throw new CliError(
          'Expected `--dlq` with `--queue`: the doctor checks that the queue redrives into it; pass `--dlq <queue>`.',
        );
      }
      const layout = flags.attributes ?? DEFAULT_LAYOUT;
      const checks: Check[] = [];
      const run = await loadChecks();
      await withDynamo('doctor', flags, async (ddb) => {
        if (!(await run.checkTable(ddb, flags.table, layout, checks))) return;
        refuseUnboundedScan('doctor', flags.table, await run.tableSize(ddb, flags.table), flags);
        // Past one Region (docs/protocol.md section 11): MRSC tables have no TTL, the sweep stands in for it.
        const regions = await run.checkRegions(ddb, flags.table, target(flags).region, checks);
        if (regions === 'strong') {
          checks.push({
            name: 'ttl',
            status: 'skip',
            detail: 'multi-Region strongly consistent tables have no TTL; the sweep deletes expired records.',
          });
        } else await run.checkTtl(ddb, flags.table, layout, checks);
        await run.checkPitr(ddb, flags.table, checks);
        // One scan for the record checks and, on MRSC, the sweep check.
        const sweep = regions === 'strong' ? [run.sweepCheck(flags.table, layout, flags.sweepEvery)] : [];
        await run.checkRecords(ddb, flags.table, layout, flags.stuckAfter, flags, checks, sweep);
        if (regions === 'strong') run.withoutTtl(checks);
      });
      if (flags.dlq !== undefined) {
        const sqsFlags = { ...flags, endpoint: flags.sqsEndpoint ?? flags.endpoint };
        try {
          await withSqs('doctor', sqsFlags, (sqs) =>
            run.checkQueues(sqs, sqsFlags, flags.maxDlqDepth, checks),
          );
        } catch (error) {
          if (!(error instanceof CliError && error.exitCode === ExitCode.BadInput)) throw error;
          checks.push({
            name: 'dlq',
            status: 'fail',
            detail: error.message,
            fix: 'pass an existing queue to `--dlq`/`--queue`',
          });
        }
      }
      const failed = checks.filter((check) => check.status === 'fail').length;
      for (const line of renderDoctor(flags.table, checks, failed, flags.json)) io.out(line);
      done(failed === 0 ? ExitCode.Ok : ExitCode.Incomplete);
    });
}

function renderDoctor(table: string, checks: readonly Check[], failed: number, json: boolean): string[] {
  if (json) return [JSON.stringify({ table, ok: failed === 0, checks })];
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`${check.status.toUpperCase().padEnd(4)}  ${check.name}: ${check.detail}`);
    if (check.fix !== undefined && check.status !== 'pass') lines.push(`      fix: ${check.fix}`);
  }
  lines.push(
    failed === 0
      ? `All ${checks.length} checks passed or only warned.`
      : `${failed} of ${checks.length} checks failed.`,
  );
  return lines;
}
