import { Command, CommanderError, Option } from 'commander';
import { loadCommand } from './aws.js';
import { LIST_STATUSES } from './commands/list-statuses.js';
import { CliError, ExitCode } from './errors.js';
import { type Io, processIo } from './io.js';

// Each command's module is loaded when it runs, because it imports its AWS SDK client, an optional peer.
const dlqCommands = () => loadCommand('dlq', () => import('./commands/dlq.js'));
const recordCommands = () => loadCommand('records', () => import('./commands/records.js'));
const doctorCommands = () => loadCommand('doctor', () => import('./commands/doctor.js'));

/** Adds the flags every AWS command takes, so each command's `--help` lists them. */
function common(command: Command): Command {
  return command
    .option('--region <region>', 'AWS region (default: AWS_REGION, the profile, then us-east-1)')
    .option(
      '--endpoint <url>',
      'service endpoint, for local servers such as http://127.0.0.1:4566 (default: AWS)',
    )
    .option('--profile <name>', 'AWS shared-config profile (default: the SDK chain)')
    .option('--json', 'print one JSON document on stdout', false)
    .option('--yes', 'do not ask before destructive actions (needed without a terminal)', false)
    .option('--debug', 'print stack traces of errors', false);
}

function example(command: Command, ...lines: string[]): Command {
  return command.addHelpText('after', `\nExample:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`);
}

const FILTER_HELP = `
Filter syntax (--filter):
  field [op value], joined with and / or / not and parentheses; a field alone means "is present".
  fields: body (raw text), body.a.b, body.items[0], body["odd key"], attr.<name>, sys.<name>, id
  ops:    =  !=  <  <=  >  >=  contains  startswith     values: "text", 'text', 42, true, false, null
  e.g.    body.type = "order.created" and (attr.tenant = "acme" or sys.ApproximateReceiveCount >= 5)`;

/**
 * Builds the `idemkit` program. Commands write through `io` and resolve to an exit code.
 *
 * @example
 * const code = await run(['dlq', 'peek', 'orders-dlq']);
 */
function buildProgram(io: Io, setCode: (code: number) => void): Command {
  const program = new Command('idemkit')
    .description(
      'Operate idemkit: replay dead-lettered jobs, inspect and release records, check a deployment.',
    )
    .version('0.1.0')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, '')),
      writeErr: (text) => io.err(text.replace(/\n$/, '')),
      outputError: () => {},
    });
  // Required flags are checked here rather than by `requiredOption`, so that a misspelt flag is
  // reported as unknown (with a suggestion) before the flag it was meant to be is reported missing.
  const wrap =
    <A extends unknown[]>(action: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      const command = args.at(-1) as Command;
      for (const option of command.options) {
        if (
          option.description.endsWith('(required)') &&
          command.getOptionValue(option.attributeName()) === undefined
        ) {
          throw new CliError(
            `Missing \`${option.long}\` (${option.description.replace(' (required)', '')}); run \`idemkit ${command.parent?.name() === 'idemkit' ? '' : `${command.parent?.name()} `}${command.name()} --help\` for an example.`,
          );
        }
      }
      setCode(await action(...args));
    };

  const dlq = program.command('dlq').description('Dead-letter queues: replay, peek, and AWS move tasks.');
  example(
    common(
      dlq
        .command('replay')
        .description(
          'Move messages from a DLQ back to a queue: send first, delete only what was sent, keep attributes and FIFO ids, mark each with the replay attribute.',
        )
        .option('--from <dlq>', 'the dead-letter queue (URL or name) (required)')
        .option('--to <queue>', "destination (URL or name) (default: the DLQ's only source queue)")
        .option('--filter <expr>', 'move only messages matching this expression (default: all); syntax below')
        .option('--max <n>', 'move exactly this many selected messages at most (default: no limit)')
        .option('--rate <msgs/s>', 'send at most this many messages per second (default: no limit)')
        .option('--dry-run', 'show what would move; move nothing', false)
        .option('--keep', 'copy without deleting from the DLQ', false)
        .option('--native', "use AWS's StartMessageMoveTask (no filter, max, keep or marker)", false)
        .option('--wait <s>', 'long-poll seconds per receive; an empty receive ends the run', '2')
        .option(
          '--visibility-timeout <s>',
          'seconds a received message stays hidden while it is moved',
          '120',
        )
        .option('--attempts <n>', 'attempts per message for retryable send failures', '6')
        .option('--replay-id <id>', 'value of the idemkit-replay attribute (default: timestamp/random)'),
    ).addHelpText('after', FILTER_HELP),
    'idemkit dlq replay --from orders-dlq --filter \'body.type = "order.created"\' --max 100 --rate 50 --yes',
  ).action(wrap(async (flags) => (await dlqCommands()).replayCommand(flags, io)));

  example(
    common(
      dlq
        .command('status')
        .description("List AWS's message move tasks on a DLQ (ListMessageMoveTasks).")
        .option('--from <dlq>', 'the dead-letter queue (URL or name) (required)'),
    ),
    'idemkit dlq status --from orders-dlq',
  ).action(wrap(async (flags) => (await dlqCommands()).statusCommand(flags, io)));

  example(
    common(
      dlq
        .command('cancel')
        .description("Cancel AWS's running message move task (CancelMessageMoveTask).")
        .option('--from <dlq>', 'cancel the running task of this DLQ')
        .option('--task-handle <handle>', 'cancel this task (from `dlq status`)'),
    ),
    'idemkit dlq cancel --from orders-dlq',
  ).action(wrap(async (flags) => (await dlqCommands()).cancelCommand(flags, io)));

  example(
    common(
      dlq
        .command('peek')
        .description(
          'Show messages without consuming them: each is made visible again right after it is read.',
        )
        .argument('<dlq>', 'the queue (URL or name)')
        .option('--max <n>', 'messages to show, 1 to 100', '10')
        .option(
          '--key-from <field>',
          'where the job key is (filter field syntax; shown as its digest) (default: attr.idempotency-key, attr.jobKey, body.jobKey, ...)',
        ),
    ),
    'idemkit dlq peek orders-dlq --max 5 --key-from attr.jobId',
  ).action(wrap(async (queue, flags) => (await dlqCommands()).peekCommand(queue, flags, io)));

  const records = program.command('records').description('Idempotency records: get, list, release, sweep.');
  const recordOptions = (command: Command) =>
    common(
      command
        .option('--table <name>', 'the idempotency table (required)')
        .option('--org <org>', 'the tenant, as the service sets it (required)')
        .option('--scope <scope>', 'the operation')
        .option('--key <key>', 'the idempotency or job key (never stored; only its digest is)')
        .option('--pk <pk>', 'the record by its pk, as `records list` prints it, instead of --scope/--key')
        .option(
          '--attributes <json|file>',
          'attribute names and sort key of an existing table, as DynamoDBStore takes them (default: pk, expiresAt, ...)',
        ),
    );
  example(
    recordOptions(records.command('get').description('Show one record (consistent read).')).option(
      '--show-result',
      'also print the stored result',
      false,
    ),
    'idemkit records get --table idempotency --org acme --scope create-order --key order-42',
  ).action(wrap(async (flags) => (await recordCommands()).getCommand(flags, io)));
  example(
    common(
      records
        .command('list')
        .description("Page through one org's records (a Scan filtered on the org's pk prefix).")
        .option('--table <name>', 'the idempotency table (required)')
        .option('--org <org>', 'the tenant (required)')
        .option('--scope <scope>', 'only this operation (default: all)')
        .option('--status <list>', `comma-separated: ${LIST_STATUSES.join(', ')} (default: all)`)
        .option('--limit <n>', 'records to show at most', '100')
        .option('--page-size <n>', 'items each Scan page reads (default: up to 1 MB)')
        .option(
          '--attributes <json|file>',
          'attribute names and sort key of an existing table, as DynamoDBStore takes them (default: pk, expiresAt, ...)',
        ),
    ),
    'idemkit records list --table idempotency --org acme --status stuck,FAILED',
  ).action(wrap(async (flags) => (await recordCommands()).listCommand(flags, io)));
  example(
    recordOptions(
      records
        .command('release')
        .description('Delete an IN_PROGRESS record whose lease is stuck, so the operation can run again.'),
    ).option('--force', 'also release a COMPLETED or FAILED record, or a live lease', false),
    'idemkit records release --table idempotency --org acme --scope create-order --key order-42',
  ).action(wrap(async (flags) => (await recordCommands()).releaseCommand(flags, io)));
  example(
    common(
      records
        .command('sweep')
        .description(
          'Delete expired records from a table without TTL (multi-Region strong consistency), each delete conditional on the record still being expired.',
        )
        .option('--table <name>', 'the idempotency table (required)')
        .option('--dry-run', 'count what would be deleted, delete nothing', false)
        .option('--rate <n>', 'deletes per second at most', '50')
        .option('--page-size <n>', 'items each Scan page reads', '250')
        .option('--max-minutes <n>', 'stop after this long; run again to go on (default: to the end)')
        .option(
          '--attributes <json|file>',
          'attribute names and sort key of an existing table, as DynamoDBStore takes them (default: pk, expiresAt, ...)',
        ),
    ),
    'idemkit records sweep --table idempotency --dry-run',
  ).action(wrap(async (flags) => (await recordCommands()).sweepCommand(flags, io)));

  example(
    common(
      program
        .command('doctor')
        .description(
          'Check a deployment: key schema, Regions and consistency, TTL or sweep, PITR, stuck and expired records, DLQ depth and age.',
        )
        .option('--table <name>', 'the idempotency table (required)')
        .option('--queue <queue>', 'the job queue; checks it redrives into --dlq')
        .option('--dlq <queue>', 'the dead-letter queue; checks its depth and oldest age')
        .option(
          '--stuck-after <minutes>',
          'an IN_PROGRESS record past its lease by more than this is stuck',
          '15',
        )
        .option('--max-dlq-depth <n>', 'messages allowed in the DLQ before the check fails', '0')
        .option(
          '--sweep-every <minutes>',
          'how often the sweep runs on an MRSC table (no TTL); expired records older than two periods fail',
          '60',
        )
        .option(
          '--attributes <json|file>',
          'attribute names and sort key of an existing table, as DynamoDBStore takes them (default: pk, expiresAt, ...)',
        )
        .option('--sqs-endpoint <url>', 'SQS endpoint when it differs from --endpoint (default: --endpoint)'),
    ),
    'idemkit doctor --table idempotency --queue orders --dlq orders-dlq',
  ).action(wrap(async (flags) => (await doctorCommands()).doctorCommand(flags, io)));

  example(
    program
      .command('invoke')
      .description(
        "Run a Lambda handler locally, against the running playground's table and queues or a throwaway in-memory copy, and print each result and idempotency decision (in a checkout of idemkit).",
      )
      .argument('<handler-file>', 'a module exporting `handler` (TypeScript is fine)')
      .argument('<event.json>', 'the event, e.g. one of events/')
      .option('--times <n>', 'how many invocations', '1')
      .option('--concurrency <c>', 'invocations running at once', '1')
      .option('--store <store>', 'playground (the running `npm start`) or memory (throwaway)', 'playground')
      .option('--timeout <s>', "the function's timeout in seconds", '30'),
    'idemkit invoke infra/handlers/orders-api.ts events/apigw-http-api-v2.json --times 3 --concurrency 2',
  ).action(wrap((handlerFile, eventFile, flags) => invokeCommand(handlerFile, eventFile, flags, io)));

  for (const command of [program, dlq, records]) {
    command.addOption(new Option('--debug').hideHelp());
  }
  return program;
}

/**
 * Runs `idemkit` with `argv` (without `node` and the script) and returns the exit code. Every error is
 * one line on stderr naming the problem and the fix; `--debug` adds the stack trace.
 *
 * @example
 * process.exitCode = await run(process.argv.slice(2));
 */
export async function run(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let code: number = ExitCode.Ok;
  const program = buildProgram(io, (value) => {
    code = value;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return ExitCode.Ok;
      if (error.code === 'commander.help' || error.code === 'commander.executeSubCommandAsync')
        return ExitCode.BadInput;
      const text = error.message
        .replace(/^error:\s*/, '')
        .replace(/\s*\n\s*/g, ' ')
        .trim();
      io.err(`idemkit: ${text}; run \`${commandPath(program, argv)} --help\` for the commands and flags.`);
      return ExitCode.BadInput;
    }
    const debug = argv.includes('--debug');
    if (error instanceof CliError) {
      io.err(`idemkit: ${error.message}`);
      if (debug) io.err(String((error.cause as Error | undefined)?.stack ?? error.stack));
      return error.exitCode;
    }
    io.err(
      `idemkit: unexpected error: ${(error as Error)?.message ?? String(error)}; rerun with \`--debug\` and report it.`,
    );
    if (debug) io.err(String((error as Error)?.stack));
    return ExitCode.Incomplete;
  }
}

/** The deepest known command named at the start of `argv`, e.g. `idemkit dlq replay`. */
function commandPath(program: Command, argv: readonly string[]): string {
  const path = ['idemkit'];
  let command: Command | undefined = program;
  for (const arg of argv) {
    if (arg.startsWith('-')) continue;
    command = command?.commands.find((sub) => sub.name() === arg);
    if (command === undefined) break;
    path.push(arg);
  }
  return path.join(' ');
}

/**
 * `idemkit invoke` lives with the playground, which only a checkout of idemkit has: it is loaded when run,
 * so the published CLI neither bundles nor needs it.
 */
async function invokeCommand(handlerFile: string, eventFile: string, flags: object, io: Io): Promise<number> {
  const location = '../../playground/invoke.js';
  let playground: { invokeCommand(h: string, e: string, f: object, io: Io): Promise<number> };
  try {
    playground = await import(location);
  } catch (error) {
    throw new CliError(
      '`idemkit invoke` runs in a checkout of idemkit: clone it, run `npm install`, then `npx tsx src/cli/main.ts invoke ...`.',
      { cause: error },
    );
  }
  return playground.invokeCommand(handlerFile, eventFile, flags, io);
}
