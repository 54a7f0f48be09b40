import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { assertValidName } from '../../src/core/keys.js';
import { DEFAULT_RESULT_PREFIX } from '../../src/core/large-result.js';
import { DEFAULTS } from '../../src/core/settings.js';

/** The object actions a door needs: write a large result before its record completes, read it on a replay. */
export const RESULT_ACTIONS = ['s3:PutObject', 's3:GetObject'] as const;

/**
 * What S3 needs from the caller to write (`GenerateDataKey`) and read (`Decrypt`) objects encrypted with a customer
 * key, granted only for requests S3 makes on the caller's behalf (`kms:ViaService`).
 */
export const RESULT_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;

const DAY_SECONDS = 86_400;

/**
 * Props of {@link IdempotencyResultBucket}.
 *
 * @example
 * { recordLifetime: Duration.days(2), encryptionKey: key }
 */
export interface IdempotencyResultBucketProps {
  /**
   * The bucket's name. Give one when something outside the stack must know it.
   * @default - a name CloudFormation generates
   */
  readonly bucketName?: string;
  /**
   * The prefix the objects go under: the `prefix` of `S3ResultStore`. The lifecycle rule and the grants cover it.
   * @default 'results/'
   */
  readonly prefix?: string;
  /**
   * How long the records live (the doors' `expiresAfterSeconds`, `IDEMPOTENCY_TTL_S`): objects expire this long
   * after they were written, rounded up to whole days as S3 lifecycle rules count, so no object ends before its record.
   * @default Duration.days(1) - the doors' default record lifetime (86,400 s)
   */
  readonly recordLifetime?: Duration;
  /**
   * A customer-managed KMS key for the objects; grants then include the key's use.
   * @default - S3-managed keys (SSE-S3)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Where S3 server access logs go.
   * @default - none: the objects are written and read only by the granted functions (CloudTrail data events audit them)
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
  /**
   * What happens to the bucket when it leaves the stack.
   * @default RemovalPolicy.RETAIN - while its records live, an object is the only copy of a completed operation's
   *   answer; a stack rename or an accidental delete must not erase what retries are replayed.
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The S3 bucket `S3ResultStore` keeps results too large for their records in (docs/protocol.md section 3, "Results
 * that do not fit"): objects expire with the records by a lifecycle rule, encrypted, all public access blocked, TLS
 * only, owned by the bucket owner, retained on delete.
 *
 * @example
 * const results = new IdempotencyResultBucket(this, 'Results', { recordLifetime: Duration.days(1) });
 * results.grantResults(handler);
 * handler.addEnvironment('IDEMPOTENCY_RESULTS_BUCKET', results.bucketName);
 */
export class IdempotencyResultBucket extends Construct {
  /** The underlying bucket, for what these props do not cover. */
  readonly bucket: s3.Bucket;
  readonly bucketName: string;
  readonly bucketArn: string;
  /** The prefix the objects go under (`S3ResultStore`'s `prefix`). */
  readonly prefix: string;
  /** After how many days an object expires. */
  readonly expirationDays: number;
  readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: IdempotencyResultBucketProps = {}) {
    super(scope, id);
    this.prefix = props.prefix ?? DEFAULT_RESULT_PREFIX;
    const lifetime = props.recordLifetime ?? Duration.seconds(DEFAULTS.expiresAfterSeconds);
    const seconds = lifetime.toSeconds();
    if (!Token.isUnresolved(seconds) && !(seconds > 0)) {
      throw new Error(
        `Expected \`recordLifetime\` of \`IdempotencyResultBucket\` to be the records' lifetime (above 0), got ${seconds} s.`,
      );
    }
    this.expirationDays = Math.max(1, Math.ceil(seconds / DAY_SECONDS));
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...(props.bucketName === undefined ? {} : { bucketName: props.bucketName }),
      ...(props.encryptionKey === undefined
        ? { encryption: s3.BucketEncryption.S3_MANAGED }
        : {
            encryption: s3.BucketEncryption.KMS,
            encryptionKey: props.encryptionKey,
            bucketKeyEnabled: true,
          }),
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      lifecycleRules: [
        {
          id: 'expire-with-records',
          prefix: this.prefix,
          // The object is written before its record completes, and the record's lifetime starts no later: an object
          // kept this many days from its creation outlives its record.
          expiration: Duration.days(this.expirationDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      ...(props.serverAccessLogsBucket === undefined
        ? {}
        : {
            serverAccessLogsBucket: props.serverAccessLogsBucket,
            serverAccessLogsPrefix: 'idemkit-results/',
          }),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    if (props.serverAccessLogsBucket === undefined) {
      Validations.of(this.bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Only the functions granted write and read these objects, each under its own record key; pass `serverAccessLogsBucket` to log every request, or audit them with CloudTrail data events.',
      });
    }
    this.bucketName = this.bucket.bucketName;
    this.bucketArn = this.bucket.bucketArn;
    if (props.encryptionKey !== undefined) this.encryptionKey = props.encryptionKey;
  }

  /**
   * Lets `grantee` write and read any large result: exactly `s3:PutObject` and `s3:GetObject` on the prefix (and the
   * key's use when there is one). Without `s3:ListBucket`, a missing object reads as access denied: the same
   * omitted-body replay.
   *
   * @example
   * results.grantResults(ordersFunction);
   */
  grantResults(grantee: iam.IGrantable): iam.Grant {
    return this.#grant(grantee, `${this.bucketArn}/${this.prefix}*`);
  }

  /**
   * Like {@link IdempotencyResultBucket.grantResults}, fenced to one tenant: the objects under `<prefix><org>#`, the
   * record key prefix every result of that org has.
   *
   * @example
   * results.grantResultsForOrg(acmeWorker, 'acme');
   */
  grantResultsForOrg(grantee: iam.IGrantable, org: string): iam.Grant {
    if (!Token.isUnresolved(org)) assertValidName('org', org);
    return this.#grant(grantee, `${this.bucketArn}/${this.prefix}${org}#*`);
  }

  #grant(grantee: iam.IGrantable, objects: string): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: [...RESULT_ACTIONS],
      resourceArns: [objects],
    });
    if (this.encryptionKey === undefined) return grant;
    return grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: [...RESULT_KEY_ACTIONS],
        resourceArns: [this.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}
