import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import { CliError } from './errors.js';

/**
 * The `--filter` language: a small boolean expression over one SQS message, parsed by hand (no `eval`,
 * no `Function`), so a filter can only read the message.
 *
 * ```text
 * expr       := or
 * or         := and ("or" and)*
 * and        := unary ("and" unary)*
 * unary      := "not" unary | "(" expr ")" | test
 * test       := field [op literal]          (a field alone means "is present")
 * op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "startswith"
 * field      := "body" ("." name | "[" index "]")*    (the body, parsed as JSON when it is JSON)
 *             | "attr." name                         (a message attribute's string value)
 *             | "sys." name                          (a system attribute: MessageGroupId, ApproximateReceiveCount, ...)
 *             | "id"                                 (the message id)
 * name       := [A-Za-z0-9_$-]+ | a quoted string
 * literal    := "double" or 'single' quoted string | number | true | false | null
 * ```
 *
 * Comparisons with a number compare numerically (Number attributes arrive as strings); with a string they
 * compare text. A missing field makes every comparison false except `!=`.
 *
 * @example
 * const matches = parseFilter('body.type = "order.created" and attr.tenant != "test"');
 * matches(message); // true or false
 */
export function parseFilter(source: string): (message: Message) => boolean {
  const tokens = tokenize(source);
  const parser = new Parser(source, tokens);
  const node = parser.parseExpression();
  parser.expectEnd();
  return (message) => evaluate(node, message, new Map());
}

type Literal = string | number | boolean | null;
type Operator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | 'startswith';
type Segment = string | number;
type Field = { readonly root: 'body' | 'attr' | 'sys' | 'id'; readonly path: readonly Segment[] };
type Node =
  | { readonly kind: 'or' | 'and'; readonly left: Node; readonly right: Node }
  | { readonly kind: 'not'; readonly operand: Node }
  | { readonly kind: 'exists'; readonly field: Field }
  | { readonly kind: 'compare'; readonly field: Field; readonly op: Operator; readonly value: Literal };

type Token =
  | { readonly type: 'word'; readonly text: string; readonly at: number }
  | { readonly type: 'string'; readonly text: string; readonly at: number }
  | { readonly type: 'number'; readonly value: number; readonly text: string; readonly at: number }
  | { readonly type: 'punct'; readonly text: string; readonly at: number };

const SYNTAX_HINT =
  'write it like `body.type = "order" and attr.tenant != "test"` (see `idemkit dlq replay --help`)';

function fail(source: string, at: number, what: string): never {
  throw new CliError(
    `Expected \`--filter\` to be a filter expression, got ${what} at column ${at + 1} of ${JSON.stringify(source)}; ${SYNTAX_HINT}.`,
  );
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const char = source[i] as string;
    if (/\s/.test(char)) {
      i += 1;
      continue;
    }
    const at = i;
    if (char === '"' || char === "'") {
      let text = '';
      i += 1;
      for (;;) {
        if (i >= source.length) fail(source, at, 'a string that is never closed');
        const c = source[i] as string;
        if (c === '\\' && i + 1 < source.length) {
          text += source[i + 1];
          i += 2;
          continue;
        }
        i += 1;
        if (c === char) break;
        text += c;
      }
      tokens.push({ type: 'string', text, at });
      continue;
    }
    const two = source.slice(i, i + 2);
    if (two === '!=' || two === '<=' || two === '>=' || two === '==') {
      tokens.push({ type: 'punct', text: two === '==' ? '=' : two, at });
      i += 2;
      continue;
    }
    if ('=<>().[]'.includes(char)) {
      tokens.push({ type: 'punct', text: char, at });
      i += 1;
      continue;
    }
    const number = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(source.slice(i));
    if (number !== null && (char === '-' || /\d/.test(char))) {
      tokens.push({ type: 'number', value: Number(number[0]), text: number[0], at });
      i += number[0].length;
      continue;
    }
    const word = /^[A-Za-z0-9_$-]+/.exec(source.slice(i));
    if (word !== null) {
      tokens.push({ type: 'word', text: word[0], at });
      i += word[0].length;
      continue;
    }
    fail(source, at, `the character ${JSON.stringify(char)}`);
  }
  return tokens;
}

const OPERATORS: ReadonlySet<string> = new Set(['=', '!=', '<', '<=', '>', '>=', 'contains', 'startswith']);

class Parser {
  #index = 0;
  constructor(
    readonly source: string,
    readonly tokens: Token[],
  ) {}

  parseExpression(): Node {
    let left = this.#parseAnd();
    while (this.#isWord('or')) {
      this.#index += 1;
      left = { kind: 'or', left, right: this.#parseAnd() };
    }
    return left;
  }

  expectEnd(): void {
    const token = this.tokens[this.#index];
    if (token !== undefined) fail(this.source, token.at, `an unexpected ${JSON.stringify(token.text)}`);
  }

  #parseAnd(): Node {
    let left = this.#parseUnary();
    while (this.#isWord('and')) {
      this.#index += 1;
      left = { kind: 'and', left, right: this.#parseUnary() };
    }
    return left;
  }

  #parseUnary(): Node {
    if (this.#isWord('not')) {
      this.#index += 1;
      return { kind: 'not', operand: this.#parseUnary() };
    }
    const token = this.#peek('a field, `not` or `(`');
    if (token.type === 'punct' && token.text === '(') {
      this.#index += 1;
      const inner = this.parseExpression();
      this.#expectPunct(')');
      return inner;
    }
    const field = this.#parseField();
    const next = this.tokens[this.#index];
    const opText =
      next === undefined ? undefined : next.type === 'word' ? next.text.toLowerCase() : next.text;
    if (
      next === undefined ||
      next.type === 'string' ||
      next.type === 'number' ||
      !OPERATORS.has(opText ?? '')
    ) {
      return { kind: 'exists', field };
    }
    this.#index += 1;
    return { kind: 'compare', field, op: opText as Operator, value: this.#parseLiteral() };
  }

  #parseField(): Field {
    const token = this.#peek('a field such as `body.type`, `attr.tenant`, `sys.MessageGroupId` or `id`');
    if (token.type !== 'word')
      fail(this.source, token.at, `${JSON.stringify(token.text)} where a field belongs`);
    this.#index += 1;
    const root = token.text;
    if (root === 'id') return { root: 'id', path: [] };
    if (root === 'body') return { root: 'body', path: this.#parsePath() };
    if (root === 'attr' || root === 'sys') {
      const path = this.#parsePath();
      if (path.length !== 1 || typeof path[0] !== 'string') {
        fail(this.source, token.at, `\`${root}\` without exactly one name after it (write \`${root}.name\`)`);
      }
      return { root, path };
    }
    return fail(
      this.source,
      token.at,
      `the unknown field ${JSON.stringify(root)} (fields start with \`body\`, \`attr.\`, \`sys.\` or are \`id\`)`,
    );
  }

  #parsePath(): Segment[] {
    const path: Segment[] = [];
    for (;;) {
      const token = this.tokens[this.#index];
      if (token?.type === 'punct' && token.text === '.') {
        this.#index += 1;
        const name = this.#peek('a name after `.`');
        if (name.type !== 'word' && name.type !== 'string') {
          fail(this.source, name.at, `${JSON.stringify(name.text)} where a name belongs after \`.\``);
        }
        path.push(name.text);
        this.#index += 1;
      } else if (token?.type === 'punct' && token.text === '[') {
        this.#index += 1;
        const index = this.#peek('an index or a quoted name after `[`');
        if (index.type === 'number' && Number.isInteger(index.value) && index.value >= 0)
          path.push(index.value);
        else if (index.type === 'string') path.push(index.text);
        else fail(this.source, index.at, `${JSON.stringify(index.text)} inside \`[ ]\``);
        this.#index += 1;
        this.#expectPunct(']');
      } else {
        return path;
      }
    }
  }

  #parseLiteral(): Literal {
    const token = this.#peek('a value (a quoted string, a number, true, false or null)');
    this.#index += 1;
    if (token.type === 'string') return token.text;
    if (token.type === 'number') return token.value;
    if (token.type === 'word' && token.text === 'true') return true;
    if (token.type === 'word' && token.text === 'false') return false;
    if (token.type === 'word' && token.text === 'null') return null;
    return fail(
      this.source,
      token.at,
      `${JSON.stringify(token.text)} where a value belongs (quote text: "${token.text}")`,
    );
  }

  #peek(expected: string): Token {
    const token = this.tokens[this.#index];
    if (token === undefined) fail(this.source, this.source.length, `the end where ${expected} belongs`);
    return token;
  }

  #expectPunct(text: string): void {
    const token = this.#peek(`\`${text}\``);
    if (token.type !== 'punct' || token.text !== text) {
      fail(this.source, token.at, `${JSON.stringify(token.text)} where \`${text}\` belongs`);
    }
    this.#index += 1;
  }

  #isWord(word: string): boolean {
    const token = this.tokens[this.#index];
    return token?.type === 'word' && token.text.toLowerCase() === word;
  }
}

const MISSING = Symbol('missing');

function evaluate(node: Node, message: Message, cache: Map<string, unknown>): boolean {
  switch (node.kind) {
    case 'or':
      return evaluate(node.left, message, cache) || evaluate(node.right, message, cache);
    case 'and':
      return evaluate(node.left, message, cache) && evaluate(node.right, message, cache);
    case 'not':
      return !evaluate(node.operand, message, cache);
    case 'exists':
      return resolve(node.field, message, cache) !== MISSING;
    case 'compare':
      return compare(resolve(node.field, message, cache), node.op, node.value);
  }
}

/**
 * Parses one field of the `--filter` language (for `--key-from`) and returns its reader.
 *
 * @example
 * parseFieldReader('attr.jobId')(message); // 'job-42' or undefined
 */
export function parseFieldReader(source: string, flag = '--key-from'): (message: Message) => unknown {
  const parser = new Parser(source, tokenize(source));
  const node = parser.parseExpression();
  parser.expectEnd();
  if (node.kind !== 'exists') {
    throw new CliError(
      `Expected \`${flag}\` to be one field such as \`attr.jobId\` or \`body.orderId\`, got ${JSON.stringify(source)}.`,
    );
  }
  return (message) => {
    const value = resolve(node.field, message, new Map());
    return value === MISSING ? undefined : value;
  };
}

function resolve(field: Field, message: Message, cache: Map<string, unknown>): unknown {
  if (field.root === 'id') return message.MessageId ?? MISSING;
  if (field.root === 'attr') {
    const attribute: MessageAttributeValue | undefined = message.MessageAttributes?.[field.path[0] as string];
    if (attribute === undefined) return MISSING;
    return attribute.StringValue ?? attribute.BinaryValue ?? MISSING;
  }
  if (field.root === 'sys') {
    const value = (message.Attributes as Record<string, string> | undefined)?.[field.path[0] as string];
    return value ?? MISSING;
  }
  let value: unknown = message.Body ?? MISSING;
  if (field.path.length === 0) return value;
  if (!cache.has('body')) {
    try {
      cache.set('body', JSON.parse(message.Body ?? ''));
    } catch {
      cache.set('body', MISSING);
    }
  }
  value = cache.get('body');
  for (const segment of field.path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, segment)) return MISSING;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

function compare(actual: unknown, op: Operator, expected: Literal): boolean {
  if (actual === MISSING) return op === '!=';
  if (op === 'contains' || op === 'startswith') {
    if (typeof expected !== 'string') return false;
    if (Array.isArray(actual) && op === 'contains') return actual.some((item) => item === expected);
    const text = textOf(actual);
    if (text === undefined) return false;
    return op === 'contains' ? text.includes(expected) : text.startsWith(expected);
  }
  let order: number | undefined;
  if (typeof expected === 'number') {
    const number =
      typeof actual === 'number'
        ? actual
        : typeof actual === 'string' && actual.trim() !== ''
          ? Number(actual)
          : NaN;
    order = Number.isNaN(number) ? undefined : Math.sign(number - expected);
  } else if (typeof expected === 'string') {
    const text = textOf(actual);
    order = text === undefined ? undefined : text < expected ? -1 : text > expected ? 1 : 0;
  } else {
    order = actual === expected ? 0 : undefined;
  }
  switch (op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order === -1;
    case '<=':
      return order === -1 || order === 0;
    case '>':
      return order === 1;
    case '>=':
      return order === 1 || order === 0;
  }
}

function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
