import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { StageSettings } from '../infra/stages.js';
import { LOCAL_CLIENT_CONFIG } from './servers/dynamodb-local.js';

/** The table and queues the playground created, with what a user needs to reach them. */
export interface PlaygroundResources {
  readonly tableName: string;
  readonly queue: { readonly name: string; readonly url: string; readonly arn: string };
  readonly deadLetterQueue: { readonly name: string; readonly url: string; readonly arn: string };
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds: number;
}

/** Options of {@link createResources}. */
export interface CreateResourcesOptions {
  readonly settings: StageSettings;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** The job queue's visibility timeout. @default the stage's */
  readonly visibilityTimeoutSeconds?: number;
  /** Receives before a message moves to the DLQ. @default the stage's */
  readonly maxReceiveCount?: number;
  /** Told when the server has no TTL API (dynalite). @default ignore */
  readonly onWarning?: (message: string) => void;
}

/**
 * Creates the stage's idempotency table (partition key `pk`, TTL on `expiresAt`, on-demand) and its job
 * queue with the dead-letter queue and redrive policy, with the names and settings of `infra/stages.ts`:
 * the same source of truth the reference stack synthesizes from.
 *
 * @example
 * const resources = await createResources({ settings: stageSettings('dev'), dynamodbEndpoint, sqsEndpoint });
 */
export async function createResources(options: CreateResourcesOptions): Promise<PlaygroundResources> {
  const { settings } = options;
  const dynamodb = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: options.dynamodbEndpoint });
  const sqs = new SQSClient({ ...LOCAL_CLIENT_CONFIG, endpoint: options.sqsEndpoint });
  try {
    const tableName = settings.table.tableName;
    try {
      await dynamodb.send(
        new CreateTableCommand({
          TableName: tableName,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    try {
      await dynamodb.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        }),
      );
    } catch (error) {
      // dynalite has no TTL API; records still expire for idemkit, which compares expiresAt with now.
      options.onWarning?.(
        `The local DynamoDB refused UpdateTimeToLive (${(error as Error).name}); skipped: idemkit compares \`expiresAt\` with now, so expiry still holds.`,
      );
    }

    const { jobs } = settings;
    const dlq = await createQueue(sqs, jobs.deadLetterQueueName, {
      MessageRetentionPeriod: String(jobs.deadLetterRetentionSeconds),
    });
    const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? jobs.visibilityTimeoutSeconds;
    const maxReceiveCount = options.maxReceiveCount ?? jobs.maxReceiveCount;
    const queue = await createQueue(sqs, jobs.queueName, {
      VisibilityTimeout: String(visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(jobs.retentionPeriodSeconds),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlq.arn,
        maxReceiveCount: String(maxReceiveCount),
      }),
    });
    return {
      tableName,
      queue,
      deadLetterQueue: dlq,
      maxReceiveCount,
      visibilityTimeoutSeconds,
    };
  } finally {
    dynamodb.destroy();
    sqs.destroy();
  }
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ name: string; url: string; arn: string }> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (QueueUrl === undefined) throw new Error(`The SQS emulator created ${name} but returned no URL.`);
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  return { name, url: QueueUrl, arn: Attributes?.QueueArn ?? '' };
}
