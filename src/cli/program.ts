import { Command, CommanderError, type CommandUnknownOpts, Help, Option } from '@commander-js/extra-typings';
import { dlqMoveTasks } from './commands/dlq-move-tasks.js';
import { dlqPeek } from './commands/dlq-peek.js';
import { dlqReplay } from './commands/dlq-replay.js';
import { doctor } from './commands/doctor.js';
import { recordsGet } from './commands/records-get.js';
import { recordsList } from './commands/records-list.js';
import { recordsRelease } from './commands/records-release.js';
import { recordsSweep } from './commands/records-sweep.js';
import { CliError, ExitCode } from './errors.js';
import { type Io, processIo } from './io.js';
import { flagOf } from './options.js';

/**
 * Builds the `idemkit` program. Each command is declared, typed, in its own file under `commands/`, and reports
 * its exit code through `done`. Command modules load the AWS SDK only when they run (it is a peer).
 */
function buildProgram(io: Io, done: (code: number) => void): Command {
  const program = new Command('idemkit')
    .description(
      'Operate idemkit: replay dead-lettered jobs, inspect and release records, check a deployment.',
    )
    .version('0.1.0')
    .showSuggestionAfterError(true)
    .configureHelp({
      // Subcommands inherit this: every `--help` marks the flags a command cannot run without.
      optionDescription(option) {
        const text = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `${text} (required)` : text;
      },
    })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, '')),
      writeErr: (text) => io.err(text.replace(/\n$/, '')),
      outputError: () => {},
    });
  const dlq = program.command('dlq').description('Dead-letter queues: replay, peek, and AWS move tasks.');
  dlqReplay(dlq, io, done);
  dlqPeek(dlq, io, done);
  dlqMoveTasks(dlq, io, done);
  const records = program.command('records').description('Idempotency records: get, list, release, sweep.');
  recordsGet(records, io, done);
  recordsList(records, io, done);
  recordsRelease(records, io, done);
  recordsSweep(records, io, done);
  doctor(program, io, done);
  // `invoke` runs handlers from a checkout (the playground): the published binary only says where it went.
  program
    .command('invoke', { hidden: true })
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new CliError(
        '`idemkit invoke` is not part of the published CLI: it runs handlers from a checkout of idemkit; there, run `npm run invoke -- <handler-file> <event.json>`.',
      );
    });
  for (const command of [program, dlq, records]) {
    command.addOption(new Option('--debug').hideHelp());
  }
  program.addHelpText(
    'after',
    () => `\nCommands, each with its own --help:\n${leafCommands(program).join('\n')}\n`,
  );
  return program as unknown as Command;
}

/** Every runnable command with its summary, for the top-level `--help`. */
function leafCommands(program: CommandUnknownOpts, prefix = 'idemkit'): string[] {
  return program.commands.flatMap((command) => {
    const name = `${prefix} ${command.name()}`;
    if (command.commands.length > 0) return leafCommands(command, name);
    // The hidden `invoke` stub has no summary and is not listed.
    if (command.description() === '') return [];
    return [`  ${name.padEnd(24)} ${command.description().split(/[.:(]/)[0]?.trim()}`];
  });
}

/**
 * Runs `idemkit` with `argv` (without `node` and the script) and returns the exit code. Every error is one line
 * on stderr naming the problem and the fix; `--debug` adds the stack trace.
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
  } catch (caught) {
    let error = caught;
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return ExitCode.Ok;
      if (error.code === 'commander.help' || error.code === 'commander.executeSubCommandAsync')
        return ExitCode.BadInput;
      error = unknownFirst(program, argv, error);
      if (error instanceof CommanderError) {
        io.err(`idemkit: ${commanderLine(program, argv, error)}`);
        return ExitCode.BadInput;
      }
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

/** The deepest command named at the start of `argv`, and the arguments after its name. */
function commandOf(
  program: CommandUnknownOpts,
  argv: readonly string[],
): { command: CommandUnknownOpts; path: string; rest: string[] } {
  let command = program;
  const path = ['idemkit'];
  let after = 0;
  for (const [index, arg] of argv.entries()) {
    if (arg.startsWith('-')) continue;
    const sub = command.commands.find((candidate) => candidate.name() === arg);
    if (sub === undefined) break;
    command = sub;
    path.push(arg);
    after = index + 1;
  }
  return { command, path: path.join(' '), rest: argv.slice(after) };
}

/**
 * Commander checks required and conflicting flags before unknown ones; a misspelt flag (`--form`) would then read
 * as the flag it was meant to be missing. This reports the unknown flag, with commander's suggestion, first.
 */
function unknownFirst(program: CommandUnknownOpts, argv: readonly string[], error: CommanderError): unknown {
  if (
    error.code !== 'commander.missingMandatoryOptionValue' &&
    error.code !== 'commander.conflictingOption'
  ) {
    return error;
  }
  const { command, rest } = commandOf(program, argv);
  try {
    const unknown = command.parseOptions(rest).unknown.find((arg) => arg.startsWith('-'));
    // `unknownOption` is commander's own report (with its suggestion), public in its JavaScript, untyped.
    if (unknown !== undefined)
      (command as unknown as { unknownOption(flag: string): never }).unknownOption(unknown);
  } catch (unknownError) {
    return unknownError;
  }
  return error;
}

/** Commander's error as one line in the CLI's voice, ending with the `--help` to read. */
function commanderLine(program: CommandUnknownOpts, argv: readonly string[], error: CommanderError): string {
  const { command, path } = commandOf(program, argv);
  const help = `run \`${path} --help\``;
  const options = command.options as readonly { long?: string; flags: string; description: string }[];
  const named = (text: string) =>
    options.find(
      (option) => text === option.flags || text === option.long || text.startsWith(`${option.long} `),
    );
  if (error.code === 'commander.missingMandatoryOptionValue') {
    const flags = /'([^']+)'/.exec(error.message)?.[1] ?? '';
    const option = named(flags);
    return `Missing \`${option === undefined ? flags : flagOf(option)}\`${option === undefined ? '' : ` (${option.description})`}; ${help} for an example.`;
  }
  if (error.code === 'commander.conflictingOption') {
    const [first, second] = [...error.message.matchAll(/option '([^']+)'/g)].map((match) => {
      const option = named(match[1] as string);
      return option === undefined ? (match[1] as string).split(' ')[0] : flagOf(option);
    });
    return `\`${first}\` cannot be combined with \`${second}\`; drop one of them (${help} for what each does).`;
  }
  const text = error.message
    .replace(/^error:\s*/, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
  return `${text}; ${help} for the commands and flags.`;
}
