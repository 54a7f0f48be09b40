import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { IdempotencyTable, type IdempotencyTableProps } from '../../infra/constructs/index.js';

function synth(props: IdempotencyTableProps, region = 'us-east-1') {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'S', { env: { account: '123456789012', region } });
  const table = new IdempotencyTable(stack, 'Idempotency', { tableName: 'idempotency', ...props });
  return { stack, table, template: Template.fromStack(stack) };
}

describe('IdempotencyTable with multi-Region strong consistency (MRSC)', () => {
  const { stack, table, template } = synth({ replicaRegions: ['us-east-2', 'us-west-2'] });

  it('is a global table in three Regions with strong consistency, by default', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      MultiRegionConsistency: 'STRONG',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    });
    const [global] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
    const regions = ((global?.Properties.Replicas ?? []) as { Region: string }[])
      .map((replica) => replica.Region)
      .sort();
    expect(regions).toEqual(['us-east-1', 'us-east-2', 'us-west-2']);
    expect(Object.keys(template.findResources('AWS::DynamoDB::Table'))).toHaveLength(0);
  });

  it('has no TTL (MRSC has none) and schedules the sweep instead, hourly', () => {
    const [global] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
    expect(global?.Properties.TimeToLiveSpecification).toBeUndefined();
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ IDEMKIT_SWEEP_TABLE: Match.anyValue(), IDEMKIT_SWEEP_RATE: '50' }),
      },
    });
    expect(table.sweep).toBeDefined();
  });

  it('lets the sweep Scan and DeleteItem, nothing else', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [Match.objectLike({ Action: ['dynamodb:Scan', 'dynamodb:DeleteItem'] })] },
    });
  });

  it('grants records on every replica, not only its own Region, fenced per org too', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const granted = new Stack(app, 'G', { env: { account: '123456789012', region: 'us-east-1' } });
    const global = new IdempotencyTable(granted, 'T', {
      tableName: 'idempotency',
      replicaRegions: ['us-east-2', 'us-west-2'],
    });
    const all = new iam.Role(granted, 'All', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const acme = new iam.Role(granted, 'Acme', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    global.grantRecords(all);
    global.grantRecordsForOrg(acme, 'acme');
    const policies = Object.values(Template.fromStack(granted).findResources('AWS::IAM::Policy'));
    const policyOf = (role: iam.Role) =>
      JSON.stringify(
        policies.find((policy) =>
          JSON.stringify(policy.Properties.Roles).includes(
            granted.getLogicalId(role.node.defaultChild as iam.CfnRole),
          ),
        ),
      );
    for (const role of [all, acme]) {
      const text = policyOf(role);
      for (const region of ['us-east-2', 'us-west-2']) expect(text).toContain(`:dynamodb:${region}:`);
      expect(text).toContain('dynamodb:PutItem');
      expect(text).not.toContain('dynamodb:Scan');
    }
    expect(policyOf(acme)).toContain('acme#*');
  });

  it('passes cdk-nag AwsSolutions', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    const errors = report.violations.filter((violation) => violation.severity === 'error');
    expect(errors.map((violation) => `${violation.ruleName}: ${violation.description}`)).toEqual([]);
  });

  it('takes two Regions and a witness', () => {
    const { template: witnessed } = synth({ replicaRegions: ['us-east-2'], witnessRegion: 'us-west-2' });
    witnessed.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      MultiRegionConsistency: 'STRONG',
      GlobalTableWitnesses: [{ Region: 'us-west-2' }],
    });
  });

  it('runs the sweep as often as `sweepEvery` says', () => {
    const { template: often } = synth(
      { replicaRegions: ['eu-west-2', 'eu-west-3'], sweepEvery: Duration.minutes(15) },
      'eu-west-1',
    );
    often.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
  });
});

describe('IdempotencyTable refuses what would not keep the promise', () => {
  it('eventual consistency across Regions, unless the user says why', () => {
    expect(() => synth({ replicaRegions: ['eu-west-1'], multiRegionConsistency: 'eventual' })).toThrow(
      /two Regions can both win the same claim \(last writer wins\) and run the operation twice.*allowEventualConsistency/,
    );
    const { template } = synth({
      replicaRegions: ['eu-west-1'],
      multiRegionConsistency: 'eventual',
      allowEventualConsistency: { reason: 'Route 53 failover: one Region takes every request at a time.' },
    });
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      MultiRegionConsistency: 'EVENTUAL',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    expect(Object.keys(template.findResources('AWS::Events::Rule'))).toHaveLength(0);
  });

  it('MRSC outside one supported Region set', () => {
    expect(() => synth({ replicaRegions: ['us-east-2', 'eu-west-1'] })).toThrow(/one supported Region set/);
    expect(() => synth({ replicaRegions: ['us-east-2', 'us-west-2'] }, 'sa-east-1')).toThrow(
      /one supported Region set/,
    );
  });

  it('MRSC with other than three Regions or two and a witness', () => {
    expect(() => synth({ replicaRegions: ['us-east-2'] })).toThrow(
      /three Regions, or two and a `witnessRegion`, got 2/,
    );
    expect(() => synth({ replicaRegions: ['eu-west-2', 'eu-west-3', 'eu-central-1'] }, 'eu-west-1')).toThrow(
      /got 4/,
    );
    expect(() => synth({ replicaRegions: ['us-east-2', 'us-west-2'], witnessRegion: 'us-west-2' })).toThrow(
      /once/,
    );
  });

  it('replicas in a stack without an explicit Region', () => {
    const stack = new Stack(new App(), 'Agnostic');
    expect(() => new IdempotencyTable(stack, 'T', { replicaRegions: ['us-east-2', 'us-west-2'] })).toThrow(
      /explicit Region/,
    );
  });

  it("the stack's own Region among the replicas", () => {
    expect(() => synth({ replicaRegions: ['us-east-1', 'us-east-2'] })).toThrow(/besides the stack's own/);
  });
});
