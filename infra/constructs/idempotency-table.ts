import { RemovalPolicy, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { assertValidName } from '../../src/core/keys.js';
import type { AttributeNames } from '../../src/stores/dynamodb-item.js';
import {
  buildGlobalTable,
  checkGlobalTableProps,
  type GlobalTableProps,
  replicaArn,
} from './global-table.js';
import { IdempotencySweep } from './idempotency-sweep.js';

/**
 * The item actions one idempotent invocation needs: claim (Put), read on wait (Get), complete and renew
 * (Update), release (Delete). No Scan or Query: a handler only ever touches the record of its own key.
 */
export const RECORD_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
] as const;

/** What DynamoDB needs from the caller to read and write items encrypted with a customer key. */
export const RECORD_KEY_ACTIONS = [
  'kms:Decrypt',
  'kms:DescribeKey',
  'kms:Encrypt',
  'kms:ReEncrypt*',
  'kms:GenerateDataKey*',
] as const;

/**
 * Props of {@link IdempotencyTable}.
 *
 * @example
 * { tableName: 'idemkit-prod-idempotency', encryptionKey: key }
 */
export interface IdempotencyTableProps extends GlobalTableProps {
  /**
   * The table's name. Give one when something outside the stack (a local playground, a CLI) must know it.
   * @default - a name CloudFormation generates
   */
  readonly tableName?: string;
  /**
   * What happens to the table when it leaves the stack.
   * @default RemovalPolicy.RETAIN - the records are what stops a retried payment from running twice; a
   *   stack rename or an accidental delete must not erase them while clients may still retry.
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A customer-managed KMS key for the records; grants then include the key's use.
   * @default - the AWS-managed key for DynamoDB (`alias/aws/dynamodb`)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Point-in-time recovery, to restore the records after a bad write or a bad deploy.
   * @default true
   */
  readonly pointInTimeRecovery?: boolean;
  /**
   * Attribute names by record field, as `DynamoDBStore`'s `attributes` takes them: `pk` names the partition key,
   * `expiresAt` the TTL attribute. Pass the same object to the store.
   * @default - idemkit's schema: partition key `pk`, TTL on `expiresAt`
   */
  readonly attributes?: AttributeNames;
  /**
   * The sort key attribute (String), for a table that also holds other entities (single-table design); the
   * store's `sortKey.value` says what idemkit's records carry in it.
   * @default - no sort key
   */
  readonly sortKey?: string;
}

/**
 * The grants every idempotency table offers, built here or imported with
 * {@link IdempotencyTable.fromTableName}.
 *
 * @example
 * const table: IIdempotencyTable = IdempotencyTable.fromTableName(this, 'Table', 'idempotency');
 */
export interface IIdempotencyTable {
  /** The table's name: pass it to `new DynamoDBStore({ tableName })`. */
  readonly tableName: string;
  /** The table's ARN. */
  readonly tableArn: string;
  /** The customer-managed key, when there is one. */
  readonly encryptionKey?: kms.IKey;
  /**
   * Lets `grantee` read and write any record: exactly `GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`
   * (and the key's use when there is one).
   *
   * @example
   * table.grantRecords(ordersFunction);
   */
  grantRecords(grantee: iam.IGrantable): iam.Grant;
  /**
   * Like {@link IIdempotencyTable.grantRecords}, fenced to one tenant: `dynamodb:LeadingKeys` must match
   * `<org>#*`, the prefix every record `pk` of that org has (docs/protocol.md section 2).
   *
   * @example
   * table.grantRecordsForOrg(acmeWorker, 'acme');
   */
  grantRecordsForOrg(grantee: iam.IGrantable, org: string): iam.Grant;
}

/**
 * The DynamoDB table idemkit's `DynamoDBStore` expects: partition key `pk` (String), TTL on `expiresAt`,
 * on-demand billing, point-in-time recovery, retained on delete; or the same with the attribute names and sort key
 * of a single-table design (`attributes`, `sortKey`).
 *
 * @example
 * const table = new IdempotencyTable(this, 'Idempotency');
 * table.grantRecords(handler);
 * handler.addEnvironment('IDEMPOTENCY_TABLE', table.tableName);
 */
export class IdempotencyTable extends Construct implements IIdempotencyTable {
  /**
   * An existing table, by name, to grant on. Pass the key the table is encrypted with, if it is a
   * customer-managed one, so that grants include its use.
   *
   * @example
   * const table = IdempotencyTable.fromTableName(this, 'Shared', 'idempotency');
   */
  static fromTableName(
    scope: Construct,
    id: string,
    tableName: string,
    encryptionKey?: kms.IKey,
  ): IIdempotencyTable {
    const table = dynamodb.Table.fromTableAttributes(scope, id, {
      tableName,
      ...(encryptionKey === undefined ? {} : { encryptionKey }),
    });
    return new ImportedIdempotencyTable(table.tableName, table.tableArn, encryptionKey);
  }

  /** The underlying table, for what these props do not cover (alarms, a resource policy); a `TableV2` with replicas. */
  readonly table: dynamodb.Table | dynamodb.TableV2;
  readonly tableName: string;
  readonly tableArn: string;
  readonly encryptionKey?: kms.IKey;
  /** The partition key attribute: it holds `<org>#<scope>#<digest>`, so `grantRecordsForOrg` fences on it. */
  readonly partitionKeyName: string;
  /** The sort key attribute, when the table has one. */
  readonly sortKeyName?: string;
  /** The TTL attribute (the record field `expiresAt`). */
  readonly timeToLiveAttribute: string;
  /** The scheduled sweep, on a multi-Region strongly consistent table (no TTL there). */
  readonly sweep?: IdempotencySweep;
  readonly #replicaArns: readonly string[] = [];

  constructor(scope: Construct, id: string, props: IdempotencyTableProps = {}) {
    super(scope, id);
    this.partitionKeyName = props.attributes?.pk ?? 'pk';
    this.timeToLiveAttribute = props.attributes?.expiresAt ?? 'expiresAt';
    if (props.sortKey !== undefined) {
      if (props.sortKey.trim() === '' || props.sortKey === this.partitionKeyName) {
        throw new Error(
          `Expected \`sortKey\` of \`IdempotencyTable\` to be an attribute name other than the partition key, got ${JSON.stringify(props.sortKey)}.`,
        );
      }
      this.sortKeyName = props.sortKey;
    }
    if ((props.replicaRegions ?? []).length > 0) {
      // Past one Region (docs/protocol.md section 11): a global table, MRSC unless eventual is accepted with a reason.
      const mode = checkGlobalTableProps(this, props);
      const global = buildGlobalTable(
        this,
        { ...props, partitionKeyName: this.partitionKeyName, timeToLiveAttribute: this.timeToLiveAttribute },
        mode,
      );
      this.table = global;
      this.tableName = global.tableName;
      this.tableArn = global.tableArn;
      this.#replicaArns = (props.replicaRegions ?? []).map((region) =>
        replicaArn(this, global.tableName, region),
      );
      if (mode === 'strong') {
        this.sweep = new IdempotencySweep(this, 'Sweep', {
          tableName: global.tableName,
          tableArn: global.tableArn,
          every: props.sweepEvery,
          attributes: props.attributes,
        });
      }
      return;
    }
    this.table = new dynamodb.Table(this, 'Table', {
      ...(props.tableName === undefined ? {} : { tableName: props.tableName }),
      partitionKey: { name: this.partitionKeyName, type: dynamodb.AttributeType.STRING },
      ...(props.sortKey === undefined
        ? {}
        : { sortKey: { name: props.sortKey, type: dynamodb.AttributeType.STRING } }),
      // Readers compare `expiresAt` with now; TTL only reclaims the space, up to ~48 h late.
      timeToLiveAttribute: this.timeToLiveAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: props.pointInTimeRecovery ?? true,
      },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      ...(props.encryptionKey === undefined
        ? { encryption: dynamodb.TableEncryption.AWS_MANAGED }
        : { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }),
    });
    this.tableName = this.table.tableName;
    this.tableArn = this.table.tableArn;
    if (props.encryptionKey !== undefined) this.encryptionKey = props.encryptionKey;
  }

  grantRecords(grantee: iam.IGrantable): iam.Grant {
    // A global table: the same actions on every replica, since a function may run in any of its Regions.
    return this.#replicaArns.reduce(
      (grant, arn) => grant.combine(grantOnRecords(grantee, arn, undefined)),
      grantOnRecords(grantee, this.tableArn, this.encryptionKey),
    );
  }

  grantRecordsForOrg(grantee: iam.IGrantable, org: string): iam.Grant {
    return this.#replicaArns.reduce(
      (grant, arn) => grant.combine(grantOnRecordsForOrg(grantee, arn, undefined, org)),
      grantOnRecordsForOrg(grantee, this.tableArn, this.encryptionKey, org),
    );
  }
}

class ImportedIdempotencyTable implements IIdempotencyTable {
  constructor(
    readonly tableName: string,
    readonly tableArn: string,
    readonly encryptionKey?: kms.IKey,
  ) {}

  grantRecords(grantee: iam.IGrantable): iam.Grant {
    return grantOnRecords(grantee, this.tableArn, this.encryptionKey);
  }

  grantRecordsForOrg(grantee: iam.IGrantable, org: string): iam.Grant {
    return grantOnRecordsForOrg(grantee, this.tableArn, this.encryptionKey, org);
  }
}

function grantOnRecords(grantee: iam.IGrantable, tableArn: string, key: kms.IKey | undefined): iam.Grant {
  const grant = iam.Grant.addToPrincipal({ grantee, actions: [...RECORD_ACTIONS], resourceArns: [tableArn] });
  return key === undefined ? grant : grant.combine(key.grant(grantee, ...RECORD_KEY_ACTIONS));
}

function grantOnRecordsForOrg(
  grantee: iam.IGrantable,
  tableArn: string,
  key: kms.IKey | undefined,
  org: string,
): iam.Grant {
  // A token (a parameter, an import) can only be checked at deploy time; a literal is checked now.
  if (!Token.isUnresolved(org)) assertValidName('org', org);
  const fenced = iam.Grant.addToPrincipal({
    grantee,
    actions: [...RECORD_ACTIONS],
    resourceArns: [tableArn],
    // Every item action carries its partition key, so `ForAllValues` is never vacuously true here.
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${org}#*`] } },
  });
  return key === undefined ? fenced : fenced.combine(key.grant(grantee, ...RECORD_KEY_ACTIONS));
}
