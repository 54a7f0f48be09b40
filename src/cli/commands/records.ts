import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import cliProgress from 'cli-progress';
import { decodeResult } from '../../core/codec.js';
import { IdempotencyValidationError } from '../../core/errors.js';
import { assertValidName, digestOf, recordKey } from '../../core/keys.js';
import { RecordState, recordState } from '../../core/record-state.js';
import { type IdempotencyRecord, RecordStatus } from '../../core/types.js';
import { compile, fromItem, type ItemLayout, keyOf } from '../../stores/dynamodb-item.js';
import { type SweepProgress, type SweepSummary, sweepExpiredRecords } from '../../sweep/index.js';
import { layoutFromFlag } from '../attributes.js';
import { type CommonOptions, clientConfig, dynamoClient } from '../aws.js';
import { CliError, ExitCode, explainAwsError } from '../errors.js';
import { confirm, formatDuration, type Io, integerFlag, numberFlag, table } from '../io.js';
import { LIST_STATUSES } from './list-statuses.js';

/** Flags that name one record: `--org --scope --key`, or `--pk` as `records list` prints it. */
export interface RecordFlags extends CommonOptions {
  readonly table: string;
  /** The table's attribute names and sort key (`--attributes`), JSON or a JSON file. */
  readonly attributes?: string;
  readonly org: string;
  readonly scope?: string;
  readonly key?: string;
  readonly pk?: string;
}

/** Validates an org or scope flag with the library's own rule, naming the flag. */
function validName(field: 'org' | 'scope', value: string): string {
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

/** The `pk` the library computes for the record the flags name (docs/protocol.md section 2). */
function pkFromFlags(flags: RecordFlags): string {
  const org = validName('org', flags.org);
  if (flags.pk !== undefined) {
    if (flags.key !== undefined) {
      throw new CliError(
        'Expected one of `--key` or `--pk`, got both; pass `--pk` as `records list` prints it, or `--scope` with `--key`.',
      );
    }
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
  const scope = validName('scope', flags.scope);
  try {
    return recordKey(org, scope, flags.key);
  } catch (error) {
    if (error instanceof IdempotencyValidationError) {
      throw new CliError(
        `${error.message.replace('the idempotency key', '`--key`')} Pass the key the client sent.`,
      );
    }
    throw error;
  }
}

function target(flags: CommonOptions) {
  return { endpoint: flags.endpoint, region: clientConfig(flags).region };
}

async function withTable<T>(
  flags: RecordFlags | ListFlags | SweepFlags,
  work: (ddb: DynamoDBClient) => Promise<T>,
): Promise<T> {
  const ddb = dynamoClient(flags);
  try {
    return await work(ddb);
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new CliError(
        `The table ${JSON.stringify(flags.table)} given as \`--table\` does not exist in ${target(flags).region}${flags.endpoint === undefined ? '' : ` at ${flags.endpoint}`}; check the name, \`--region\` and \`--endpoint\`.`,
        { cause: error },
      );
    }
    throw explainAwsError(error, target(flags));
  } finally {
    ddb.destroy();
  }
}

/** What an operator needs to know about a record, with no raw key: the pk carries only the key's digest. */
export function view(record: IdempotencyRecord, now = Date.now()) {
  const state = recordState(record, now);
  const expired = state === RecordState.Expired;
  const stuck = state === RecordState.Stuck;
  return {
    pk: record.pk,
    org: record.org,
    scope: record.scope,
    keyDigest: digestOf(record.pk),
    status: record.status,
    expired,
    stuck,
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

function state(record: IdempotencyRecord, now: number): string {
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

async function read(
  ddb: DynamoDBClient,
  table: string,
  pk: string,
  layout: ItemLayout,
): Promise<IdempotencyRecord | undefined> {
  const { Item } = await ddb.send(
    new GetItemCommand({ TableName: table, Key: keyOf(pk, layout), ConsistentRead: true }),
  );
  return Item === undefined ? undefined : fromItem(Item, layout);
}

/** `idemkit records get`: one record, read consistently. */
export async function getCommand(flags: RecordFlags & { showResult?: boolean }, io: Io): Promise<number> {
  const pk = pkFromFlags(flags);
  return withTable(flags, async (ddb) => {
    const record = await read(ddb, flags.table, pk, layoutFromFlag(flags.attributes));
    if (record === undefined) {
      io.err(
        `No record for ${pk} in ${flags.table}: the key was never used in this scope, or its record expired and was deleted.`,
      );
      return ExitCode.Incomplete;
    }
    const now = Date.now();
    const shown = {
      ...view(record, now),
      ...(flags.showResult === true ? { result: decodeResult(record.result) } : {}),
    };
    if (flags.json === true) {
      io.out(JSON.stringify(shown));
      return ExitCode.Ok;
    }
    io.out(
      table([
        ['pk', record.pk],
        ['status', state(record, now)],
        ['expiresAt', shown.expiresAt],
        ...(shown.leaseUntil === undefined ? [] : [['leaseUntil', shown.leaseUntil]]),
        ['createdAt', shown.createdAt],
        ...(shown.completedAt === undefined ? [] : [['completedAt', shown.completedAt]]),
        ['attempt', String(record.attempt)],
        ['fingerprint', record.fingerprint],
        [
          'result',
          record.result === undefined
            ? `none${record.resultDropped === undefined ? '' : ` (${record.resultDropped})`}`
            : flags.showResult === true
              ? JSON.stringify(shown.result)
              : 'stored (pass `--show-result` to print it)',
        ],
      ]).join('\n'),
    );
    return ExitCode.Ok;
  });
}

/** Flags of `idemkit records list`. */
export interface ListFlags extends CommonOptions {
  readonly table: string;
  readonly attributes?: string;
  readonly org: string;
  readonly scope?: string;
  readonly status?: string;
  readonly limit: string;
  readonly pageSize?: string;
}

/**
 * `idemkit records list`: one org's records, oldest pages first. `pk` is the table's only key, so this is a
 * paginated Scan filtered on `begins_with(pk, '<org>#')`; it reads the whole table, so mind its cost on a
 * large one.
 */
export async function listCommand(flags: ListFlags, io: Io): Promise<number> {
  const org = validName('org', flags.org);
  const scope = flags.scope === undefined ? undefined : validName('scope', flags.scope);
  const limit = integerFlag('--limit', flags.limit, 1) ?? 100;
  const pageSize = integerFlag('--page-size', flags.pageSize, 1);
  const statuses = (flags.status ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const found = LIST_STATUSES.find((known) => known.toLowerCase() === s.toLowerCase());
      if (found === undefined) {
        throw new CliError(
          `Expected \`--status\` to be one or more of ${LIST_STATUSES.join(', ')} (comma-separated), got ${JSON.stringify(s)}.`,
        );
      }
      return found;
    });
  const layout = layoutFromFlag(flags.attributes);
  const now = Date.now();
  const values: Record<string, AttributeValue> = {
    ':prefix': { S: `${org}#${scope === undefined ? '' : `${scope}#`}` },
  };
  const alternatives: string[] = [];
  for (const status of statuses) {
    if (status === 'stuck') {
      values[':ip'] = { S: RecordStatus.InProgress };
      values[':nowMs'] = { N: String(now) };
      alternatives.push(
        statuses.length > 1
          ? '({status} = :ip AND {leaseUntil} < :nowMs)'
          : '{status} = :ip AND {leaseUntil} < :nowMs',
      );
    } else if (status === 'expired') {
      values[':nowS'] = { N: String(Math.floor(now / 1000)) };
      alternatives.push('{expiresAt} < :nowS');
    } else {
      values[`:${status}`] = { S: status };
      alternatives.push(`{status} = :${status}`);
    }
  }
  // DynamoDB rejects redundant parentheses, so they are added only around an OR.
  const either = alternatives.length > 1 ? `(${alternatives.join(' OR ')})` : alternatives[0];
  // In a single-table design only the items with idemkit's sort key value are records.
  const sortKey = layout.sortKey;
  const onlyRecords = sortKey === undefined ? '' : ' AND #sortKey = :sortKey';
  if (sortKey !== undefined) values[':sortKey'] = keyOf('', layout)[sortKey.name] ?? { S: '' };
  const { expressions, names } = compile(
    layout,
    `begins_with({pk}, :prefix)${onlyRecords}${either === undefined ? '' : ` AND ${either}`}`,
  );
  if (sortKey !== undefined) names['#sortKey'] = sortKey.name;
  const filter = expressions[0];
  return withTable(flags, async (ddb) => {
    const records: IdempotencyRecord[] = [];
    let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
    let more = false;
    do {
      const page = await ddb.send(
        new ScanCommand({
          TableName: flags.table,
          FilterExpression: filter,
          ExpressionAttributeNames: Object.keys(names).length === 0 ? undefined : names,
          ExpressionAttributeValues: values,
          ExclusiveStartKey,
          Limit: pageSize,
        }),
      );
      for (const item of page.Items ?? []) {
        if (records.length === limit) {
          more = true;
          break;
        }
        records.push(fromItem(item, layout));
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined && !more);
    more ||= ExclusiveStartKey !== undefined && records.length === limit;
    if (flags.json === true) {
      io.out(
        JSON.stringify({
          org,
          scope: scope ?? null,
          records: records.map((record) => view(record, now)),
          truncated: more,
        }),
      );
      return ExitCode.Ok;
    }
    if (records.length === 0) {
      io.out(
        `No records for org ${org}${scope === undefined ? '' : ` scope ${scope}`}${statuses.length === 0 ? '' : ` with status ${statuses.join(' or ')}`}.`,
      );
      return ExitCode.Ok;
    }
    io.out(
      table([
        ['PK', 'STATUS', 'ATTEMPT', 'CREATED'],
        ...records.map((record) => [
          record.pk,
          state(record, now),
          String(record.attempt),
          new Date(record.createdAt).toISOString(),
        ]),
      ]).join('\n'),
    );
    io.out(
      `${records.length} record(s)${more ? `; more exist, raise \`--limit\` above ${limit} to see them` : ''}.`,
    );
    return ExitCode.Ok;
  });
}

/**
 * `idemkit records release`: deletes a record so the operation can run again. Meant for an
 * `IN_PROGRESS` record whose lease is stuck; a live lease, a `COMPLETED` or a `FAILED` record needs
 * `--force`. The delete is conditional on what was shown, so a record that changed meanwhile is kept.
 */
export async function releaseCommand(flags: RecordFlags & { force?: boolean }, io: Io): Promise<number> {
  const pk = pkFromFlags(flags);
  return withTable(flags, async (ddb) => {
    const record = await read(ddb, flags.table, pk, layoutFromFlag(flags.attributes));
    if (record === undefined) {
      throw new CliError(
        `No record for ${pk} in ${flags.table}; nothing to release (check \`--org\`, \`--scope\` and \`--key\`).`,
        {
          exitCode: ExitCode.Incomplete,
        },
      );
    }
    const now = Date.now();
    if (record.status !== RecordStatus.InProgress && flags.force !== true) {
      throw new CliError(
        `Refusing to release ${pk}: it is ${record.status}, so releasing it lets the operation run a second time; pass \`--force\` if that is what you want.`,
      );
    }
    if (recordState(record, now) === RecordState.Live && flags.force !== true) {
      throw new CliError(
        `Refusing to release ${pk}: its lease is live for ${formatDuration((record.leaseUntil ?? 0) - now)}, so its owner may still be running; wait for the lease to end or pass \`--force\`.`,
      );
    }
    await confirm(io, flags.yes, `Delete ${pk} (${state(record, now)})?`, `delete record ${pk}`);
    const values: Record<string, AttributeValue> = {
      ':status': { S: record.status },
      ':attempt': { N: String(record.attempt) },
      ':createdAt': { N: String(record.createdAt) },
    };
    let template = '{status} = :status AND {attempt} = :attempt AND {createdAt} = :createdAt';
    if (record.leaseToken === undefined) template += ' AND attribute_not_exists({leaseToken})';
    else {
      template += ' AND {leaseToken} = :token';
      values[':token'] = { S: record.leaseToken };
    }
    const layout = layoutFromFlag(flags.attributes);
    const { expressions, names } = compile(layout, template);
    try {
      await ddb.send(
        new DeleteItemCommand({
          TableName: flags.table,
          Key: keyOf(pk, layout),
          ConditionExpression: expressions[0],
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (
        error instanceof ConditionalCheckFailedException ||
        (error as { name?: string }).name === 'ConditionalCheckFailedException'
      ) {
        throw new CliError(
          `Kept ${pk}: it changed since it was read (another invocation claimed or completed it); run \`idemkit records get\` to see it now.`,
          {
            exitCode: ExitCode.Incomplete,
          },
        );
      }
      throw error;
    }
    io.out(
      flags.json === true
        ? JSON.stringify({ released: pk, was: record.status })
        : `Released ${pk} (was ${record.status}); the next delivery or retry runs the operation.`,
    );
    return ExitCode.Ok;
  });
}

/** Flags of `idemkit records sweep`. */
export interface SweepFlags extends CommonOptions {
  readonly table: string;
  readonly dryRun?: boolean;
  readonly rate: string;
  readonly pageSize: string;
  readonly maxMinutes?: string;
  /** The table's attribute names and sort key (`--attributes`), JSON or a JSON file. */
  readonly attributes?: string;
}

/**
 * `idemkit records sweep`: deletes expired records from a table without TTL (a multi-Region strongly
 * consistent global table), each delete conditional on the record still being expired. The same code the
 * scheduled sweep Lambda runs (src/sweep). A dry run counts and deletes nothing.
 */
export async function sweepCommand(flags: SweepFlags, io: Io): Promise<number> {
  const rate = numberFlag('--rate', flags.rate) ?? 50;
  const pageSize = integerFlag('--page-size', flags.pageSize, 1, 1000) ?? 250;
  const maxMinutes = integerFlag('--max-minutes', flags.maxMinutes, 1);
  const dryRun = flags.dryRun === true;
  const layout = layoutFromFlag(flags.attributes);
  if (!dryRun) {
    await confirm(
      io,
      flags.yes,
      `Delete every expired record in ${flags.table}, at most ${rate} per second?`,
      `delete expired records from ${flags.table}`,
    );
  }
  return withTable(flags, async (ddb) => {
    const progress = sweepProgress(io, flags.json === true, dryRun);
    let summary: SweepSummary;
    try {
      summary = await sweepExpiredRecords({
        client: ddb,
        tableName: flags.table,
        layout,
        dryRun,
        maxDeletesPerSecond: rate,
        pageSize,
        maxDurationMs: maxMinutes === undefined ? undefined : maxMinutes * 60_000,
        onProgress: progress.update,
      });
    } finally {
      progress.stop();
    }
    if (flags.json === true) {
      io.out(JSON.stringify({ table: flags.table, ...summary }));
    } else {
      const verb = dryRun ? 'would delete' : 'deleted';
      io.out(
        `${flags.table}: ${summary.scanned} record(s) read in ${summary.pages} page(s), ${summary.expired} expired, ${verb} ${dryRun ? summary.expired : summary.deleted}${summary.kept === 0 ? '' : `, kept ${summary.kept} claimed again or gone since they were read`}, in ${formatDuration(summary.durationMs)}.`,
      );
      if (!summary.complete)
        io.out('Stopped at `--max-minutes` before the end of the table; run it again to go on.');
    }
    return summary.complete ? ExitCode.Ok : ExitCode.Incomplete;
  });
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
