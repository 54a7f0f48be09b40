import type * as z from 'zod/mini';

/**
 * The messages every part of idemkit writes (library, constructs, CLI), in one voice: name the option in
 * backticks, say what was expected, show what was received, say the fix.
 *
 * @example
 * expected('`maxReceiveCount` of JobQueue \'Jobs\'', 'a whole number from 1 to 1000', 0); // "Expected ... got 0."
 */
export function expected(subject: string, expectation: string, received: unknown, fix?: string): string {
  return `Expected ${subject} to be ${expectation}, got ${show(received)}${fix === undefined ? '' : `; ${fix}`}.`;
}

/** One sentence for a zod issue: an unknown option with a did-you-mean, or what was expected and received. */
export function describeIssue(
  issue: z.core.$ZodIssue,
  options: unknown,
  where: string,
  schema: z.core.$ZodType,
): string {
  const name = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    // Suggest from the door's own options (`scope`, `key`...) and nested ones (`cache.maxEntries`).
    const known = knownKeys(schema, issue.path);
    const prefix = name === '' ? '' : `${name}.`;
    return issue.keys
      .map(
        (key) =>
          `Unknown option \`${prefix}${key}\` passed to \`${where}\`; remove it or check its spelling${didYouMean(key, known, prefix)}.`,
      )
      .join(' ');
  }
  const received = issue.path.reduce<unknown>(
    // Stryker disable next-line OptionalChaining: no issue path runs below a null or undefined value
    (value, segment) => (value as Record<PropertyKey, unknown> | null | undefined)?.[segment],
    options,
  );
  return expected(`\`${name || 'options'}\` of \`${where}\``, expectation(issue), received);
}

/** The option names a schema accepts at `path` (through optionals and unions), for did-you-mean. */
function knownKeys(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  // Read the definitions zod's classic and mini schemas share, so either kind of schema works here.
  const def = schema._zod.def as {
    type: string;
    innerType?: z.core.$ZodType;
    options?: z.core.$ZodType[];
    shape?: Record<PropertyKey, z.core.$ZodType | undefined>;
  };
  if (def.type === 'optional') return knownKeys(def.innerType as z.core.$ZodType, path);
  if (def.type === 'union') return (def.options ?? []).flatMap((option) => knownKeys(option, path));
  // Only an object schema has a shape.
  // Stryker disable next-line ArrayDeclaration: a name no option has changes no suggestion
  if (def.shape === undefined) return [];
  const [head, ...rest] = path;
  if (head === undefined) return Object.keys(def.shape);
  const member = def.shape[head];
  // Stryker disable next-line ArrayDeclaration: a name no option has changes no suggestion
  return member === undefined ? [] : knownKeys(member, rest);
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `one of ${issue.values.map((value) => `'${String(value)}'`).join(', ')}`;
    case 'too_small':
      return `${issue.origin === 'number' ? 'a number' : 'a value'} ${issue.inclusive ? 'of at least' : 'greater than'} ${String(issue.minimum)}`;
    case 'invalid_type':
      return issue.expected === 'int'
        ? 'an integer'
        : `${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'invalid_union': {
      // What each member expected (`a boolean, or an object`), not zod's "Invalid input".
      const each = issue.errors.flatMap((issues) => issues.slice(0, 1)).map(expectation);
      return each.length === 0 ? issue.message : [...new Set(each)].join(', or ');
    }
    default:
      // A custom check's own words (`a function`), or zod's for the kinds of issue no option's schema raises.
      return issue.message;
  }
}

/** ` (did you mean `x`?)` when a known name is close to `key`, else nothing. */
export function didYouMean(key: string, known: readonly string[], prefix = ''): string {
  const close = known.find((name) => name.toLowerCase() === key.toLowerCase() || levenshtein(name, key) <= 2);
  return close === undefined ? '' : ` (did you mean \`${prefix}${close}\`?)`;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min(current + 1, (row[j - 1] ?? 0) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

/** Shows a received value in an error message without echoing long strings. */
export function show(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 40 ? `a string of ${value.length} characters` : `'${value}'`;
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
