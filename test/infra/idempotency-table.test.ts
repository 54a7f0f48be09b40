import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { IdempotencyTable, RECORD_ACTIONS, RECORD_KEY_ACTIONS } from '../../infra/constructs/index.js';

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

describe('IdempotencyTable provisions the table DynamoDBStore expects', () => {
  const { stack } = stackWithRole();
  new IdempotencyTable(stack, 'Idempotency', { tableName: 'idempotency' });
  const template = Template.fromStack(stack);

  it('has one String partition key `pk` and no sort key', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    });
  });

  it('expires records through TTL on `expiresAt`', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('bills on demand', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { BillingMode: 'PAY_PER_REQUEST' });
  });

  it('turns point-in-time recovery on', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('is retained when it leaves the stack', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('encrypts with the AWS-managed key by default', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: Match.absent(), KMSMasterKeyId: Match.absent() },
    });
  });

  it('keeps the name it was given', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'idempotency' });
  });
});

describe('IdempotencyTable options', () => {
  it('encrypts with a customer key when one is given', () => {
    const { stack } = stackWithRole();
    const key = new kms.Key(stack, 'Key');
    new IdempotencyTable(stack, 'Idempotency', { encryptionKey: key });
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] },
      },
    });
  });

  it('can be destroyed with the stack when asked', () => {
    const { stack } = stackWithRole();
    new IdempotencyTable(stack, 'Idempotency', { removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(stack).hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
});

describe('IdempotencyTable for a single-table design', () => {
  it('takes the partition key and TTL names from `attributes` and adds the String sort key', () => {
    const { stack } = stackWithRole();
    const table = new IdempotencyTable(stack, 'Single', {
      attributes: { pk: 'PK', expiresAt: 'ttl', status: 'state' },
      sortKey: 'SK',
    });
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'PK', KeyType: 'HASH' },
        { AttributeName: 'SK', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'PK', AttributeType: 'S' },
        { AttributeName: 'SK', AttributeType: 'S' },
      ]),
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
    expect([table.partitionKeyName, table.sortKeyName, table.timeToLiveAttribute]).toEqual([
      'PK',
      'SK',
      'ttl',
    ]);
  });

  it('still fences a tenant on its partition key prefix, whatever that key is called', () => {
    const { stack, role } = stackWithRole();
    new IdempotencyTable(stack, 'Single', { attributes: { pk: 'PK' }, sortKey: 'SK' }).grantRecordsForOrg(
      role,
      'acme',
    );
    expect(statements(stack)).toEqual([
      expect.objectContaining({
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['acme#*'] } },
      }),
    ]);
  });

  it('refuses a sort key that is the partition key', () => {
    const { stack } = stackWithRole();
    expect(() => new IdempotencyTable(stack, 'Bad', { attributes: { pk: 'PK' }, sortKey: 'PK' })).toThrow(
      /Expected `sortKey` of `IdempotencyTable` to be an attribute name other than the partition key, got "PK"\./,
    );
  });
});

describe('IdempotencyTable grants', () => {
  it('grantRecords grants exactly GetItem, PutItem, UpdateItem and DeleteItem on the table', () => {
    const { stack, role } = stackWithRole();
    const table = new IdempotencyTable(stack, 'Idempotency');
    table.grantRecords(role);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IdempotencyTable'), 'Arn'] },
          },
        ],
      },
    });
  });

  it('grantRecords with a customer key also grants the key use DynamoDB needs, and nothing more', () => {
    const { stack, role } = stackWithRole();
    const table = new IdempotencyTable(stack, 'Idempotency', { encryptionKey: new kms.Key(stack, 'Key') });
    table.grantRecords(role);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Action: [...RECORD_ACTIONS] }),
          {
            Effect: 'Allow',
            Action: [...RECORD_KEY_ACTIONS],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] },
          },
        ],
      },
    });
  });

  it('grantRecordsForOrg fences the same actions to partition keys starting with `<org>#`', () => {
    const { stack, role } = stackWithRole();
    const table = new IdempotencyTable(stack, 'Idempotency');
    table.grantRecordsForOrg(role, 'acme');
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: [...RECORD_ACTIONS],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IdempotencyTable'), 'Arn'] },
            Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['acme#*'] } },
          },
        ],
      },
    });
  });

  it('grantRecordsForOrg rejects an org that cannot lead a `pk`', () => {
    const { stack, role } = stackWithRole();
    const table = new IdempotencyTable(stack, 'Idempotency');
    expect(() => table.grantRecordsForOrg(role, 'acme#evil')).toThrow(
      /Expected `org` to be printable.* no `#`/,
    );
    expect(() => table.grantRecordsForOrg(role, '*')).toThrow(/no `#`, `\*`/);
    expect(() => table.grantRecordsForOrg(role, '')).toThrow(
      /Expected `org` to be 1 to 128 characters, got 0/,
    );
    expect(statements(stack)).toEqual([]);
  });

  it('fromTableName grants the same exact actions on the named table', () => {
    const { stack, role } = stackWithRole();
    IdempotencyTable.fromTableName(stack, 'Shared', 'shared-idempotency').grantRecords(role);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: [...RECORD_ACTIONS],
            Resource: {
              'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':table/shared-idempotency$')])],
            },
          },
        ],
      },
    });
  });

  it('fromTableName with its key grants the key use too', () => {
    const { stack, role } = stackWithRole();
    const key = new kms.Key(stack, 'Key');
    IdempotencyTable.fromTableName(stack, 'Shared', 'shared-idempotency', key).grantRecordsForOrg(
      role,
      'acme',
    );
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['acme#*'] } },
          }),
          Match.objectLike({ Action: [...RECORD_KEY_ACTIONS] }),
        ],
      },
    });
  });
});
