import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** An item as DynamoDB's low-level API carries it. */
export type Item = Record<string, AttributeValue>;

/** Names and values an expression refers to (`#name`, `:value`). */
export interface ExpressionContext {
  readonly names?: Record<string, string>;
  readonly values?: Record<string, AttributeValue>;
}

type Condition = (item: Item | undefined, context: ExpressionContext) => boolean;
type Operand = (item: Item | undefined, context: ExpressionContext) => AttributeValue | undefined;

// Both libraries send a handful of fixed expression texts, so each is parsed once and cached: the fake's own
// cost stays small and identical for the two sides.
const conditions = new Map<string, Condition>();
const updates = new Map<string, (item: Item, context: ExpressionContext) => Item>();

/**
 * Evaluates a DynamoDB condition expression against an item (absent item: `undefined`). Supports what
 * idemkit and Powertools send: `attribute_exists`, `attribute_not_exists`, `= <> < <= > >=`, `AND`, `OR`,
 * `NOT` and parentheses.
 */
export function evaluateCondition(
  expression: string,
  item: Item | undefined,
  context: ExpressionContext,
): boolean {
  let condition = conditions.get(expression);
  if (condition === undefined) {
    condition = new Parser(expression).condition();
    conditions.set(expression, condition);
  }
  return condition(item, context);
}

/** Applies a `SET a = :v, #b = :w REMOVE c, d` update expression, returning a new item. */
export function applyUpdate(expression: string, item: Item, context: ExpressionContext): Item {
  let update = updates.get(expression);
  if (update === undefined) {
    update = parseUpdate(expression);
    updates.set(expression, update);
  }
  return update(item, context);
}

function nameOf(token: string, context: ExpressionContext): string {
  if (!token.startsWith('#')) return token;
  const name = context.names?.[token];
  if (name === undefined) throw new Error(`fake DynamoDB: no ExpressionAttributeNames entry for ${token}`);
  return name;
}

function attributeValue(token: string, context: ExpressionContext): AttributeValue {
  const value = context.values?.[token];
  if (value === undefined) throw new Error(`fake DynamoDB: no ExpressionAttributeValues entry for ${token}`);
  return value;
}

function parseUpdate(expression: string): (item: Item, context: ExpressionContext) => Item {
  const sets: [string, string][] = [];
  const removes: string[] = [];
  for (const clause of expression.split(/\b(?=SET\b|REMOVE\b)/)) {
    const trimmed = clause.trim();
    if (trimmed.startsWith('SET ')) {
      for (const assignment of trimmed.slice(4).split(',')) {
        const [path, value] = assignment.split('=').map((part) => part.trim());
        if (path === undefined || value === undefined || !value.startsWith(':')) {
          throw new Error(`fake DynamoDB: unsupported SET clause ${assignment}`);
        }
        sets.push([path, value]);
      }
    } else if (trimmed.startsWith('REMOVE ')) {
      removes.push(
        ...trimmed
          .slice(7)
          .split(',')
          .map((path) => path.trim()),
      );
    } else if (trimmed !== '') {
      throw new Error(`fake DynamoDB: unsupported update clause ${trimmed}`);
    }
  }
  return (item, context) => {
    const next: Item = { ...item };
    for (const [path, value] of sets) next[nameOf(path, context)] = attributeValue(value, context);
    for (const path of removes) delete next[nameOf(path, context)];
    return next;
  };
}

const TOKEN = /\s*(\(|\)|,|<>|<=|>=|=|<|>|[#:]?[A-Za-z_][A-Za-z0-9_]*)/y;

class Parser {
  readonly #tokens: string[] = [];
  #at = 0;

  constructor(text: string) {
    TOKEN.lastIndex = 0;
    for (;;) {
      if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
      const match = TOKEN.exec(text);
      if (match?.[1] === undefined) throw new Error(`fake DynamoDB: cannot parse condition ${text}`);
      this.#tokens.push(match[1]);
    }
  }

  condition(): Condition {
    const parsed = this.#or();
    if (this.#at !== this.#tokens.length)
      throw new Error(`fake DynamoDB: trailing ${this.#tokens[this.#at]}`);
    return parsed;
  }

  #peek(): string | undefined {
    return this.#tokens[this.#at];
  }

  #next(): string {
    const token = this.#tokens[this.#at++];
    if (token === undefined) throw new Error('fake DynamoDB: unexpected end of condition');
    return token;
  }

  #or(): Condition {
    const parts = [this.#and()];
    while (this.#peek()?.toUpperCase() === 'OR') {
      this.#next();
      parts.push(this.#and());
    }
    return parts.length === 1 ? (parts[0] as Condition) : (item, c) => parts.some((part) => part(item, c));
  }

  #and(): Condition {
    const parts = [this.#not()];
    while (this.#peek()?.toUpperCase() === 'AND') {
      this.#next();
      parts.push(this.#not());
    }
    return parts.length === 1 ? (parts[0] as Condition) : (item, c) => parts.every((part) => part(item, c));
  }

  #not(): Condition {
    if (this.#peek()?.toUpperCase() === 'NOT') {
      this.#next();
      const inner = this.#not();
      return (item, c) => !inner(item, c);
    }
    return this.#primary();
  }

  #primary(): Condition {
    const token = this.#next();
    if (token === '(') {
      const inner = this.#or();
      this.#expect(')');
      return inner;
    }
    if (token === 'attribute_exists' || token === 'attribute_not_exists') {
      this.#expect('(');
      const path = this.#next();
      this.#expect(')');
      const wanted = token === 'attribute_exists';
      return (item, c) => (item?.[nameOf(path, c)] !== undefined) === wanted;
    }
    const left = operand(token);
    const comparator = this.#next();
    const right = operand(this.#next());
    return (item, c) => compare(left(item, c), comparator, right(item, c));
  }

  #expect(token: string): void {
    const got = this.#next();
    if (got !== token) throw new Error(`fake DynamoDB: expected ${token}, got ${got}`);
  }
}

function operand(token: string): Operand {
  if (token.startsWith(':')) return (_item, c) => attributeValue(token, c);
  return (item, c) => item?.[nameOf(token, c)];
}

function compare(
  left: AttributeValue | undefined,
  comparator: string,
  right: AttributeValue | undefined,
): boolean {
  // DynamoDB: a comparison with a missing attribute or across types is false.
  if (left === undefined || right === undefined) return false;
  let order: number;
  if (left.N !== undefined && right.N !== undefined) order = Number(left.N) - Number(right.N);
  else if (left.S !== undefined && right.S !== undefined)
    order = left.S < right.S ? -1 : left.S > right.S ? 1 : 0;
  else return false;
  switch (comparator) {
    case '=':
      return order === 0;
    case '<>':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    default:
      throw new Error(`fake DynamoDB: unsupported comparator ${comparator}`);
  }
}
