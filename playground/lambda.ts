import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** What a function is, as far as its invocations need: the name and the configured timeout. */
export interface LocalFunction {
  readonly functionName: string;
  readonly timeoutMs: number;
  readonly memoryMiB: number;
}

/**
 * A Lambda context whose `getRemainingTimeInMillis` counts down from the function's real timeout, so the
 * library's lease (`min(lockTtl, remaining time)`) is what it would be in Lambda.
 *
 * @example
 * const context = lambdaContext({ functionName: 'orders-api', timeoutMs: 10_000, memoryMiB: 512 });
 */
export function lambdaContext(fn: LocalFunction, startedAt = Date.now()): Context {
  const deadline = startedAt + fn.timeoutMs;
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${fn.functionName}`,
    memoryLimitInMB: String(fn.memoryMiB),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fn.functionName}`,
    logStreamName: `playground/[$LATEST]${requestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The handler ran past the function's timeout; Lambda would have stopped it. */
export class FunctionTimeoutError extends Error {
  override name = 'FunctionTimeoutError';
  constructor(
    readonly functionName: string,
    readonly timeoutMs: number,
  ) {
    super(`${functionName} ran past its ${timeoutMs} ms timeout; Lambda would have stopped it.`);
  }
}

/**
 * Invokes `handler` once, as Lambda does: with a fresh context and the function's timeout. A handler that
 * runs past it rejects with {@link FunctionTimeoutError} (its work goes on in this process, which Lambda
 * would have frozen: the idempotency lease is what keeps a retry from running it twice).
 *
 * @example
 * const response = await invoke(fn, handler, event);
 */
export async function invoke<E, R>(
  fn: LocalFunction,
  handler: (event: E, context: Context) => Promise<R>,
  event: E,
): Promise<R> {
  const context = lambdaContext(fn);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FunctionTimeoutError(fn.functionName, fn.timeoutMs)), fn.timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => handler(event, context)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
