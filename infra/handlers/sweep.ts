/**
 * The scheduled sweep: deletes expired records from an idempotency table that has no TTL (a multi-Region
 * strongly consistent global table), with the same code as `idemkit records sweep`. Deployed by
 * `IdempotencySweep` (and by `IdempotencyTable` when TTL is unavailable) on an EventBridge schedule.
 *
 * Environment: `IDEMKIT_SWEEP_TABLE`, `IDEMKIT_SWEEP_RATE` (deletes per second, default 50) and
 * `IDEMKIT_SWEEP_ATTRIBUTES` (the table's attribute names as JSON, as `DynamoDBStore` takes them; default idemkit's). It stops
 * starting pages 10 s before the function's timeout; the next run goes on where the table still holds some.
 *
 * @example
 * aws lambda invoke --function-name <sweep> /dev/stdout
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import type { AttributeNames } from '../../src/stores/dynamodb-item.js';
import { type SweepSummary, sweepExpiredRecords } from '../../src/sweep/index.js';

const REPORT_MS = 10_000;
const tableName = process.env.IDEMKIT_SWEEP_TABLE ?? '';
const rate = Number(process.env.IDEMKIT_SWEEP_RATE ?? '50');
if (tableName === '') {
  throw new Error(
    'Expected the environment variable `IDEMKIT_SWEEP_TABLE` to be set, got nothing; the stack sets it.',
  );
}
if (!(rate > 0)) {
  throw new Error(
    `Expected \`IDEMKIT_SWEEP_RATE\` to be a number of deletes per second above 0, got ${JSON.stringify(process.env.IDEMKIT_SWEEP_RATE)}.`,
  );
}
const attributes = JSON.parse(process.env.IDEMKIT_SWEEP_ATTRIBUTES ?? '{}') as AttributeNames;
const client = new DynamoDBClient({});
const logger = new Logger({ serviceName: 'idemkit-sweep' });

/** One sweep run; the summary holds counts only, never a key or a record. */
export async function handler(_event: unknown, context: Context): Promise<SweepSummary> {
  const summary = await sweepExpiredRecords({
    client,
    tableName,
    attributes,
    maxDeletesPerSecond: rate,
    maxDurationMs: Math.max(0, context.getRemainingTimeInMillis() - REPORT_MS),
  });
  logger.info('sweep finished', { ...summary, tableName });
  return summary;
}
