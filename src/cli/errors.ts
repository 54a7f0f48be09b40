/** Exit codes of `idemkit`: 0 success, 1 the work was not all done (or a check failed), 2 bad input. */
export const ExitCode = {
  Ok: 0,
  Incomplete: 1,
  BadInput: 2,
} as const;

/** One of {@link ExitCode}. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error the operator can fix: printed as its one-line message, without a stack trace unless `--debug`.
 *
 * @example
 * throw new CliError('Expected `--max` to be a positive integer, got "ten"; pass a number such as `--max 100`.');
 */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: ExitCode;
  constructor(message: string, options: { exitCode?: ExitCode; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? ExitCode.BadInput;
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

/** Where a command was talking to, for error lines. */
export interface Target {
  readonly endpoint?: string;
  readonly region?: string;
}

/**
 * Turns an AWS SDK or network error into a {@link CliError} with one line naming the problem and the fix;
 * anything unrecognised keeps its own message.
 *
 * @example
 * catch (error) { throw explainAwsError(error, { endpoint }); }
 */
export function explainAwsError(error: unknown, target: Target): CliError {
  if (error instanceof CliError) return error;
  const where = target.endpoint ?? `AWS in ${target.region ?? 'the default region'}`;
  const e = error as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? (NETWORK_CODES.has(e.name ?? '') ? e.name : undefined);
  const message = String(e.message ?? error)
    .replace(/\s+/g, ' ')
    .trim();
  if (code !== undefined && NETWORK_CODES.has(code)) {
    return new CliError(
      `Could not reach ${where} (${code}); check \`--endpoint\` and \`--region\`, and that the server is running.`,
      { exitCode: ExitCode.Incomplete, cause: error },
    );
  }
  if (e.name === 'CredentialsProviderError' || /credential/i.test(message)) {
    return new CliError(
      `No usable AWS credentials (${message}); pass \`--profile\` or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`,
      { exitCode: ExitCode.BadInput, cause: error },
    );
  }
  if (
    e.name === 'UnrecognizedClientException' ||
    e.name === 'InvalidClientTokenId' ||
    e.name === 'AccessDenied' ||
    e.name === 'AccessDeniedException'
  ) {
    return new CliError(
      `${where} refused the request: ${message}; check \`--profile\` and its permissions.`,
      {
        exitCode: ExitCode.Incomplete,
        cause: error,
      },
    );
  }
  return new CliError(`${e.name ?? 'Error'} from ${where}: ${message}`, {
    exitCode: ExitCode.Incomplete,
    cause: error,
  });
}
