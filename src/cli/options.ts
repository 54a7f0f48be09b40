import { type Command, Option, type OptionValues } from '@commander-js/extra-typings';
import { LARGE_TABLE } from './commands/scan-bounds.js';
import { CliError } from './errors.js';

/**
 * The argument parser of a whole-number flag: one line naming the flag, the range and what was received.
 *
 * @example
 * command.option('--max <n>', 'messages at most', integer('--max', 1));
 */
export function integer(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < min || number > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min} to ${max}`;
      throw new CliError(`Expected \`${flag}\` to be a whole number ${range}, got ${JSON.stringify(value)}.`);
    }
    return number;
  };
}

/**
 * The argument parser of a flag that takes a number above 0 (`--rate 2.5`).
 *
 * @example
 * command.option('--rate <n>', 'per second at most', positive('--rate'));
 */
export function positive(flag: string): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || number <= 0) {
      throw new CliError(`Expected \`${flag}\` to be a number above 0, got ${JSON.stringify(value)}.`);
    }
    return number;
  };
}

/** The options a flag adder declares, read from the command it returns. */
type Declared<Add> = Add extends (command: Command) => Command<[], infer Options, OptionValues>
  ? Options
  : never;

/**
 * Makes a flag adder written against a plain `Command` apply to any command, keeping the flags' types.
 *
 * The adder's chain of `.option()` calls is typed once, on a concrete command: the same chain over a generic
 * command makes the compiler expand every intersection for every caller, which took the CLI's type check from
 * seconds to tens of minutes.
 *
 * @example
 * const verbose = extend((command) => command.option('--verbose', 'say more', false));
 * verbose(program.command('peek')).action((flags) => flags.verbose);
 */
export function extend<Add extends (command: Command) => Command<[], OptionValues, OptionValues>>(add: Add) {
  // biome-ignore lint/suspicious/noExplicitAny: any command's arguments, as commander types them.
  return <A extends any[], O extends OptionValues, G extends OptionValues>(
    command: Command<A, O, G>,
  ): Command<A, O & Declared<Add>, G> => {
    add(command as unknown as Command);
    return command as unknown as Command<A, O & Declared<Add>, G>;
  };
}

/**
 * Adds the flags every AWS command takes, so each command's `--help` lists them, typed.
 *
 * @example
 * common(parent.command('peek')).action((flags) => flags.endpoint);
 */
export const common = extend((command) =>
  command
    .option('--region <region>', 'AWS region (default: AWS_REGION, the profile, then us-east-1)')
    .option(
      '--endpoint <url>',
      'service endpoint, for local servers such as http://127.0.0.1:4566 (default: AWS)',
    )
    .option('--profile <name>', 'AWS shared-config profile (default: the SDK chain)')
    .option('--json', 'print one JSON document on stdout', false)
    .option('--yes', 'do not ask before destructive actions (needed without a terminal)', false)
    .option('--debug', 'print stack traces of errors', false),
);

/**
 * Adds the bounds of a table scan: `--max-items`, `--segments` and `--all` (see {@link ScanBounds}).
 *
 * @example
 * scanBounds(common(parent.command('list')));
 */
export const scanBounds = extend((command) =>
  command
    .addOption(
      new Option(
        '--max-items <n>',
        'read at most this many items in the scan, whatever the filter keeps (default: the whole table, refused on a large one without --all)',
      )
        .argParser(integer('--max-items', 1))
        .conflicts('all'),
    )
    .addOption(
      new Option('--segments <n>', 'scan this many segments in parallel (Scan TotalSegments), 1 to 64')
        .argParser(integer('--segments', 1, 64))
        .default(1),
    )
    .option(
      '--all',
      `scan the whole table even when it is large (DescribeTable: ${LARGE_TABLE.items} items or ${LARGE_TABLE.bytes / 1024 / 1024} MiB or more)`,
      false,
    ),
);

/**
 * An option's flag as an operator types it, from commander's `--name <value>`.
 *
 * @example
 * flagOf({ long: '--from', flags: '--from <dlq>' }); // '--from'
 */
export function flagOf(option: { long?: string; flags: string }): string {
  return option.long ?? option.flags.split(/[ ,|]+/)[0] ?? option.flags;
}
