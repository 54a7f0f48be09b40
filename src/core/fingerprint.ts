import { createHash, hash } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth, so two requests that mean the same thing serialize the same.
 * `undefined` members are dropped, as `JSON.stringify` does.
 *
 * @example
 * canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }); // '{"a":[2,{"c":4,"d":3}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  // The same sorted copy for the same object, so JSON.stringify's own cycle check sees a cycle and throws
  // a TypeError (fresh copies would recurse until the stack overflows).
  const copies = new WeakMap<object, Record<string, unknown>>();
  return (
    JSON.stringify(value, (_key, member: unknown) => {
      if (typeof member === 'bigint') return member.toString();
      if (member === null || typeof member !== 'object' || Array.isArray(member)) return member;
      if (ArrayBuffer.isView(member))
        return Buffer.from(member.buffer, member.byteOffset, member.byteLength).toString('base64');
      // A null prototype, so a `__proto__` member (JSON.parse makes it an own property) is kept, not dropped.
      const known = copies.get(member);
      if (known !== undefined) return known;
      const sorted: Record<string, unknown> = Object.create(null);
      copies.set(member, sorted);
      for (const name of Object.keys(member).sort()) sorted[name] = (member as Record<string, unknown>)[name];
      return sorted;
    }) ??
    // Stryker disable next-line StringLiteral: any string no JSON value serializes to tells undefined apart.
    'undefined'
  );
}

/**
 * {@link canonicalJson} of a value fresh from `JSON.parse` (or shaped like one: plain objects, arrays, strings,
 * numbers, booleans, null) that nobody else holds: the same text, faster, because the tree is put in canonical
 * order in place (objects whose keys are out of order are replaced by sorted copies) and `JSON.stringify` then
 * runs without a replacer. The caller must not use `value` afterwards for anything but its meaning.
 *
 * @example
 * canonicalJsonInPlace(JSON.parse('{"b":1,"a":2}')); // '{"a":2,"b":1}'
 */
export function canonicalJsonInPlace(value: unknown): string {
  let tree: unknown;
  try {
    tree = sortedInPlace(value, 0);
  } catch (error) {
    // Deeper than any request needs: the general form decides, exactly as it always did for such a body (it
    // fails past about 2,000 levels, and the door then compares bytes). The tree is partly sorted, same meaning.
    if (error !== TOO_DEEP) throw error;
    return canonicalJson(value);
  }
  return JSON.stringify(tree);
}

// Well under the depth where `canonicalJson`'s replacer gives up, so everything below it is the same text.
const MAX_IN_PLACE_DEPTH = 1000;
// Stryker disable next-line StringLiteral: the marker is known by identity; its text is never shown
const TOO_DEEP = new Error('too deep');

function sortedInPlace(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Stryker disable EqualityOperator,ConditionalExpression,ArithmeticOperator: below canonicalJson's limit (about
  // 2,000 levels) either path writes its text; past it, only a stack without Stryker's bigger frames tells a
  // missing bound (docs/testing.md, "Killed outside Stryker")
  if (depth > MAX_IN_PLACE_DEPTH) throw TOO_DEEP;
  const deeper = depth + 1;
  // Stryker restore EqualityOperator,ConditionalExpression,ArithmeticOperator
  if (Array.isArray(value)) {
    for (let index = 0; index !== value.length; index++) value[index] = sortedInPlace(value[index], deeper);
    return value;
  }
  const object = value as Record<string, unknown>;
  // A plain object, not a null-prototype one: V8 keeps plain objects with the same names on one shape, which
  // `JSON.stringify` walks about twice as fast (10.7 us against 15.2 us for a 1 KB order body). The copy is
  // made for every object, in order or not: a check that kept ordered ones saved less than it cost to read.
  const sorted: Record<string, unknown> = {};
  for (const name of Object.keys(object).sort()) {
    const member = sortedInPlace(object[name], deeper);
    // An own `__proto__` member (JSON.parse makes one) is kept as a member, as in canonicalJson. Nothing writes
    // to the copy after this loop (a tree visited twice is copied again), so the member need only be enumerable.
    if (name === '__proto__') Object.defineProperty(sorted, name, { value: member, enumerable: true });
    else sorted[name] = member;
  }
  return sorted;
}

/**
 * The fingerprint of what a request means: SHA-256 (base64url) of the parts, each length-prefixed so
 * that `['ab', 'c']` and `['a', 'bc']` differ.
 *
 * @example
 * fingerprintOf(['POST', '/orders', canonicalJson(body)]);
 */
export function fingerprintOf(parts: readonly (string | Uint8Array)[]): string {
  // Only `false` compiles of this condition's mutants (text parts alone may go to textDigest).
  // Stryker disable next-line ConditionalExpression: both paths digest the same bytes; the text one is faster
  if (parts.every(isText)) return textDigest(parts);
  const digest = createHash('sha256');
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    digest.update(`${bytes.byteLength}:`);
    digest.update(bytes);
  }
  return digest.digest('base64url');
}

const isText = (part: string | Uint8Array): part is string => typeof part === 'string';

/** {@link fingerprintOf} of text parts: the same bytes hashed as one string in one call, no Buffer per part. */
function textDigest(parts: readonly string[]): string {
  let text = '';
  for (const part of parts) text += `${Buffer.byteLength(part, 'utf8')}:${part}`;
  return hash('sha256', text, 'base64url');
}

/**
 * The fingerprint of a value a user's `fingerprint` option chose: canonical, so an object built with its keys
 * in another order is the same request.
 *
 * @example
 * valueFingerprint({ amount: 5, currency: 'EUR' }) === valueFingerprint({ currency: 'EUR', amount: 5 }); // true
 */
export function valueFingerprint(value: unknown): string {
  return fingerprintOf([canonicalJson(value)]);
}

/**
 * The default fingerprint of a function's arguments (the generic wrapper): canonical JSON of each.
 * Lambda context objects are left out, because they differ on every invocation.
 *
 * @example
 * defaultArgumentsFingerprint([payment]);
 */
export function defaultArgumentsFingerprint(args: readonly unknown[]): string {
  return fingerprintOf(args.filter((arg) => !isLambdaContext(arg)).map((arg) => canonicalJson(arg)));
}

/**
 * The Lambda's remaining time, in ms, read from a context when it has one; `undefined` when unknown. 0 is a
 * real value (docs/protocol.md section 3).
 */
export function remainingTimeOf(context: unknown): number | undefined {
  return isLambdaContext(context) ? context.getRemainingTimeInMillis() : undefined;
}

/** Whether `value` looks like a Lambda context (it has `getRemainingTimeInMillis`). */
export function isLambdaContext(value: unknown): value is { getRemainingTimeInMillis(): number } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { getRemainingTimeInMillis?: unknown }).getRemainingTimeInMillis === 'function'
  );
}
