import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { IdempotencyEdgeFunction } from '../../infra/constructs/index.js';
import { OrdersEdgeStack } from '../../infra/stacks/orders-edge-stack.js';
import { LAYOUTS, STAGES } from '../../infra/stages.js';

const entry = new URL('../../infra/handlers/orders-edge.ts', import.meta.url).pathname;

// One bundled synth: esbuild runs here, offline, with the layout's constants compiled in.
const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'idemkit-edge-')) });
const stack = new OrdersEdgeStack(app, 'Edge', {
  settings: STAGES.prod,
  layout: LAYOUTS.edge,
  originDomainName: 'api.example.com',
  env: { region: 'us-east-1' },
});
const template = Template.fromStack(stack);

describe('OrdersEdgeStack: edgeIdempotency on the orders distribution', () => {
  it('associates the function with the default behaviour on origin request, body included', () => {
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        DefaultCacheBehavior: Match.objectLike({
          AllowedMethods: Match.arrayWith(['PATCH', 'POST']),
          // CachingDisabled: a POST is never answered from CloudFront's cache, only by the edge function.
          CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
          LambdaFunctionAssociations: [
            { EventType: 'origin-request', IncludeBody: true, LambdaFunctionARN: Match.anyValue() },
          ],
        }),
      },
    });
  });

  it('lets the function read records, GetItem only, on the table in every replica Region', () => {
    const arn = (region: string) => ({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          `:dynamodb:${region}:`,
          { Ref: 'AWS::AccountId' },
          `:table/${STAGES.prod.table.tableName}`,
        ],
      ],
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'dynamodb:GetItem',
            Resource: ['us-east-1', 'us-east-2', 'us-west-2'].map(arn),
          },
        ],
      },
    });
  });

  it('runs the bundled handler with no environment variables (Lambda@Edge has none)', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    const edge = Object.values(functions).find((fn) => fn.Properties.Handler === 'index.handler');
    expect(edge?.Properties.Runtime).toBe('nodejs22.x');
    expect(edge?.Properties.Environment).toBeUndefined();
    expect(edge?.Properties.Timeout).toBeLessThanOrEqual(30);
  });

  it('compiles the table and Regions into the bundle', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const assembly = app.synth();
    const bundles = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    const code = bundles
      .flatMap((dir) =>
        readdirSync(join(assembly.directory, dir)).map((file) => join(assembly.directory, dir, file)),
      )
      .filter((file) => file.endsWith('index.js'))
      .map((file) => readFileSync(file, 'utf8'))
      .find((text) => text.includes(STAGES.prod.table.tableName));
    expect(code).toContain('"us-west-2"');
  });

  it('passes cdk-nag AwsSolutions with every acknowledgment explained', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    const errors = report.violations.filter((violation) => violation.severity === 'error');
    expect(errors.map((violation) => `${violation.ruleName}: ${violation.description}`)).toEqual([]);
  });
});

describe('IdempotencyEdgeFunction refuses what Lambda@Edge refuses', () => {
  const edgeStack = () =>
    new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S', { env: { region: 'us-east-1' } });
  const props = { entry, tableName: 'idempotency', replicaRegions: ['us-east-1'] };

  it('more than 128 MiB or 5 s on viewer request', () => {
    expect(
      () =>
        new IdempotencyEdgeFunction(edgeStack(), 'E', {
          ...props,
          eventType: 'viewer-request',
          memoryMiB: 256,
        }),
    ).toThrow(/`memoryMiB` .* 128 to 128 on viewer-request, got 256/);
    expect(
      () =>
        new IdempotencyEdgeFunction(edgeStack(), 'E', {
          ...props,
          eventType: 'viewer-request',
          timeout: Duration.seconds(10),
        }),
    ).toThrow(/`timeout` .* at most 5 s on viewer-request, got 10 s/);
  });

  it('a table without replica Regions to read', () => {
    expect(() => new IdempotencyEdgeFunction(edgeStack(), 'E', { ...props, replicaRegions: [] })).toThrow(
      /replicaRegions/,
    );
  });

  it('adds itself to a new behaviour of an existing distribution with addTo', () => {
    const stack = edgeStack();
    const edge = new IdempotencyEdgeFunction(stack, 'E', { ...props, eventType: 'viewer-request' });
    const distribution = new cloudfront.Distribution(stack, 'D', {
      defaultBehavior: { origin: new origins.HttpOrigin('static.example.com') },
    });
    edge.addTo(distribution, '/api/*', new origins.HttpOrigin('api.example.com'));
    Template.fromStack(stack).hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        CacheBehaviors: [
          Match.objectLike({
            PathPattern: '/api/*',
            LambdaFunctionAssociations: [
              Match.objectLike({ EventType: 'viewer-request', IncludeBody: true }),
            ],
          }),
        ],
      },
    });
  });
});
