import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OrdersEdgeStack } from './stacks/orders-edge-stack.js';
import { OrdersStack } from './stacks/orders-stack.js';
import { DEFAULT_STAGE, layoutSettings, stageSettings } from './stages.js';

/**
 * The CDK app of the reference stack: `npx cdk synth --context stage=prod`. The stage picks names and
 * `IDEMPOTENCY_*` settings from `infra/stages.ts`; `jwtIssuer` and `jwtAudience` (comma-separated) name
 * the identity provider whose tokens carry the `org_id` claim.
 */
const app = new App();
const settings = stageSettings(app.node.tryGetContext('stage') ?? DEFAULT_STAGE);
const jwtIssuer: unknown = app.node.tryGetContext('jwtIssuer');
const jwtAudience: unknown = app.node.tryGetContext('jwtAudience');
// `--context layout=global|edge`: past one Region (infra/stages.ts, docs/protocol.md section 11).
const layout = layoutSettings(app.node.tryGetContext('layout') ?? 'single-region');
const edgeOriginDomain: unknown = app.node.tryGetContext('edgeOriginDomain');

new OrdersStack(app, settings.stackName, {
  settings,
  ...(typeof jwtIssuer === 'string' ? { jwtIssuer } : {}),
  ...(typeof jwtAudience === 'string' ? { jwtAudience: jwtAudience.split(',').map((a) => a.trim()) } : {}),
  ...(layout.replicas === undefined ? {} : { layout }),
  env: {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region: layout.homeRegion ?? process.env.CDK_DEFAULT_REGION,
  },
  description: `idemkit reference stack (${settings.stage}, ${layout.layout}): HTTP API with httpIdempotency, SQS worker with sqsJobs`,
});
if (layout.edge !== undefined) {
  new OrdersEdgeStack(app, `${settings.stackName}-${layout.edge.stackSuffix}`, {
    settings,
    layout,
    ...(typeof edgeOriginDomain === 'string' ? { originDomainName: edgeOriginDomain } : {}),
    // Lambda@Edge functions live in us-east-1.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: 'us-east-1' },
    description: `idemkit reference edge (${settings.stage}): CloudFront with edgeIdempotency in front of the orders API`,
  });
}

// Every synth runs cdk-nag's AwsSolutions pack: an unacknowledged error fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
