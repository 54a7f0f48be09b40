import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OrdersStack } from './stacks/orders-stack.js';
import { DEFAULT_STAGE, stageSettings } from './stages.js';

/**
 * The CDK app of the reference stack: `npx cdk synth --context stage=prod`. The stage picks names and
 * `IDEMPOTENCY_*` settings from `infra/stages.ts`; `jwtIssuer` and `jwtAudience` (comma-separated) name
 * the identity provider whose tokens carry the `org_id` claim.
 */
const app = new App();
const settings = stageSettings(app.node.tryGetContext('stage') ?? DEFAULT_STAGE);
const jwtIssuer: unknown = app.node.tryGetContext('jwtIssuer');
const jwtAudience: unknown = app.node.tryGetContext('jwtAudience');

new OrdersStack(app, settings.stackName, {
  settings,
  ...(typeof jwtIssuer === 'string' ? { jwtIssuer } : {}),
  ...(typeof jwtAudience === 'string' ? { jwtAudience: jwtAudience.split(',').map((a) => a.trim()) } : {}),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: `idemkit reference stack (${settings.stage}): HTTP API with httpIdempotency, SQS worker with sqsJobs`,
});

// Every synth runs cdk-nag's AwsSolutions pack: an unacknowledged error fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
