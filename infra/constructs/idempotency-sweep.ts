import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { AttributeNames } from '../../src/stores/dynamodb-item.js';

/** What the sweep needs: read the keys and expiry of every item, delete the expired ones. No Get, Put or Update. */
export const SWEEP_ACTIONS = ['dynamodb:Scan', 'dynamodb:DeleteItem'] as const;

/**
 * Props of {@link IdempotencySweep}.
 *
 * @example
 * { tableName: table.tableName, tableArn: table.tableArn, every: Duration.minutes(30) }
 */
export interface IdempotencySweepProps {
  readonly tableName: string;
  /** The table's ARN in this Region; deletes replicate to the other replicas. */
  readonly tableArn: string;
  /**
   * Attribute names of the table, as `DynamoDBStore` takes them.
   * @default - idemkit's schema: `pk`, `expiresAt`
   */
  readonly attributes?: AttributeNames;
  /**
   * How often it runs.
   * @default Duration.hours(1) - records live 24 h by default, so an hour late is a small share of the table
   */
  readonly every?: Duration;
  /**
   * Deletes per second at most, so the sweep never competes with the hot path for capacity.
   * @default 50
   */
  readonly maxDeletesPerSecond?: number;
  /**
   * The function's timeout; the sweep stops starting pages 10 s before it and the next run goes on.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
}

/**
 * The scheduled sweep Lambda (`infra/handlers/sweep.ts`, the code of `idemkit records sweep`): deletes expired
 * records from a table without TTL, such as a multi-Region strongly consistent global table. `IdempotencyTable`
 * adds one itself when TTL is unavailable.
 *
 * @example
 * new IdempotencySweep(this, 'Sweep', { tableName: table.tableName, tableArn: table.tableArn });
 */
export class IdempotencySweep extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: IdempotencySweepProps) {
    super(scope, id);
    const rate = props.maxDeletesPerSecond ?? 50;
    if (!(rate > 0)) {
      throw new Error(`Expected \`maxDeletesPerSecond\` of \`IdempotencySweep\` to be above 0, got ${rate}.`);
    }
    const timeout = props.timeout ?? Duration.minutes(5);
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: handlerEntry(),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout,
      memorySize: 256,
      description: 'idemkit sweep: deletes expired idempotency records from a table without TTL',
      environment: {
        IDEMKIT_SWEEP_TABLE: props.tableName,
        IDEMKIT_SWEEP_RATE: String(rate),
        ...(props.attributes === undefined
          ? {}
          : { IDEMKIT_SWEEP_ATTRIBUTES: JSON.stringify(props.attributes) }),
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: false,
        externalModules: ['@aws-sdk/*'],
      },
      logGroup: new logs.LogGroup(this, 'Logs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: [...SWEEP_ACTIONS], resources: [props.tableArn] }),
    );
    this.rule = new events.Rule(this, 'Schedule', {
      schedule: events.Schedule.rate(props.every ?? Duration.hours(1)),
      description: 'Runs the idemkit sweep: the table has no TTL',
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime idemkit supports and tests (engines.node >=22); move to a newer one after running the suite on it.',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'AWSLambdaBasicExecutionRole only lets the sweep write its own CloudWatch logs; its table access is the exact Scan and DeleteItem grant.',
    });
  }
}

/** The handler's source in a checkout, or its compiled file in the published package. */
function handlerEntry(): string {
  const source = fileURLToPath(new URL('../handlers/sweep.ts', import.meta.url));
  return existsSync(source) ? source : fileURLToPath(new URL('../handlers/sweep.js', import.meta.url));
}
