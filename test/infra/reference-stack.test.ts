import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { OrdersStack } from '../../infra/stacks/orders-stack.js';
import { STAGE_NAMES, STAGES, stageSettings } from '../../infra/stages.js';
import { resolveSettings } from '../../src/core/settings.js';

// One bundled synth of the dev stack for the whole file; the prod synth skips bundling.
const outdir = mkdtempSync(join(tmpdir(), 'idemkit-cdk-'));
const devApp = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
const dev = new OrdersStack(devApp, 'Dev', {
  settings: STAGES.dev,
  jwtIssuer: 'https://auth.example.com/',
  jwtAudience: ['orders'],
});
const template = Template.fromStack(dev);
const prodApp = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const prodTemplate = Template.fromStack(new OrdersStack(prodApp, 'Prod', { settings: STAGES.prod }));

/** The rollout guide's table (docs/protocol.md section 5). */
const PROTOCOL_ROLLOUT = {
  dev: { mode: 'observe', lockTtlSeconds: 30, strictFailClosed: false },
  stage: { mode: 'observe', lockTtlSeconds: 60, strictFailClosed: false },
  prod: { mode: 'enforce', lockTtlSeconds: 120, strictFailClosed: false },
} as const;

describe('infra/stages.ts is the one source of stage settings', () => {
  it.each(STAGE_NAMES)('%s sets the IDEMPOTENCY_* variables of docs/protocol.md section 5', (stage) => {
    const { settings, warnings } = resolveSettings({}, { ...STAGES[stage].environment });
    expect(settings).toMatchObject({ environment: stage, ...PROTOCOL_ROLLOUT[stage] });
    // No clamp had to correct the stage's lock TTL.
    expect(warnings).toEqual([]);
  });

  it.each(STAGE_NAMES)('%s keeps the visibility timeout at six times the worker timeout', (stage) => {
    const { jobs, worker } = STAGES[stage];
    expect(jobs.visibilityTimeoutSeconds).toBe(6 * worker.timeoutSeconds);
    expect(jobs.retentionPeriodSeconds).toBeLessThan(jobs.deadLetterRetentionSeconds);
  });

  it('names every resource per stage, so stages never share a table or a queue', () => {
    const names = STAGE_NAMES.flatMap((stage) => [
      STAGES[stage].table.tableName,
      STAGES[stage].jobs.queueName,
      STAGES[stage].jobs.deadLetterQueueName,
    ]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('is plain data: it imports nothing, so a playground can use it without the CDK', () => {
    const source = readFileSync(new URL('../../infra/stages.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^import /m);
    expect(JSON.parse(JSON.stringify(STAGES))).toEqual(STAGES);
  });

  it('rejects an unknown stage, naming the allowed ones', () => {
    expect(() => stageSettings('qa')).toThrow(
      /Expected the `stage` context to be one of dev, stage, prod, got "qa"/,
    );
  });
});

describe('the reference stack wires the stage settings', () => {
  it('gives both handlers the stage’s IDEMPOTENCY_* variables and the table name', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(2);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        ...STAGES.dev.environment,
        IDEMPOTENCY_TABLE: { Ref: expect.stringMatching(/^IdempotencyTable/) },
      });
    }
  });

  it('switches prod to enforce with a 120 s lock TTL and prod names', () => {
    prodTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ IDEMPOTENCY_MODE: 'enforce', IDEMPOTENCY_LOCK_TTL_S: '120' }),
      },
    });
    prodTemplate.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'idemkit-prod-idempotency' });
    prodTemplate.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'idemkit-prod-invoice-jobs' });
  });

  it('runs the handlers on Node.js 22, arm64, with the stage’s timeouts', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: STAGES.dev.api.timeoutSeconds,
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'orders-api' }) },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: STAGES.dev.worker.timeoutSeconds,
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'invoice-worker' }) },
    });
  });

  it('declares the table and queues under the names the playground will use', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: STAGES.dev.table.tableName,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: STAGES.dev.jobs.queueName,
      VisibilityTimeout: STAGES.dev.jobs.visibilityTimeoutSeconds,
      MessageRetentionPeriod: STAGES.dev.jobs.retentionPeriodSeconds,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: STAGES.dev.jobs.maxReceiveCount }),
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: STAGES.dev.jobs.deadLetterQueueName,
      MessageRetentionPeriod: STAGES.dev.jobs.deadLetterRetentionSeconds,
    });
  });

  it('routes POST /orders through the JWT authorizer', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /orders',
      AuthorizationType: 'JWT',
      AuthorizerId: { Ref: Match.stringLikeRegexp('^ApiJwt') },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://auth.example.com/', Audience: ['orders'] },
    });
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
    // The rollout dashboard shows both scopes the stack runs.
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'lease_lost' });
  });

  it('throttles the API and keeps access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: STAGES.dev.api.throttleRateLimit,
        ThrottlingBurstLimit: STAGES.dev.api.throttleBurstLimit,
      },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ApiAccessLogs'), 'Arn'] },
      },
    });
  });

  it('feeds the worker from the job queue with partial batch responses', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: Match.stringLikeRegexp('^InvoiceWorker') },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: STAGES.dev.jobs.batchSize,
      MaximumBatchingWindowInSeconds: STAGES.dev.jobs.maxBatchingWindowSeconds,
    });
  });

  it('lets the orders handler send jobs and both handlers touch records, and nothing more', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const actions = policies.flatMap((policy) =>
      policy.Properties.PolicyDocument.Statement.flatMap((statement: { Action: string | string[] }) =>
        ([] as string[]).concat(statement.Action),
      ),
    );
    expect([...new Set(actions)].sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
      'sqs:SendMessage',
    ]);
  });

  it('outputs every name a user needs', () => {
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual([
      'DeadLetterAlarmName',
      'IdempotencyTableName',
      'InvoiceJobsDeadLetterQueueName',
      'InvoiceJobsDeadLetterQueueUrl',
      'InvoiceJobsQueueName',
      'InvoiceJobsQueueUrl',
      'InvoiceWorkerFunctionName',
      'OldestJobAgeAlarmName',
      'OrdersEndpoint',
      'OrdersFunctionName',
      'Stage',
    ]);
  });
});

describe('the reference handlers are bundled for Lambda', () => {
  const assembly = devApp.synth();
  const bundles = Object.fromEntries(
    Object.values(template.findResources('AWS::Lambda::Function')).map((fn) => {
      const assetPath = fn.Metadata['aws:asset:path'] as string;
      return [
        fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME as string,
        join(assembly.directory, assetPath, 'index.mjs'),
      ];
    }),
  );

  it.each(['orders-api', 'invoice-worker'])(
    '%s is one minified ESM file that leaves the AWS SDK to the runtime',
    (name) => {
      const file = bundles[name] as string;
      const code = readFileSync(file, 'utf8');
      console.info(`bundle ${name}: ${statSync(file).size} bytes`);
      expect(code).toMatch(/from"@aws-sdk\/client-dynamodb"/);
      expect(code).not.toMatch(/Dynamic require of/);
      expect(statSync(file).size).toBeLessThan(1_000_000);
    },
  );

  it.each(['orders-api', 'invoice-worker'])('%s loads in Node and exports a handler', async (name) => {
    const saved = { ...process.env };
    Object.assign(process.env, STAGES.dev.environment, {
      IDEMPOTENCY_TABLE: 'idemkit-dev-idempotency',
      INVOICE_JOBS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/idemkit-dev-invoice-jobs',
      AWS_REGION: 'eu-west-1',
    });
    try {
      const module = (await import(bundles[name] as string)) as { handler?: unknown };
      expect(typeof module.handler).toBe('function');
    } finally {
      process.env = saved;
    }
  });
});

describe('cdk-nag AwsSolutions over the reference stack', () => {
  const report = new AwsSolutionsChecks().validateScope(dev);

  it('finds no error left unacknowledged', () => {
    const errors = report.violations.filter((violation) => violation.severity === 'error');
    expect(errors.map((violation) => `${violation.ruleName}: ${violation.description}`)).toEqual([]);
  });

  it('acknowledges only the two findings the stack accepts, each with a written reason', () => {
    const acknowledged = acknowledgments(dev);
    expect([...new Set(acknowledged.map((ack) => ack.id))].sort()).toEqual([
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AwsSolutions-L1',
    ]);
    for (const ack of acknowledged) expect(ack.reason.length).toBeGreaterThan(40);
  });
});

// cfn-lint is a Python tool that CI machines may lack (no Debian package, no PyPI here): the check runs
// where it is installed and says so where it is not.
const cfnLintInstalled = spawnSync('cfn-lint', ['--version']).error === undefined;
if (!cfnLintInstalled)
  console.warn('cfn-lint is not installed: the CloudFormation lint does not run (pip install cfn-lint).');

describe.runIf(cfnLintInstalled)('cfn-lint over the reference template', () => {
  it('reports no error or warning', () => {
    const file = join(outdir, 'reference.template.json');
    writeFileSync(file, JSON.stringify(template.toJSON()));
    // W3005: CDK adds DependsOn on the role next to the GetAtt it already has; harmless and not ours.
    const lint = spawnSync('cfn-lint', ['--ignore-checks', 'W3005', '--', file], { encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`).toBe('');
    expect(lint.status).toBe(0);
  });
});

/** Every `Validations.of(...).acknowledge(...)` in the tree. */
function acknowledgments(root: IConstruct): { id: string; reason: string }[] {
  return root.node
    .findAll()
    .flatMap((construct) =>
      construct.node.metadata.filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY),
    )
    .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
    .map(([id, reason]) => ({ id: id.replace(/^Annotation::/, ''), reason }));
}
