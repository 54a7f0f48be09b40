import { type Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/**
 * The Region sets multi-Region strong consistency (MRSC) supports: every replica and the witness must be in one
 * (DynamoDB developer guide, "Multi-Region strong consistency", GA June 2025).
 */
export const MRSC_REGION_SETS: Readonly<Record<string, readonly string[]>> = {
  US: ['us-east-1', 'us-east-2', 'us-west-2'],
  EU: ['eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1'],
  AP: ['ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3'],
};

/** How replicas of an idempotency table agree. */
export type MultiRegionConsistencyMode = 'strong' | 'eventual';

/** The multi-Region props of `IdempotencyTable` (docs/protocol.md section 11). */
export interface GlobalTableProps {
  /**
   * Regions with a replica besides the stack's own; the table becomes a global table
   * (`AWS::DynamoDB::GlobalTable`), and the stack needs an explicit Region.
   * @default [] - one Region
   */
  readonly replicaRegions?: readonly string[];
  /**
   * How replicas agree: `strong` (MRSC: a claim holds across Regions; no TTL, so the sweep is scheduled) or
   * `eventual` (refused unless `allowEventualConsistency` says why).
   * @default 'strong'
   */
  readonly multiRegionConsistency?: MultiRegionConsistencyMode;
  /**
   * An MRSC witness Region of the same Region set, with exactly one replica Region besides the stack's.
   * @default - no witness: three Regions hold replicas
   */
  readonly witnessRegion?: string;
  /**
   * Accept eventual consistency across Regions, and say why it is safe (every idempotent request is routed
   * to one Region): otherwise two Regions can both win one claim and run the operation twice.
   * @default - refused
   */
  readonly allowEventualConsistency?: { readonly reason: string };
  /**
   * How often the sweep runs on an MRSC table (no TTL).
   * @default Duration.hours(1)
   */
  readonly sweepEvery?: Duration;
}

/**
 * Checks the multi-Region props and says what is wrong and how to fix it. MRSC: one supported Region set, three
 * Regions, or two and a witness. Eventual consistency across Regions only with a stated reason: two Regions can
 * both win the same conditional claim (last writer wins), so the operation can run twice, silently.
 */
export function checkGlobalTableProps(scope: Construct, props: GlobalTableProps): MultiRegionConsistencyMode {
  const replicas = props.replicaRegions ?? [];
  const mode = props.multiRegionConsistency ?? 'strong';
  const home = Stack.of(scope).region;
  if (Token.isUnresolved(home)) {
    throw new Error(
      "Expected the stack of an `IdempotencyTable` with `replicaRegions` to have an explicit Region (`env: { region }`), got none; a global table's Regions are checked when the stack is synthesized.",
    );
  }
  if (replicas.includes(home)) {
    throw new Error(
      `Expected \`replicaRegions\` to list the Regions besides the stack's own (${home}), got ${home} among them; leave it out.`,
    );
  }
  if (mode === 'eventual') {
    if (props.witnessRegion !== undefined) {
      throw new Error(
        "Expected no `witnessRegion` with `multiRegionConsistency: 'eventual'`; a witness is only for MRSC.",
      );
    }
    if ((props.allowEventualConsistency?.reason ?? '').trim() === '') {
      throw new Error(
        "Expected `multiRegionConsistency: 'strong'` for an idempotency table in several Regions, got 'eventual' without `allowEventualConsistency`. With eventual consistency two Regions can both win the same claim (last writer wins) and run the operation twice, silently; use 'strong' (MRSC), or pass `allowEventualConsistency: { reason }` if every operation is routed to one Region.",
      );
    }
    return mode;
  }
  const regions = [home, ...replicas];
  const witness = props.witnessRegion;
  const set = Object.entries(MRSC_REGION_SETS).find(([, members]) => members.includes(home));
  const all = witness === undefined ? regions : [...regions, witness];
  if (set === undefined || !all.every((region) => set[1].includes(region))) {
    throw new Error(
      `Expected the Regions of an MRSC table to be in one supported Region set (${Object.entries(
        MRSC_REGION_SETS,
      )
        .map(([name, members]) => `${name}: ${members.join(', ')}`)
        .join('; ')}), got ${all.join(', ')}.`,
    );
  }
  if (new Set(all).size !== all.length) {
    throw new Error(`Expected every Region of an MRSC table to appear once, got ${all.join(', ')}.`);
  }
  const shapeOk = witness === undefined ? regions.length === 3 : regions.length === 2;
  if (!shapeOk) {
    throw new Error(
      `Expected an MRSC table in three Regions, or two and a \`witnessRegion\`, got ${regions.length} Region(s)${witness === undefined ? '' : ' and a witness'} (${all.join(', ')}).`,
    );
  }
  return mode;
}

/** The idempotency table as a global table (`AWS::DynamoDB::GlobalTable`); MRSC has no TTL. */
export function buildGlobalTable(
  scope: Construct,
  props: GlobalTableProps & {
    readonly partitionKeyName: string;
    readonly timeToLiveAttribute: string;
    readonly sortKey?: string;
    readonly tableName?: string;
    readonly removalPolicy?: RemovalPolicy;
    readonly pointInTimeRecovery?: boolean;
    readonly encryptionKey?: kms.IKey;
  },
  mode: MultiRegionConsistencyMode,
): dynamodb.TableV2 {
  if (props.encryptionKey !== undefined) {
    throw new Error(
      'Expected no `encryptionKey` with `replicaRegions`: each replica needs its own key in its Region, which `IdempotencyTable` does not take yet; use the AWS-managed key or build the table yourself.',
    );
  }
  if (props.sortKey !== undefined && mode === 'strong') {
    throw new Error(
      "Expected no `sortKey` with `multiRegionConsistency: 'strong'`: the scheduled sweep deletes by idemkit's own key and cannot know the sort key value your store writes; deploy `IdempotencySweep` yourself, or use a table of idemkit's own.",
    );
  }
  return new dynamodb.TableV2(scope, 'GlobalTable', {
    ...(props.tableName === undefined ? {} : { tableName: props.tableName }),
    partitionKey: { name: props.partitionKeyName, type: dynamodb.AttributeType.STRING },
    ...(props.sortKey === undefined
      ? {}
      : { sortKey: { name: props.sortKey, type: dynamodb.AttributeType.STRING } }),
    // MRSC tables do not support TTL: the sweep deletes expired records instead (docs/protocol.md section 11).
    ...(mode === 'eventual' ? { timeToLiveAttribute: props.timeToLiveAttribute } : {}),
    billing: dynamodb.Billing.onDemand(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery ?? true },
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
    replicas: (props.replicaRegions ?? []).map((region) => ({ region })),
    multiRegionConsistency:
      mode === 'strong' ? dynamodb.MultiRegionConsistency.STRONG : dynamodb.MultiRegionConsistency.EVENTUAL,
    ...(props.witnessRegion === undefined ? {} : { witnessRegion: props.witnessRegion }),
  });
}

/** The ARN of the table's replica in `region` (global tables keep one name everywhere). */
export function replicaArn(scope: Construct, tableName: string, region: string): string {
  return Stack.of(scope).formatArn({
    service: 'dynamodb',
    region,
    resource: 'table',
    resourceName: tableName,
  });
}
