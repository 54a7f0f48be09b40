import type { IdempotencyValidationError } from '../core/errors.js';
import { valueFingerprint } from '../core/fingerprint.js';
import { assertValidKey, assertValidName } from '../core/keys.js';
import { Signal } from '../core/telemetry.js';

/** What identifies one record's job: the tenant, the raw job key (never logged) and the fingerprint. */
export interface JobIdentity {
  readonly org: string;
  readonly key: string;
  readonly fingerprint: string;
}

/** Why a record has no usable job: counted as this signal, as the HTTP door counts a bad header or org. */
export type Unusable = typeof Signal.MissingKey | typeof Signal.InvalidKey | typeof Signal.InvalidOrg;

/** Either the record's job, or why it has none, in a sentence that never repeats the raw key. */
export type Identified =
  | { readonly ok: true; readonly job: JobIdentity }
  | { readonly ok: false; readonly signal: Unusable; readonly reason: string };

/** The user's functions that turn a record into a job identity. */
export interface IdentifyFunctions<R> {
  readonly org: string | ((record: R) => unknown);
  readonly jobKey: (record: R) => unknown;
  readonly fingerprint?: (record: R) => unknown;
}

/**
 * Computes a record's job identity without any I/O, so duplicates can be collapsed first. A function
 * that throws or returns something unusable gives a reason instead of throwing: the record fails alone.
 *
 * @example
 * const identified = identifyJob(record, { org: 'acme', jobKey: (r) => JSON.parse(r.body).invoiceId });
 */
export function identifyJob<R>(
  record: R,
  functions: IdentifyFunctions<R>,
  defaultMeaning: (record: R) => unknown,
): Identified {
  let org: unknown;
  let key: unknown;
  let meaning: unknown;
  try {
    org = typeof functions.org === 'string' ? functions.org : functions.org(record);
  } catch (error) {
    return { ok: false, signal: Signal.InvalidOrg, reason: threw('org', error) };
  }
  try {
    key = functions.jobKey(record);
  } catch (error) {
    return { ok: false, signal: Signal.MissingKey, reason: threw('jobKey', error) };
  }
  try {
    meaning = functions.fingerprint === undefined ? defaultMeaning(record) : functions.fingerprint(record);
  } catch (error) {
    return { ok: false, signal: Signal.MissingKey, reason: threw('fingerprint', error) };
  }
  // Number.isFinite holds for finite numbers only: it converts nothing.
  if (Number.isFinite(key)) key = String(key);
  if (typeof key !== 'string') {
    return {
      ok: false,
      signal: Signal.MissingKey,
      reason: `Expected \`jobKey\` to return the job's business id as a string or number, got ${typeName(key)}; read it from the body or a message attribute (never the messageId).`,
    };
  }
  if (typeof org !== 'string') {
    return {
      ok: false,
      signal: Signal.InvalidOrg,
      reason: `Expected \`org\` to return the tenant as a string, got ${typeName(org)}; check that the producer sets it.`,
    };
  }
  try {
    assertValidName('org', org);
    assertValidKey(key);
  } catch (error) {
    // Both throw only this error, whose messages state lengths and rules, never the value itself.
    const { field, message } = error as IdempotencyValidationError;
    return { ok: false, signal: field === 'org' ? Signal.InvalidOrg : Signal.InvalidKey, reason: message };
  }
  return { ok: true, job: { org, key, fingerprint: valueFingerprint(meaning) } };
}

/** A text's JSON value when it is JSON (so key order and spacing do not matter), else the text itself. */
export function jsonMeaning(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function threw(option: string, error: unknown): string {
  const name = error instanceof Error ? error.name : typeof error;
  return `\`${option}\` threw ${name}; make it return a value for every record the source can carry.`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  // A finite job key was made a string before this; an org is never converted.
  if (typeof value === 'number') return Number.isFinite(value) ? 'a number' : 'a non-finite number';
  return typeof value === 'object' ? 'an object' : typeof value;
}
