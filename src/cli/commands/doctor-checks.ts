import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { isExpired } from '../../core/record-state.js';
import { type ScanSummary, scanTable } from '../../stores/dynamodb-admin.js';
import type { Item, ItemLayout } from '../../stores/dynamodb-item.js';
import { type CommonOptions, type QueueRef, resolveQueue } from '../aws.js';
import { formatDuration } from '../io.js';
import { parseRedrive } from './dlq-shared.js';
import { describeScan, type ScanFlags } from './scan-bounds.js';

/**
 * The checks of `idemkit doctor`, apart from the command so that its flags and `--help` load without the AWS SDK.
 */

/** The outcome of one check: `skip` when the server cannot answer it (DynamoDB Local has no PITR). */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** One line of the doctor's report. */
export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  /** What to do, when the status is not `pass`. */
  readonly fix?: string;
}

/**
 * A check that reads the items of the record checks' one scan (so a table is scanned once however many checks
 * read it), and reports when the scan ends.
 */
export interface ItemCheck {
  onItem(item: Item): void;
  finish(summary: ScanSummary, checks: Check[]): void;
}

/** TTL deletes expired items within about 48 hours; older expired records mean TTL is not working. */
const TTL_LAG_S = 48 * 3600;

/**
 * On an MRSC table the fix for lingering expired records is the sweep, not TTL, which it cannot have.
 *
 * @example
 * if (regions === 'strong') withoutTtl(checks);
 */
export function withoutTtl(checks: Check[]): void {
  const index = checks.findIndex((check) => check.name === 'expired records' && check.status === 'fail');
  const check = checks[index];
  if (check === undefined) return;
  checks[index] = {
    ...check,
    fix: 'MRSC tables have no TTL: schedule the sweep or run `idemkit records sweep` (see the sweep check)',
  };
}

/**
 * The `key schema` check: the table's keys are the layout's partition key (and sort key), both String. `false`
 * when the table does not exist (a failed `table` check), so the other table checks are skipped.
 *
 * @example
 * if (await checkTable(ddb, 'idempotency', DEFAULT_LAYOUT, checks)) await checkTtl(ddb, 'idempotency', DEFAULT_LAYOUT, checks);
 */
export async function checkTable(
  ddb: DynamoDBClient,
  table: string,
  layout: ItemLayout,
  checks: Check[],
): Promise<boolean> {
  let schema: TableDescription | undefined;
  try {
    schema = (await ddb.send(new DescribeTableCommand({ TableName: table }))).Table;
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
    checks.push({
      name: 'table',
      status: 'fail',
      detail: `${table} does not exist.`,
      fix: 'deploy the idemkit table (the `idemkit/cdk` construct), or pass the right `--table`, `--region` and `--endpoint`',
    });
    return false;
  }
  const keys = schema?.KeySchema ?? [];
  const typeOf = (name: string) =>
    schema?.AttributeDefinitions?.find((d) => d.AttributeName === name)?.AttributeType;
  const pk = layout.names.pk;
  const sk = layout.sortKey?.name;
  const expected = [{ name: pk, type: 'HASH' }, ...(sk === undefined ? [] : [{ name: sk, type: 'RANGE' }])];
  const ok =
    keys.length === expected.length &&
    expected.every(
      (key, index) =>
        keys[index]?.AttributeName === key.name &&
        keys[index]?.KeyType === key.type &&
        typeOf(key.name) === 'S',
    );
  const wanted = `partition key \`${pk}\` (String), ${sk === undefined ? 'no sort key' : `sort key \`${sk}\` (String)`}`;
  checks.push({
    name: 'key schema',
    status: ok ? 'pass' : 'fail',
    detail: ok
      ? `${wanted}.`
      : `expected ${wanted}, got ${keys.map((k) => `${k.AttributeName} (${k.KeyType})`).join(', ')}.`,
    ...(ok
      ? {}
      : {
          fix: `create a table with ${wanted} and point the service at it, or pass the table's names with \`--attributes\``,
        }),
  });
  return true;
}

/**
 * The `ttl` check: TTL is enabled on the layout's `expiresAt` attribute.
 *
 * @example
 * await checkTtl(ddb, 'idempotency', DEFAULT_LAYOUT, checks);
 */
export async function checkTtl(
  ddb: DynamoDBClient,
  table: string,
  layout: ItemLayout,
  checks: Check[],
): Promise<void> {
  const { TimeToLiveDescription } = await ddb.send(new DescribeTimeToLiveCommand({ TableName: table }));
  const status = TimeToLiveDescription?.TimeToLiveStatus ?? 'DISABLED';
  const attribute = TimeToLiveDescription?.AttributeName;
  const ttl = layout.names.expiresAt;
  const ok = (status === 'ENABLED' || status === 'ENABLING') && attribute === ttl;
  checks.push({
    name: 'ttl',
    status: ok ? 'pass' : 'fail',
    detail: ok
      ? `TTL ${status.toLowerCase()} on \`${ttl}\`.`
      : `expected TTL enabled on \`${ttl}\`, got ${status}${attribute === undefined ? '' : ` on \`${attribute}\``}.`,
    ...(ok
      ? {}
      : {
          fix: `aws dynamodb update-time-to-live --table-name ${table} --time-to-live-specification Enabled=true,AttributeName=${ttl}`,
        }),
  });
}

/**
 * The `point-in-time recovery` check; `skip` on a server without DescribeContinuousBackups (DynamoDB Local).
 *
 * @example
 * await checkPitr(ddb, 'idempotency', checks);
 */
export async function checkPitr(ddb: DynamoDBClient, table: string, checks: Check[]): Promise<void> {
  try {
    const { ContinuousBackupsDescription } = await ddb.send(
      new DescribeContinuousBackupsCommand({ TableName: table }),
    );
    const status =
      ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus ?? 'DISABLED';
    const ok = status === 'ENABLED';
    checks.push({
      name: 'point-in-time recovery',
      status: ok ? 'pass' : 'fail',
      detail: ok
        ? 'enabled.'
        : `expected ENABLED, got ${status}: a bad deploy or script could lose every lease and result.`,
      ...(ok
        ? {}
        : {
            fix: `aws dynamodb update-continuous-backups --table-name ${table} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true`,
          }),
    });
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (!/UnknownOperation|NotImplemented|UnsupportedOperation/.test(name)) throw error;
    checks.push({
      name: 'point-in-time recovery',
      status: 'skip',
      detail: `the server does not implement DescribeContinuousBackups (${name}; DynamoDB Local does not).`,
      fix: 'run the doctor against the real table to check it',
    });
  }
}

/**
 * The `stuck leases` and `expired records` checks, from one bounded scan (`--max-items`, `--segments`) projected
 * to four attributes, which `others` (the sweep check) read too; each line says what the scan read and cost.
 *
 * @example
 * await checkRecords(ddb, 'idempotency', DEFAULT_LAYOUT, 15, { segments: 1, all: true }, checks);
 */
export async function checkRecords(
  ddb: DynamoDBClient,
  table: string,
  layout: ItemLayout,
  stuckAfterMin: number,
  bounds: ScanFlags,
  checks: Check[],
  others: readonly ItemCheck[] = [],
): Promise<void> {
  const now = Date.now();
  let stuck = 0;
  let oldestStuck = now;
  const stuckOrgs = new Set<string>();
  let expiredLagging = 0;
  let expiredRecent = 0;
  let millisecondExpiry = 0;
  const { names } = layout;
  const summary = await scanTable(ddb, {
    tableName: table,
    layout,
    fields: ['pk', 'status', 'leaseUntil', 'expiresAt'],
    maxItems: bounds.maxItems,
    segments: bounds.segments,
    onItem: (item) => {
      const expiresAt = Number(item[names.expiresAt]?.N ?? 'NaN');
      const leaseUntil = Number(item[names.leaseUntil]?.N ?? '0');
      if (expiresAt > 1e11) millisecondExpiry += 1;
      else if (isExpired({ expiresAt: expiresAt + TTL_LAG_S }, now)) expiredLagging += 1;
      else if (isExpired({ expiresAt }, now)) expiredRecent += 1;
      else if (item[names.status]?.S === 'IN_PROGRESS' && leaseUntil < now - stuckAfterMin * 60_000) {
        stuck += 1;
        oldestStuck = Math.min(oldestStuck, leaseUntil);
        stuckOrgs.add((item[names.pk]?.S ?? '').split('#')[0] ?? '');
      }
      for (const other of others) other.onItem(item);
      return undefined;
    },
  });
  const read = describeScan(summary);
  const orgs = [...stuckOrgs].slice(0, 3);
  checks.push({
    name: 'stuck leases',
    status: stuck === 0 ? 'pass' : 'fail',
    detail:
      stuck === 0
        ? `no IN_PROGRESS record past its lease by more than ${stuckAfterMin} min (${read}).`
        : `${stuck} IN_PROGRESS record(s) past their lease by more than ${stuckAfterMin} min, the oldest by ${formatDuration(now - oldestStuck)}, in org(s) ${orgs.join(', ')}${stuckOrgs.size > 3 ? ', ...' : ''}.`,
    ...(stuck === 0
      ? {}
      : {
          fix: `list them with \`idemkit records list --table ${table} --org ${orgs[0]} --status stuck\` and, once you know the side effect did not happen, \`idemkit records release --pk <pk>\`; a retry reclaims them too`,
        }),
  });
  const expiryBroken = expiredLagging + millisecondExpiry;
  checks.push({
    name: 'expired records',
    status: expiryBroken === 0 ? 'pass' : 'fail',
    detail:
      expiryBroken === 0
        ? `${expiredRecent} expired record(s) waiting for TTL deletion (normal within 48 h; ${read}).`
        : `${expiredLagging} record(s) expired more than 48 h ago and not deleted${millisecondExpiry === 0 ? '' : `, ${millisecondExpiry} with \`expiresAt\` in milliseconds (never expires)`}.`,
    ...(expiryBroken === 0
      ? {}
      : {
          fix:
            millisecondExpiry > 0
              ? 'write `expiresAt` in epoch seconds (docs/protocol.md section 2); upgrade the writer'
              : 'enable TTL on `expiresAt` (see the ttl check); DynamoDB deletes the backlog within 48 h',
        }),
  });
  for (const other of others) other.finish(summary, checks);
}

/**
 * The `redrive`, `dlq retention` and `dlq depth` checks of `--queue` and `--dlq`.
 *
 * @example
 * await checkQueues(sqs, { dlq: 'orders-dlq', queue: 'orders' }, 0, checks);
 */
export async function checkQueues(
  sqs: SQSClient,
  flags: CommonOptions & { readonly dlq?: string; readonly queue?: string },
  maxDepth: number,
  checks: Check[],
): Promise<void> {
  const dlq = await resolveQueue(sqs, flags.dlq as string, '--dlq', flags, [
    'ApproximateNumberOfMessages',
    'ApproximateNumberOfMessagesNotVisible',
  ]);
  if (flags.queue !== undefined) {
    const queue = await resolveQueue(sqs, flags.queue, '--queue', flags);
    checkRedrive(queue, dlq, checks);
  }
  const depth =
    Number(dlq.attributes.ApproximateNumberOfMessages ?? '0') +
    Number(dlq.attributes.ApproximateNumberOfMessagesNotVisible ?? '0');
  let oldest = '';
  if (depth > 0) {
    // A sample; VisibilityTimeout 0 leaves the messages visible. SQS has no oldest-age attribute
    // outside CloudWatch's ApproximateAgeOfOldestMessage.
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq.url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        MessageSystemAttributeNames: ['SentTimestamp'],
      }),
    );
    const sent = Messages.map((m) => Number(m.Attributes?.SentTimestamp ?? Date.now()));
    if (sent.length > 0) oldest = `, oldest sampled ${formatDuration(Date.now() - Math.min(...sent))} old`;
  }
  checks.push({
    name: 'dlq depth',
    status: depth <= maxDepth ? 'pass' : 'fail',
    detail: `${dlq.name} holds ${depth} message(s)${oldest} (allowed: ${maxDepth}).`,
    ...(depth <= maxDepth
      ? {}
      : {
          fix: `look with \`idemkit dlq peek ${dlq.name}\`, fix the cause, then \`idemkit dlq replay --from ${dlq.name}\``,
        }),
  });
}

function checkRedrive(queue: QueueRef, dlq: QueueRef, checks: Check[]): void {
  const policy = parseRedrive(queue.attributes.RedrivePolicy);
  const ok = policy?.deadLetterTargetArn === dlq.arn;
  checks.push({
    name: 'redrive',
    status: ok ? 'pass' : 'fail',
    detail: ok
      ? `${queue.name} sends messages to ${dlq.name} after ${policy?.maxReceiveCount} receives.`
      : `expected ${queue.name} to redrive into ${dlq.name}, got ${policy?.deadLetterTargetArn ?? 'no redrive policy'}.`,
    ...(ok ? {} : { fix: `set a RedrivePolicy on ${queue.name} with deadLetterTargetArn ${dlq.arn}` }),
  });
  const queueRetention = Number(queue.attributes.MessageRetentionPeriod ?? '345600');
  const dlqRetention = Number(dlq.attributes.MessageRetentionPeriod ?? '345600');
  if (ok) {
    checks.push({
      name: 'dlq retention',
      status: dlqRetention > queueRetention ? 'pass' : 'warn',
      detail: `${dlq.name} keeps messages ${formatDuration(dlqRetention * 1000)}, ${queue.name} ${formatDuration(queueRetention * 1000)}.`,
      ...(dlqRetention > queueRetention
        ? {}
        : {
            fix: `raise ${dlq.name}'s MessageRetentionPeriod above ${queue.name}'s: a standard DLQ keeps the original enqueue time, so messages can expire there early`,
          }),
    });
  }
}
