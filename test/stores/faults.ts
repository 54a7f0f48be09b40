import { type AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { LOCAL_CLIENT_CONFIG } from '../support/dynamodb-local.js';

/** Failures a real DynamoDB endpoint or network produces, which DynamoDB Local cannot be made to. */
export const Fault = {
  /** HTTP 400 `ThrottlingException`, as DynamoDB answers when a partition or the account is throttled. */
  Throttling: 'throttling',
  /** The socket times out before an answer, as the SDK's Node handler reports it. */
  Timeout: 'timeout',
  /** HTTP 500 `InternalServerError`. */
  ServerError: 'server-error',
} as const;
export type Fault = (typeof Fault)[keyof typeof Fault];

/** The error name each fault surfaces as, after the SDK parsed it. */
export const FAULT_ERROR_NAME: Record<Fault, string> = {
  throttling: 'ThrottlingException',
  timeout: 'TimeoutError',
  'server-error': 'InternalServerError',
};

/** What a fault-injecting client saw and can be told to do. */
export interface FaultControl {
  /** Command names sent, in order (one per attempt that reached the wire or the fault). */
  readonly calls: string[];
  /** The inputs of the commands sent, in order. */
  readonly inputs: Record<string, unknown>[];
  /** Fail the next `times` commands named in `commands` (every command when omitted). */
  fail(fault: Fault, options?: { readonly commands?: readonly string[]; readonly times?: number }): void;
  /** Make the server seem not to return `Item` on a `ConditionalCheckFailedException` (some emulators). */
  stripConditionalCheckItem(strip: boolean): void;
  /** Rethrow SDK errors as plain `Error`s with the same name and fields, as another copy of the SDK would. */
  foreignErrors(foreign: boolean): void;
  /**
   * Answer the next `times` BatchGetItem calls as DynamoDB does when it runs out of time or capacity: the items of
   * all but the first `keep` keys asked for are left out and handed back as `UnprocessedKeys`.
   */
  leaveUnprocessed(options: { readonly keep: number; readonly times: number }): void;
  reset(): void;
}

function jsonError(statusCode: number, type: string, message: string) {
  return {
    statusCode,
    reason: undefined,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'fault-injected' },
    body: Buffer.from(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message })),
  };
}

/**
 * A client on the suite's DynamoDB Local (one attempt per command, so an injected fault is not retried away)
 * with SDK middlewares that count commands, inject faults below the deserializer (so the SDK parses them as
 * it would a real answer) and can strip `Item` from a failed condition check.
 */
export function faultyClient(endpoint: string = inject('dynamoEndpoint')): {
  client: DynamoDBClient;
  control: FaultControl;
} {
  const client = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint, maxAttempts: 1 });
  const calls: string[] = [];
  const inputs: Record<string, unknown>[] = [];
  let pending: { fault: Fault; commands?: readonly string[]; times: number } | undefined;
  let strip = false;
  let foreign = false;
  let unprocessed: { keep: number; times: number } | undefined;

  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(String(context.commandName));
      inputs.push(args.input as Record<string, unknown>);
      try {
        const answer = await next(args);
        if (
          unprocessed !== undefined &&
          unprocessed.times > 0 &&
          context.commandName === 'BatchGetItemCommand'
        ) {
          unprocessed.times -= 1;
          return {
            ...answer,
            output: withUnprocessed(args.input as never, answer.output as never, unprocessed.keep) as never,
          };
        }
        return answer;
      } catch (error) {
        if (strip && (error as Error).name === 'ConditionalCheckFailedException') {
          delete (error as { Item?: unknown }).Item;
        }
        if (foreign && error instanceof Error) {
          throw Object.assign(new Error(error.message), { ...error, name: error.name });
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'idemkitFaultCounter' },
  );
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const fault = pending;
      const matches = fault?.commands === undefined || fault.commands.includes(String(context.commandName));
      if (fault === undefined || fault.times <= 0 || !matches) return next(args);
      fault.times -= 1;
      switch (fault.fault) {
        case 'throttling':
          return {
            response: jsonError(
              400,
              'ThrottlingException',
              'Rate of requests exceeds the allowed throughput.',
            ),
          } as never;
        case 'server-error':
          return { response: jsonError(500, 'InternalServerError', 'Internal server error') } as never;
        case 'timeout':
          throw Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' });
      }
    },
    { step: 'deserialize', priority: 'low', name: 'idemkitFaultInjector' },
  );

  return {
    client,
    control: {
      calls,
      inputs,
      fail(fault, options = {}) {
        pending = { fault, commands: options.commands, times: options.times ?? Number.POSITIVE_INFINITY };
      },
      stripConditionalCheckItem(value) {
        strip = value;
      },
      foreignErrors(value) {
        foreign = value;
      },
      leaveUnprocessed(options) {
        unprocessed = { ...options };
      },
      reset() {
        calls.length = 0;
        inputs.length = 0;
        pending = undefined;
        strip = false;
        foreign = false;
        unprocessed = undefined;
      },
    },
  };
}

type Keys = Record<string, AttributeValue>[];
interface BatchGetInput {
  RequestItems: Record<string, { Keys: Keys; ConsistentRead?: boolean }>;
}
interface BatchGetOutput {
  Responses?: Record<string, Keys>;
  UnprocessedKeys?: Record<string, { Keys: Keys; ConsistentRead?: boolean }>;
}

/** `output` with the items of every key after the first `keep` of each table left out, and those keys unprocessed. */
function withUnprocessed(input: BatchGetInput, output: BatchGetOutput, keep: number): BatchGetOutput {
  const responses: Record<string, Keys> = {};
  const unprocessedKeys: Record<string, { Keys: Keys; ConsistentRead?: boolean }> = {};
  for (const [table, request] of Object.entries(input.RequestItems)) {
    const kept = request.Keys.slice(0, keep);
    const same = (item: Record<string, AttributeValue>, key: Record<string, AttributeValue>) =>
      Object.entries(key).every(([name, value]) => item[name]?.S === value.S);
    responses[table] = (output.Responses?.[table] ?? []).filter((item) =>
      kept.some((key) => same(item, key)),
    );
    const left = request.Keys.slice(keep);
    if (left.length > 0) unprocessedKeys[table] = { ...request, Keys: left };
  }
  return { ...output, Responses: responses, UnprocessedKeys: unprocessedKeys };
}
