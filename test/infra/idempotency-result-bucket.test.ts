import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { IdempotencyResultBucket, RESULT_ACTIONS, RESULT_KEY_ACTIONS } from '../../infra/constructs/index.js';

function stackWithRole(): { stack: Stack; role: iam.Role } {
  const stack = new Stack(new App(), 'Test');
  const role = new iam.Role(stack, 'Handler', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
  });
  return { stack, role };
}

/** The statements of every IAM policy in the stack. */
function statements(stack: Stack): Record<string, unknown>[] {
  return Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement,
  );
}

const bucketArn = (stack: Stack, results: IdempotencyResultBucket) => ({
  'Fn::GetAtt': [stack.getLogicalId(results.bucket.node.defaultChild as s3.CfnBucket), 'Arn'],
});

describe('IdempotencyResultBucket keeps large results as long as their records, and no longer', () => {
  const { stack } = stackWithRole();
  new IdempotencyResultBucket(stack, 'Results');
  const template = Template.fromStack(stack);

  it('expires objects under the prefix after the default record lifetime (1 day), and stale uploads too', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          {
            Id: 'expire-with-records',
            Prefix: 'results/',
            Status: 'Enabled',
            ExpirationInDays: 1,
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          },
        ],
      },
    });
  });

  it('encrypts with S3-managed keys, blocks all public access and is owned by the bucket owner', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('is retained when it leaves the stack', () => {
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('passes cdk-nag AwsSolutions, the access-log finding acknowledged with its reason', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    const errors = report.violations.filter((violation) => violation.severity === 'error');
    expect(errors.map((violation) => `${violation.ruleName}: ${violation.description}`)).toEqual([]);
  });
});

describe('IdempotencyResultBucket options', () => {
  it('rounds a record lifetime up to whole days, so no object expires before its record', () => {
    for (const [lifetime, days] of [
      [Duration.hours(2), 1],
      [Duration.hours(25), 2],
      [Duration.days(7), 7],
    ] as const) {
      const { stack } = stackWithRole();
      const results = new IdempotencyResultBucket(stack, 'Results', {
        recordLifetime: lifetime,
        prefix: 'big/',
      });
      expect(results.expirationDays).toBe(days);
      Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: { Rules: [Match.objectLike({ Prefix: 'big/', ExpirationInDays: days })] },
      });
    }
  });

  it('refuses a record lifetime of zero', () => {
    const { stack } = stackWithRole();
    expect(
      () => new IdempotencyResultBucket(stack, 'Results', { recordLifetime: Duration.seconds(0) }),
    ).toThrow(
      /Expected `recordLifetime` of `IdempotencyResultBucket` to be the records' lifetime \(above 0\), got 0 s/,
    );
  });

  it('encrypts with a customer key when one is given', () => {
    const { stack } = stackWithRole();
    const key = new kms.Key(stack, 'Key');
    new IdempotencyResultBucket(stack, 'Results', { encryptionKey: key });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: {
                'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'],
              },
            },
            BucketKeyEnabled: true,
          },
        ],
      },
    });
  });

  it('logs server access to the bucket given, and then needs no acknowledgment', () => {
    const { stack } = stackWithRole();
    const logs = new s3.Bucket(stack, 'Logs');
    new IdempotencyResultBucket(stack, 'Results', { serverAccessLogsBucket: logs });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: {
        DestinationBucketName: { Ref: stack.getLogicalId(logs.node.defaultChild as s3.CfnBucket) },
      },
    });
  });

  it('can be destroyed with the stack when asked', () => {
    const { stack } = stackWithRole();
    new IdempotencyResultBucket(stack, 'Results', { removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(stack).hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
  });
});

describe('IdempotencyResultBucket grants', () => {
  it('grantResults: exactly PutObject and GetObject on the prefix, no List or Delete', () => {
    const { stack, role } = stackWithRole();
    const results = new IdempotencyResultBucket(stack, 'Results');
    results.grantResults(role);
    expect(statements(stack)).toEqual([
      {
        Effect: 'Allow',
        Action: [...RESULT_ACTIONS],
        Resource: { 'Fn::Join': ['', [bucketArn(stack, results), '/results/*']] },
      },
    ]);
  });

  it("grantResultsForOrg: the same actions, only on that org's objects", () => {
    const { stack, role } = stackWithRole();
    const results = new IdempotencyResultBucket(stack, 'Results');
    results.grantResultsForOrg(role, 'acme');
    expect(statements(stack)).toEqual([
      expect.objectContaining({
        Action: [...RESULT_ACTIONS],
        Resource: { 'Fn::Join': ['', [bucketArn(stack, results), '/results/acme#*']] },
      }),
    ]);
    expect(() => results.grantResultsForOrg(role, 'ac#me')).toThrow(/`org`/);
  });

  it("includes the customer key's use when there is one", () => {
    const { stack, role } = stackWithRole();
    const key = new kms.Key(stack, 'Key');
    new IdempotencyResultBucket(stack, 'Results', { encryptionKey: key }).grantResults(role);
    expect(statements(stack)).toContainEqual(
      expect.objectContaining({ Action: [...RESULT_KEY_ACTIONS], Effect: 'Allow' }),
    );
  });

  it("uses the customer key only to write and read objects through S3, and nothing else of the key's", () => {
    const { stack, role } = stackWithRole();
    const key = new kms.Key(stack, 'Key');
    new IdempotencyResultBucket(stack, 'Results', { encryptionKey: key }).grantResults(role);
    const keyStatements = statements(stack).filter((statement) =>
      [statement.Action].flat().some((action) => String(action).startsWith('kms:')),
    );
    expect(keyStatements).toEqual([
      expect.objectContaining({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Effect: 'Allow',
        Condition: {
          StringEquals: {
            'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
          },
        },
      }),
    ]);
  });
});
