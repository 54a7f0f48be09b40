import {
  JMESPathError,
  JMESPathTypeError,
  LexerError,
  ParseError,
  search,
} from '@aws-lambda-powertools/jmespath';
import type { Message } from '@aws-sdk/client-sqs';
import { CliError } from './errors.js';

/**
 * The view of one SQS message that `--query` and `--key-from` read, in JMESPath (the language of the AWS CLI's
 * own `--query`):
 *
 * - `id`: the message id.
 * - `body`: the body parsed as JSON when it is JSON, else the text.
 * - `attr.<name>`: each message attribute's value: a number for `Number` types, text for `String` types,
 *   base64 for `Binary` types.
 * - `sys.<name>`: each system attribute (`MessageGroupId`, `SenderId`, ...); `ApproximateReceiveCount`,
 *   `SentTimestamp` and `ApproximateFirstReceiveTimestamp` as numbers.
 */
export interface MessageView {
  readonly id: string;
  readonly body: unknown;
  readonly attr: Readonly<Record<string, string | number>>;
  readonly sys: Readonly<Record<string, string | number>>;
}

const ROOT_FIELDS = ['id', 'body', 'attr', 'sys'] as const;
const NUMERIC_SYSTEM_ATTRIBUTES = new Set([
  'ApproximateReceiveCount',
  'SentTimestamp',
  'ApproximateFirstReceiveTimestamp',
]);

/** The `--query` examples `dlq replay --help` shows (and the README repeats); the tests run each one. */
export const QUERY_EXAMPLES = [
  "body.type == 'order.created' && (attr.tenant == 'acme' || sys.ApproximateReceiveCount >= `5`)",
  "starts_with(body.items[0].sku, 'A-')",
  'attr."idempotency-key" && !contains(to_string(body), \'test\')',
] as const;

/** Where the job key is looked for when `--key-from` is not given: the first of these that is text. */
export const DEFAULT_KEY_FROM =
  'attr."idempotency-key" || attr.idempotencyKey || attr.jobKey || attr."job-key" || body.idempotencyKey || body.jobKey || body.jobId';

/**
 * The {@link MessageView} of a received message.
 *
 * @example
 * messageView({ MessageId: 'm-1', Body: '{"type":"refund"}' }); // { id: 'm-1', body: { type: 'refund' }, attr: {}, sys: {} }
 */
export function messageView(message: Message): MessageView {
  const text = message.Body ?? '';
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: the view holds the text.
  }
  const attr: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    if (value.StringValue !== undefined) {
      const number = Number(value.StringValue);
      attr[name] =
        value.DataType?.startsWith('Number') === true && Number.isFinite(number) ? number : value.StringValue;
    } else if (value.BinaryValue !== undefined) {
      attr[name] = Buffer.from(value.BinaryValue).toString('base64');
    }
  }
  const sys: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(message.Attributes ?? {})) {
    if (value === undefined) continue;
    sys[name] = NUMERIC_SYSTEM_ATTRIBUTES.has(name) && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return { id: message.MessageId ?? '', body, attr, sys };
}

/**
 * The view as the root of a search. A field the view does not have, read at the root, is an error rather than
 * JMESPath's `null`: unquoted text (`body.type == refund`) reads as a field, and would otherwise match silently.
 */
function rooted(view: MessageView, flag: string, source: string): Record<string, unknown> {
  return new Proxy(view as unknown as Record<string, unknown>, {
    has(target, field) {
      if (typeof field === 'string' && !(ROOT_FIELDS as readonly string[]).includes(field)) {
        throw new CliError(
          `Expected \`${flag}\` to read ${ROOT_FIELDS.join(', ')}, got the unknown field ${JSON.stringify(field)} in ${JSON.stringify(source)}; quote text as 'text' and numbers as \`42\`.`,
        );
      }
      return field in target;
    },
  });
}

const EXAMPLE = "e.g. body.type == 'order.created' && attr.tenant != 'test'";

function explain(error: unknown, flag: string, source: string): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof LexerError || error instanceof ParseError) {
    const position = error instanceof LexerError ? error.lexerPosition : error.lexPosition;
    const found =
      error instanceof LexerError
        ? `the unknown token ${JSON.stringify(error.lexerValue)}`
        : error.tokenType === 'eof'
          ? 'the end of the expression'
          : `the unexpected ${JSON.stringify(String(error.tokenValue))}`;
    const hint = error instanceof LexerError && error.lexerValue === '=' ? ' (compare with `==`)' : '';
    return new CliError(
      `Expected \`${flag}\` to be a JMESPath expression, got ${found}${hint} at column ${position + 1} of ${JSON.stringify(source)}; ${EXAMPLE}.`,
      { cause: error },
    );
  }
  if (error instanceof JMESPathError) {
    const message = error.message.replace(/ in expression: .*$/s, '');
    return new CliError(
      `Expected \`${flag}\` to be a JMESPath expression, got ${JSON.stringify(source)}: ${message}; ${EXAMPLE}.`,
      { cause: error },
    );
  }
  return new CliError(`\`${flag}\`: ${(error as Error).message}`, { cause: error });
}

/**
 * Compiles a JMESPath expression over {@link MessageView}: a syntax error, an unknown function or an unknown
 * root field is one line naming the flag and the column. The returned function throws a {@link CliError} when a
 * function meets a value of the wrong type in a message (`length(body)` of a number).
 *
 * @example
 * const pick = compileQuery('--query', "body.type == 'refund'");
 * pick(message); // the value of the expression for this message
 */
export function compileQuery(flag: string, source: string): (message: Message) => unknown {
  const evaluate = (view: MessageView) => {
    try {
      return search(source, rooted(view, flag, source) as never);
    } catch (error) {
      throw explain(error, flag, source);
    }
  };
  // Parse once up front against an empty message, so a mistake fails before anything is received; a type error
  // there depends on the data, not the expression.
  try {
    evaluate({ id: '', body: {}, attr: {}, sys: {} });
  } catch (error) {
    if (!((error as Error).cause instanceof JMESPathTypeError)) throw error;
  }
  return (message) => evaluate(messageView(message));
}

/**
 * `--query`: selects a message when the expression is truthy in JMESPath's sense (not `false`, `null`, `''`,
 * `[]` or `{}`).
 *
 * @example
 * const matches = compileFilter("body.type == 'refund' && sys.ApproximateReceiveCount >= `5`");
 * matches(message); // true or false
 */
export function compileFilter(source: string, flag = '--query'): (message: Message) => boolean {
  const evaluate = compileQuery(flag, source);
  return (message) => truthy(evaluate(message));
}

/**
 * `--key-from`: where the job key is; text (or a number, as text) is the key, anything else is no key.
 *
 * @example
 * const keyOf = compileKeyReader('attr.jobId');
 * keyOf(message); // 'order-7' or undefined
 */
export function compileKeyReader(
  source: string = DEFAULT_KEY_FROM,
): (message: Message) => string | undefined {
  const evaluate = compileQuery('--key-from', source);
  return (message) => {
    const value = evaluate(message);
    if (typeof value === 'number') return String(value);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
}

function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}
