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
 * The fingerprint of what a request means: SHA-256 (base64url) of the parts, each length-prefixed so
 * that `['ab', 'c']` and `['a', 'bc']` differ.
 *
 * @example
 * fingerprintOf(['POST', '/orders', canonicalJson(body)]);
 */
export function fingerprintOf(parts: readonly (string | Uint8Array)[]): string {
  if (parts.every((part) => typeof part === 'string')) {
    // The same bytes hashed as one string in one call: no Buffer per part, no Hash object (bench/analysis.md).
    let text = '';
    for (const part of parts as readonly string[]) text += `${Buffer.byteLength(part, 'utf8')}:${part}`;
    return hash('sha256', text, 'base64url');
  }
  const digest = createHash('sha256');
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    digest.update(`${bytes.byteLength}:`);
    digest.update(bytes);
  }
  return digest.digest('base64url');
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
