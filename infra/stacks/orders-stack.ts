import { fileURLToPath } from 'node:url';
import {
  Annotations,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { IdempotencyDashboard, IdempotencyTable, JobQueue } from '../constructs/index.js';
import type { LayoutSettings, StageSettings } from '../stages.js';

/** An issuer that cannot sign anything: synth works without one, a deploy must be given the real one. */
export const PLACEHOLDER_JWT_ISSUER = 'https://issuer.invalid/';

/**
 * Props of {@link OrdersStack}.
 *
 * @example
 * { settings: stageSettings('prod'), jwtIssuer: 'https://acme.eu.auth0.com/', jwtAudience: ['orders'] }
 */
export interface OrdersStackProps extends StackProps {
  /** The stage's names, queue settings and `IDEMPOTENCY_*` variables. */
  readonly settings: StageSettings;
  /**
   * The identity provider whose JWTs the API accepts; each token's claims must carry `org_id`.
   * @default PLACEHOLDER_JWT_ISSUER - synth works, every request is refused until a real issuer is given
   */
  readonly jwtIssuer?: string;
  /**
   * The audiences (`aud` or `client_id`) the API accepts.
   * @default ['idemkit-orders']
   */
  readonly jwtAudience?: readonly string[];
  /**
   * Where the stage runs beyond one Region (`layoutSettings('global')`): the table's replicas and how they agree.
   * @default - one Region
   */
  readonly layout?: LayoutSettings;
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const handlerEntry = (name: string) => fileURLToPath(new URL(`../handlers/${name}.ts`, import.meta.url));

/**
 * idemkit's reference stack: `POST /orders` on an HTTP API with a JWT authorizer, handled with
 * `httpIdempotency`; an invoice worker on a `JobQueue` handled with `sqsJobs`; one `IdempotencyTable`
 * shared by both, each tenant's records led by its org.
 *
 * @example
 * new OrdersStack(app, 'Orders', { settings: stageSettings('dev') });
 */
export class OrdersStack extends Stack {
  readonly table: IdempotencyTable;
  readonly jobs: JobQueue;
  readonly dashboard: IdempotencyDashboard;
  readonly ordersFunction: nodejs.NodejsFunction;
  readonly workerFunction: nodejs.NodejsFunction;
  readonly api: apigwv2.HttpApi;

  constructor(scope: Construct, id: string, props: OrdersStackProps) {
    super(scope, id, { stackName: props.settings.stackName, ...props });
    const { settings } = props;
    const jwtIssuer = props.jwtIssuer ?? PLACEHOLDER_JWT_ISSUER;
    if (jwtIssuer === PLACEHOLDER_JWT_ISSUER) {
      Annotations.of(this).addWarningV2(
        'idemkit:placeholder-issuer',
        'The API accepts no token until you pass your identity provider: --context jwtIssuer=https://... --context jwtAudience=...',
      );
    }

    const replicas = props.layout?.replicas;
    this.table = new IdempotencyTable(this, 'Idempotency', {
      tableName: settings.table.tableName,
      // Past one Region: MRSC, no TTL, the sweep scheduled (docs/protocol.md section 11).
      ...(replicas === undefined
        ? {}
        : {
            replicaRegions: replicas.regions,
            multiRegionConsistency: replicas.consistency,
            ...(replicas.witnessRegion === undefined ? {} : { witnessRegion: replicas.witnessRegion }),
          }),
    });
    this.jobs = new JobQueue(this, 'InvoiceJobs', {
      queueName: settings.jobs.queueName,
      deadLetterQueueName: settings.jobs.deadLetterQueueName,
      maxReceiveCount: settings.jobs.maxReceiveCount,
      consumerTimeout: Duration.seconds(settings.worker.timeoutSeconds),
      visibilityTimeout: Duration.seconds(settings.jobs.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(settings.jobs.retentionPeriodSeconds),
    });

    const logRetention = retentionOf(settings.logRetentionDays);
    const common = {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: false,
        // The Node 22 runtime ships AWS SDK v3; bundling it would only add cold-start bytes.
        externalModules: ['@aws-sdk/*'],
      },
    } satisfies Partial<nodejs.NodejsFunctionProps>;
    const shared = {
      ...settings.environment,
      IDEMPOTENCY_TABLE: this.table.tableName,
      POWERTOOLS_METRICS_NAMESPACE: 'idemkit',
    };

    this.ordersFunction = new nodejs.NodejsFunction(this, 'OrdersApi', {
      ...common,
      entry: handlerEntry('orders-api'),
      description: 'POST /orders with httpIdempotency (idemkit reference)',
      timeout: Duration.seconds(settings.api.timeoutSeconds),
      memorySize: settings.api.memoryMiB,
      logGroup: new logs.LogGroup(this, 'OrdersApiLogs', {
        retention: logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      environment: {
        ...shared,
        POWERTOOLS_SERVICE_NAME: 'orders-api',
        INVOICE_JOBS_QUEUE_URL: this.jobs.queue.queueUrl,
      },
    });
    this.workerFunction = new nodejs.NodejsFunction(this, 'InvoiceWorker', {
      ...common,
      entry: handlerEntry('invoice-worker'),
      description: 'Invoice jobs with sqsJobs (idemkit reference)',
      timeout: Duration.seconds(settings.worker.timeoutSeconds),
      memorySize: settings.worker.memoryMiB,
      logGroup: new logs.LogGroup(this, 'InvoiceWorkerLogs', {
        retention: logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      environment: { ...shared, POWERTOOLS_SERVICE_NAME: 'invoice-worker' },
    });

    this.table.grantRecords(this.ordersFunction);
    this.table.grantRecords(this.workerFunction);
    this.jobs.grantSendMessages(this.ordersFunction);
    this.jobs.addConsumer(this.workerFunction, {
      batchSize: settings.jobs.batchSize,
      maxBatchingWindow: Duration.seconds(settings.jobs.maxBatchingWindowSeconds),
    });

    this.api = new apigwv2.HttpApi(this, 'Api', {
      apiName: `${settings.stackName}-orders`,
      description: 'idemkit reference: POST /orders with Idempotency-Key',
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      autoDeploy: true,
      throttle: { rateLimit: settings.api.throttleRateLimit, burstLimit: settings.api.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: apigw.AccessLogFormat.jsonWithStandardFields(),
      },
    });
    this.api.addRoutes({
      path: '/orders',
      methods: [apigwv2.HttpMethod.POST],
      integration: new HttpLambdaIntegration('Orders', this.ordersFunction),
      authorizer: new HttpJwtAuthorizer('Jwt', jwtIssuer, {
        jwtAudience: [...(props.jwtAudience ?? ['idemkit-orders'])],
      }),
    });

    // The rollout view: decisions by kind per scope and mode, wait times, store errors and lost leases.
    this.dashboard = new IdempotencyDashboard(this, 'IdempotencyDashboard', {
      scopes: ['create-order', 'send-invoice-email'],
    });

    const outputs: Record<string, [string, string]> = {
      Stage: [settings.stage, 'The stage these settings came from (--context stage)'],
      OrdersEndpoint: [`${stage.url}orders`, 'POST here with Authorization and Idempotency-Key headers'],
      IdempotencyTableName: [this.table.tableName, 'DynamoDBStore tableName (IDEMPOTENCY_TABLE)'],
      InvoiceJobsQueueUrl: [this.jobs.queue.queueUrl, 'Where producers send invoice jobs'],
      InvoiceJobsQueueName: [this.jobs.queue.queueName, 'The job queue'],
      InvoiceJobsDeadLetterQueueUrl: [this.jobs.deadLetterQueue.queueUrl, 'Replay from here after a fix'],
      InvoiceJobsDeadLetterQueueName: [this.jobs.deadLetterQueue.queueName, 'The dead-letter queue'],
      OrdersFunctionName: [this.ordersFunction.functionName, 'The POST /orders handler'],
      InvoiceWorkerFunctionName: [this.workerFunction.functionName, 'The invoice job worker'],
      DeadLetterAlarmName: [this.jobs.deadLetterDepthAlarm.alarmName, 'Alarm: jobs in the DLQ'],
      OldestJobAgeAlarmName: [this.jobs.oldestMessageAgeAlarm.alarmName, 'Alarm: jobs waiting too long'],
    };
    for (const [name, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(this, name, { value, description });
    }

    // cdk-nag AwsSolutions findings this stack accepts on purpose, each with its reason.
    for (const fn of [this.ordersFunction, this.workerFunction]) {
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          'Node.js 22 is the runtime idemkit supports and tests (engines.node >=22); move to a newer one after running the suite on it.',
      });
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs; every other permission is an exact grant.',
      });
    }
  }
}

function retentionOf(days: number): logs.RetentionDays {
  const match = Object.values(logs.RetentionDays).find((value) => value === days);
  if (match === undefined) {
    throw new Error(`Expected \`logRetentionDays\` to be one CloudWatch Logs accepts, got ${days}.`);
  }
  return match as logs.RetentionDays;
}
