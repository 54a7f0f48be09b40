import { Option } from '@commander-js/extra-typings';
import { IdempotencyValidationError } from '../../core/errors.js';
import { assertValidName, digestOf, recordKey } from '../../core/keys.js';
import { RecordState, recordState } from '../../core/record-state.js';
import type { IdempotencyRecord } from '../../core/types.js';
import type { ItemLayout } from '../../stores/dynamodb-item.js';
import { layoutFromFlag } from '../attributes.js';
import { CliError } from '../errors.js';
import { formatDuration } from '../io.js';
import { common, extend } from '../options.js';

/**
 * Validates an org or scope flag with the library's own rule, naming the flag.
 *
 * @example
 * validName('org', 'acme'); // 'acme'; 'acme#eu' throws a CliError naming `--org`
 */
export function validName(field: 'org' | 'scope', value: string): string {
  try {
    assertValidName(field, value);
    return value;
  } catch (error) {
    if (error instanceof IdempotencyValidationError) {
      throw new CliError(
        `${error.message.replace(`\`${field}\``, `\`--${field}\``).replace(/\.$/, '')}, got ${JSON.stringify(value)}; pass the ${field} exactly as the service sets it.`,
      );
    }
    throw error;
  }
}

/** The argument parser of `--org` and `--scope`. */
export const nameFlag = (field: 'org' | 'scope') => (value: string) => validName(field, value);

/**
 * `--attributes`: the item layout of an existing table, parsed once when the flag is read.
 *
 * @example
 * attributesOption(common(parent.command('sweep'))).action((flags) => flags.attributes ?? DEFAULT_LAYOUT);
 */
export const attributesOption = extend((command) =>
  command.option(
    '--attributes <json|file>',
    'attribute names and sort key of an existing table, as DynamoDBStore takes them (default: pk, expiresAt, ...)',
    (value: string): ItemLayout => layoutFromFlag(value),
  ),
);

/**
 * The flags that name one record: `--table --org` and `--scope --key`, or `--pk` as `records list` prints it.
 *
 * @example
 * recordOptions(parent.command('get')).action((flags) => pkFromFlags(flags));
 */
export const recordOptions = extend((command) =>
  attributesOption(
    common(command)
      .requiredOption('--table <name>', 'the idempotency table')
      .requiredOption('--org <org>', 'the tenant, as the service sets it', nameFlag('org'))
      .option('--scope <scope>', 'the operation', nameFlag('scope'))
      .option('--key <key>', 'the idempotency or job key (never stored; only its digest is)')
      .addOption(
        new Option(
          '--pk <pk>',
          'the record by its pk, as `records list` prints it, instead of --scope/--key',
        ).conflicts('key'),
      ),
  ),
);

/**
 * The `pk` the library computes for the record the flags name (docs/protocol.md section 2).
 *
 * @example
 * pkFromFlags({ org: 'acme', scope: 'create-order', key: 'order-42' }); // 'acme#create-order#<digest>'
 */
export function pkFromFlags(flags: { org: string; scope?: string; key?: string; pk?: string }): string {
  const { org } = flags;
  if (flags.pk !== undefined) {
    const parts = flags.pk.split('#');
    if (parts.length !== 3 || parts[0] !== org || (flags.scope !== undefined && parts[1] !== flags.scope)) {
      throw new CliError(
        `Expected \`--pk\` to be \`${org}#<scope>#<digest>\` for \`--org\` ${org}, got ${JSON.stringify(flags.pk)}; copy it from \`idemkit records list\`.`,
      );
    }
    return flags.pk;
  }
  if (flags.scope === undefined || flags.key === undefined) {
    throw new CliError(
      'Expected `--scope` and `--key` (or `--pk`) to name the record; pass both, e.g. `--scope create-order --key order-42`.',
    );
  }
  try {
    return recordKey(org, flags.scope, flags.key);
  } catch (error) {
    if (error instanceof IdempotencyValidationError) {
      throw new CliError(
        `${error.message.replace('the idempotency key', '`--key`')} Pass the key the client sent.`,
      );
    }
    throw error;
  }
}

/**
 * What an operator needs to know about a record, with no raw key: the pk carries only the key's digest.
 *
 * @example
 * JSON.stringify(view(record));
 */
export function view(record: IdempotencyRecord, now = Date.now()) {
  const state = recordState(record, now);
  return {
    pk: record.pk,
    org: record.org,
    scope: record.scope,
    keyDigest: digestOf(record.pk),
    status: record.status,
    expired: state === RecordState.Expired,
    stuck: state === RecordState.Stuck,
    expiresAt: new Date(record.expiresAt * 1000).toISOString(),
    leaseUntil: record.leaseUntil === undefined ? undefined : new Date(record.leaseUntil).toISOString(),
    createdAt: new Date(record.createdAt).toISOString(),
    completedAt: record.completedAt === undefined ? undefined : new Date(record.completedAt).toISOString(),
    attempt: record.attempt,
    fingerprint: record.fingerprint,
    hasResult: record.result !== undefined,
    resultDropped: record.resultDropped,
  };
}

/**
 * A record's state in words: expired, stuck, a live lease, or its status.
 *
 * @example
 * describeState(record, Date.now()); // 'IN_PROGRESS, lease ended 31 min ago (stuck)'
 */
export function describeState(record: IdempotencyRecord, now: number): string {
  const lease = record.leaseUntil ?? 0;
  switch (recordState(record, now)) {
    case RecordState.Expired:
      return `${record.status}, expired ${formatDuration(now - record.expiresAt * 1000)} ago`;
    case RecordState.Stuck:
      return `IN_PROGRESS, lease ended ${formatDuration(now - lease)} ago (stuck)`;
    case RecordState.Live:
      return `IN_PROGRESS, lease live for ${formatDuration(lease - now)}`;
    default:
      return record.status;
  }
}

/** The admin functions of the DynamoDB store, loaded when a command runs (the SDK is a peer). */
export const loadAdmin = () => import('../../stores/dynamodb-admin.js');
