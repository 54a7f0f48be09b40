import { createRequire } from 'node:module';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { QueueAttributeName, SQSClient } from '@aws-sdk/client-sqs';
import { CliError, ExitCode, explainAwsError } from './errors.js';

// The SDK clients are peers, and `@aws-sdk/client-sqs` an optional one: this module loads neither when it is
// imported, so `--help`, `--version` and the commands whose client is installed run without the other.
const require = createRequire(import.meta.url);
type Sqs = typeof import('@aws-sdk/client-sqs');
type Dynamo = typeof import('@aws-sdk/client-dynamodb');

/** The AWS SDK packages the commands import; a command whose package is missing says which to install. */
const SDK_PACKAGES = ['@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs'] as const;

function installed(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads a module that imports an AWS SDK client (a command's engine, or the client itself). A client that is not
 * installed is one line naming the package and the install command, instead of a module-not-found stack.
 *
 * @example
 * const { replay } = await loadCommand('dlq replay', () => import('./replay.js'));
 */
export async function loadCommand<T>(command: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    const message = String((error as Error).message);
    const missing =
      SDK_PACKAGES.find((name) => message.includes(`'${name}'`) && !installed(name)) ??
      SDK_PACKAGES.find((name) => !installed(name));
    if (missing === undefined) throw error;
    throw new CliError(
      `\`idemkit ${command}\` needs the package ${missing}, which is not installed; install it with \`npm install ${missing}\` and run the command again.`,
      { exitCode: ExitCode.BadInput, cause: error },
    );
  }
}

/**
 * The client lifecycle of an SQS command: loads the SDK (or says which package to install), builds the client
 * from the common flags, runs `work`, turns AWS and network errors into one line, and destroys the client.
 *
 * @example
 * return withSqs('dlq peek', flags, async (sqs, sdk) => ...);
 */
export async function withSqs<T>(
  command: string,
  options: CommonOptions,
  work: (sqs: SQSClient, sdk: Sqs) => Promise<T>,
): Promise<T> {
  const sdk = await loadCommand(command, async () => sqsSdk());
  const sqs = new sdk.SQSClient(clientConfig(options));
  try {
    return await work(sqs, sdk);
  } catch (error) {
    throw explainAwsError(error, target(options));
  } finally {
    sqs.destroy();
  }
}

/**
 * The client lifecycle of a DynamoDB command, as {@link withSqs}; a table that does not exist is one line naming
 * `--table`, the Region and the endpoint.
 *
 * @example
 * return withDynamo('records get', flags, async (ddb) => getRecord(ddb, flags.table, pk, layout));
 */
export async function withDynamo<T>(
  command: string,
  options: CommonOptions & { readonly table: string },
  work: (ddb: DynamoDBClient, sdk: Dynamo) => Promise<T>,
): Promise<T> {
  const sdk = await loadCommand(command, async () => dynamoSdk());
  const ddb = new sdk.DynamoDBClient(clientConfig(options));
  try {
    return await work(ddb, sdk);
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new CliError(
        `The table ${JSON.stringify(options.table)} given as \`--table\` does not exist in ${target(options).region}${options.endpoint === undefined ? '' : ` at ${options.endpoint}`}; check the name, \`--region\` and \`--endpoint\`.`,
        { cause: error },
      );
    }
    throw explainAwsError(error, target(options));
  } finally {
    ddb.destroy();
  }
}

/**
 * Where a command talks to, for error lines: the endpoint, and the Region the client resolves.
 *
 * @example
 * explainAwsError(error, target(flags));
 */
export function target(options: CommonOptions): { endpoint?: string; region: string } {
  return { endpoint: options.endpoint, region: clientConfig(options).region };
}

// Called only through `withSqs` / `withDynamo` (or a module `loadCommand` loaded), which name a missing package.
const sqsSdk = (): Sqs => require('@aws-sdk/client-sqs') as Sqs;
const dynamoSdk = (): Dynamo => require('@aws-sdk/client-dynamodb') as Dynamo;

/** The flags every AWS command takes. */
export interface CommonOptions {
  readonly region?: string;
  readonly endpoint?: string;
  readonly profile?: string;
  readonly json?: boolean;
  readonly yes?: boolean;
  readonly debug?: boolean;
}

/**
 * Client configuration from the common flags. Region falls back to the SDK's own chain (AWS_REGION,
 * the profile), then `us-east-1` so a local `--endpoint` works without one.
 *
 * @example
 * new SQSClient(clientConfig({ endpoint: 'http://127.0.0.1:4566' }));
 */
export function clientConfig(options: CommonOptions): {
  region: string;
  endpoint?: string;
  profile?: string;
} {
  if (options.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new CliError(
        `Expected \`--endpoint\` to be a URL such as http://127.0.0.1:4566, got ${JSON.stringify(options.endpoint)}.`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CliError(
        `Expected \`--endpoint\` to start with http:// or https://, got ${JSON.stringify(options.endpoint)}.`,
      );
    }
  }
  return {
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
  };
}

/** A queue found by URL or name. */
export interface QueueRef {
  readonly url: string;
  readonly name: string;
  readonly arn: string;
  readonly fifo: boolean;
  readonly attributes: Readonly<Record<string, string>>;
}

/**
 * Finds a queue from a URL or a name (`GetQueueUrl`) and reads its attributes. A queue that does not
 * exist is a one-line error naming the flag.
 *
 * @example
 * const dlq = await resolveQueue(sqs, 'orders-dlq', '--from', options);
 */
export async function resolveQueue(
  sqs: SQSClient,
  nameOrUrl: string,
  flag: string,
  options: CommonOptions,
  extra: QueueAttributeName[] = [],
): Promise<QueueRef> {
  const { GetQueueAttributesCommand, GetQueueUrlCommand } = sqsSdk();
  const target = { endpoint: options.endpoint, region: clientConfig(options).region };
  let url = nameOrUrl;
  try {
    if (!/^https?:\/\//.test(nameOrUrl)) {
      if (!/^[A-Za-z0-9_-]{1,75}(\.fifo)?$/.test(nameOrUrl)) {
        throw new CliError(
          `Expected \`${flag}\` to be a queue URL or name (letters, digits, - and _, up to 80 characters), got ${JSON.stringify(nameOrUrl)}.`,
        );
      }
      url = (await sqs.send(new GetQueueUrlCommand({ QueueName: nameOrUrl }))).QueueUrl ?? '';
    }
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['QueueArn', 'FifoQueue', 'RedrivePolicy', 'MessageRetentionPeriod', ...extra],
      }),
    );
    const arn = Attributes.QueueArn ?? '';
    return {
      url,
      name: arn.split(':').pop() || url.split('/').pop() || nameOrUrl,
      arn,
      fifo: Attributes.FifoQueue === 'true',
      attributes: Attributes,
    };
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue') {
      throw new CliError(
        `The queue ${JSON.stringify(nameOrUrl)} given as \`${flag}\` does not exist in ${target.region}${options.endpoint === undefined ? '' : ` at ${options.endpoint}`}; check the name, \`--region\` and \`--endpoint\`.`,
        { exitCode: ExitCode.BadInput, cause: error },
      );
    }
    throw explainAwsError(error, target);
  }
}
