import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { OrdersEdgeStack } from '../../infra/stacks/orders-edge-stack.js';
import { OrdersStack } from '../../infra/stacks/orders-stack.js';
import { LAYOUT_NAMES, LAYOUTS, layoutSettings, STAGES } from '../../infra/stages.js';

// The reference app's two layouts past one Region, as `npm run synth -- --context layout=<name>` builds them.
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const global = new OrdersStack(app, 'Global', {
  settings: STAGES.prod,
  layout: LAYOUTS.global,
  env: { region: LAYOUTS.global.homeRegion },
});
const edgeHome = new OrdersStack(app, 'EdgeHome', {
  settings: STAGES.stage,
  layout: LAYOUTS.edge,
  env: { region: LAYOUTS.edge.homeRegion },
});
const edge = new OrdersEdgeStack(app, 'Edge', {
  settings: STAGES.stage,
  layout: LAYOUTS.edge,
  env: { region: 'us-east-1' },
});

describe('the global layout', () => {
  const template = Template.fromStack(global);

  it('puts the table in three US Regions with strong consistency and no TTL', () => {
    const [table] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
    expect(table?.Properties.MultiRegionConsistency).toBe('STRONG');
    expect(((table?.Properties.Replicas ?? []) as { Region: string }[]).map((r) => r.Region).sort()).toEqual([
      'us-east-1',
      'us-east-2',
      'us-west-2',
    ]);
    expect(table?.Properties.TimeToLiveSpecification).toBeUndefined();
  });

  it('schedules the sweep on the table', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ IDEMKIT_SWEEP_TABLE: Match.anyValue() }) },
    });
  });

  it('lets both handlers touch records in every replica', () => {
    const text = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    for (const region of ['us-east-2', 'us-west-2']) expect(text).toContain(`:dynamodb:${region}:`);
  });
});

describe('the edge layout', () => {
  it('adds edgeIdempotency on origin request, body included, reading the home table in every Region', () => {
    const template = Template.fromStack(edge);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        DefaultCacheBehavior: Match.objectLike({
          LambdaFunctionAssociations: [Match.objectLike({ EventType: 'origin-request', IncludeBody: true })],
        }),
      },
    });
    const text = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(text).toContain(`table/${STAGES.stage.table.tableName}`);
  });
});

describe('cdk-nag AwsSolutions over every stack of both layouts', () => {
  it.each([
    ['global', global],
    ['edge home', edgeHome],
    ['edge', edge],
  ] as const)('finds no error left unacknowledged in %s', (_name, stack) => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    const errors = report.violations.filter((violation) => violation.severity === 'error');
    expect(errors.map((violation) => `${violation.ruleName}: ${violation.description}`)).toEqual([]);
  });
});

describe('infra/stages.ts layouts', () => {
  it('names every layout and refuses an unknown one with the list', () => {
    expect(LAYOUT_NAMES.map((name) => layoutSettings(name).layout)).toEqual([...LAYOUT_NAMES]);
    expect(() => layoutSettings('mars')).toThrow(/one of single-region, global, edge, got "mars"/);
  });
});
