/**
 * `npm run invoke -- <handler-file> <event.json> [--times n] [--concurrency c] [--store memory] [--timeout s]`:
 * runs a Lambda handler locally against the running playground (or a throwaway in-memory store) and prints each
 * result and idempotency decision. It lives in the repository, not in the published `idemkit` binary, because it
 * needs a checkout (the playground, tsx for TypeScript handlers).
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { CliError, ExitCode } from '../src/cli/errors.js';
import { invokeCommand } from './invoke.js';

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);
let code: number = ExitCode.Ok;
const program = new Command('npm run invoke --')
  .description(
    "Run a Lambda handler locally, against the running playground's table and queues or a throwaway in-memory copy, and print each result and idempotency decision.",
  )
  .argument('<handler-file>', 'a module exporting `handler` (TypeScript is fine)')
  .argument('<event.json>', 'the event, e.g. one of events/')
  .option('--times <n>', 'how many invocations', '1')
  .option('--concurrency <c>', 'invocations running at once', '1')
  .option('--store <store>', 'playground (the running `npm start`) or memory (throwaway)', 'playground')
  .option('--timeout <s>', "the function's timeout in seconds", '30')
  .addHelpText(
    'after',
    '\nExample:\n  $ npm run invoke -- infra/handlers/orders-api.ts events/apigw-http-api-v2.json --times 3 --concurrency 2\n',
  )
  .showSuggestionAfterError(true)
  .exitOverride()
  .configureOutput({
    writeOut: (text) => process.stdout.write(text),
    writeErr: () => {},
    outputError: () => {},
  })
  .action(async (handlerFile, eventFile, flags) => {
    code = await invokeCommand(handlerFile, eventFile, flags, { out });
  });

try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' });
} catch (error) {
  if (error instanceof CommanderError) {
    code = error.code === 'commander.helpDisplayed' ? ExitCode.Ok : ExitCode.BadInput;
    if (code !== ExitCode.Ok) {
      err(
        `idemkit: ${error.message.replace(/^error:\s*/, '')}; run \`npm run invoke -- --help\` for the flags.`,
      );
    }
  } else if (error instanceof CliError) {
    err(`idemkit: ${error.message}`);
    code = error.exitCode;
  } else {
    err(`idemkit: unexpected error: ${(error as Error)?.message ?? String(error)}`);
    code = ExitCode.Incomplete;
  }
}
process.exitCode = code;
