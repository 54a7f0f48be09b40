import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CloudFrontRequest, CloudFrontRequestEvent, CloudFrontRequestResult } from 'aws-lambda';
import * as z from 'zod/mini';
import { buildGuard } from '../core/door.js';
import { IdempotencyConfigError } from '../core/errors.js';
import { ENVIRONMENTS, MODES, parseOptions } from '../core/options.js';
import { createTelemetry, type Telemetry } from '../core/telemetry.js';
import type { Store } from '../core/types.js';
import { httpFingerprint, httpRawDigest } from '../http/fingerprint.js';
import { IDEMPOTENCY_KEY_HEADER, readIdempotencyKey } from '../http/key.js';
import { CORRELATION_HEADER, decisionResponse } from '../http/middleware.js';
import { headersWith } from '../http/response.js';
import { isStoredStream } from '../http/streaming.js';
import { DynamoDBStore } from '../stores/dynamodb.js';
import {
  EdgeEventType,
  GENERATED_RESPONSE_LIMIT,
  readCloudFrontRequest,
  toCloudFrontResponse,
} from './cloudfront.js';
import type { HttpIdentity } from './identity.js';
import { nearestRegion } from './regions.js';

/**
 * The idempotency table as the edge reads it: its name and every Region it has a replica in. The edge reads the
 * replica nearest to the Region it runs in.
 *
 * @example
 * { name: 'idempotency', regions: ['us-east-1', 'eu-west-1', 'ap-southeast-2'] }
 */
export interface EdgeTable {
  readonly name: string;
  readonly regions: readonly string[];
}

/**
 * Options of {@link edgeIdempotency}. Lambda@Edge has no environment variables, so every setting is here, in
 * code; no `IDEMPOTENCY_*` variable is read.
 *
 * @example
 * { identity: createOrder, table: { name: 'idempotency', regions: ['us-east-1', 'eu-west-1'] } }
 */
export interface EdgeIdempotencyOptions {
  /** The scope, org and path rule the origin uses too (`httpIdentity`). */
  readonly identity: HttpIdentity;
  /** The table and its replica Regions; exactly one of `table` and `store`. */
  readonly table?: EdgeTable;
  /**
   * The store to read instead of the nearest replica (tests, another store).
   * @default a `DynamoDBStore` on the replica nearest to `AWS_REGION`
   */
  readonly store?: Store;
  /**
   * `off` (forward everything), `observe` (measure would-replay and would-reject, forward everything) or
   * `enforce` (answer what the origin already decided).
   * @default the environment's mode: `observe` in dev and stage, `enforce` in prod and test
   */
  readonly mode?: (typeof MODES)[number];
  /**
   * Which environment's defaults apply.
   * @default 'prod'
   */
  readonly environment?: (typeof ENVIRONMENTS)[number];
  /**
   * Methods whose records the edge looks up; others go straight to the origin. Keep them the origin's.
   * @default ['POST', 'PATCH']
   */
  readonly enforceMethods?: readonly string[];
  /**
   * Where decisions are logged and counted.
   * @default `createTelemetry()`: JSON log lines where an operator acts, one EMF document per invocation
   */
  readonly telemetry?: Telemetry;
  /**
   * The clock, epoch ms. For tests.
   * @default Date.now
   */
  readonly clock?: () => number;
}

/** Why the edge sent a request on to the origin rather than answering it. */
export const ForwardReason = {
  /** A method the edge does not look up, or mode `off` or `observe`. */
  NotGuarded: 'not-guarded',
  /** No key, or one the origin will refuse with 400. */
  NoKey: 'no-key',
  /** The request names no usable org; the origin answers 400. */
  NoOrg: 'no-org',
  /** The behaviour does not include the body, so the fingerprint cannot be known. */
  BodyNotIncluded: 'body-not-included',
  /** CloudFront gave the function only part of the body. */
  BodyTruncated: 'body-truncated',
  /** No record, an expired or stuck one (only a claim may take it), or the store failed. */
  OriginDecides: 'origin-decides',
  /** The stored response is larger than CloudFront lets a function return, or was streamed. */
  TooLarge: 'too-large',
} as const;
/** One of {@link ForwardReason}. */
export type ForwardReason = (typeof ForwardReason)[keyof typeof ForwardReason];

/** What the edge decided for one request. */
export type EdgeOutcome =
  | { readonly kind: 'answer'; readonly response: CloudFrontRequestResult }
  | { readonly kind: 'forward'; readonly reason: ForwardReason; readonly request: CloudFrontRequest };

/** A Lambda@Edge handler, with the decision it takes available to tests and wrappers. */
export interface EdgeHandler {
  (event: CloudFrontRequestEvent): Promise<CloudFrontRequestResult>;
  /** The decision alone: the response to return, or the request to forward and why. */
  decide(event: CloudFrontRequestEvent): Promise<EdgeOutcome>;
}

const schema = z.strictObject({
  identity: z.custom<HttpIdentity>(
    (value) => {
      const identity = value as Partial<HttpIdentity> | null | undefined;
      return typeof identity?.orgOf === 'function' && typeof identity.scope === 'string';
    },
    { message: 'the object `httpIdentity(...)` returns, shared with the origin' },
  ),
  table: z.optional(
    z.strictObject({
      name: z.string().check(z.minLength(1)),
      regions: z.array(z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/))).check(z.minLength(1)),
    }),
  ),
  store: z.optional(z.custom<Store>((value) => typeof value === 'object' && value !== null)),
  mode: z.optional(z.enum(MODES)),
  environment: z.optional(z.enum(ENVIRONMENTS)),
  enforceMethods: z.optional(z.array(z.string())),
  telemetry: z.optional(z.custom<Telemetry>((value) => typeof value === 'object' && value !== null)),
  clock: z.optional(z.custom<() => number>((value) => typeof value === 'function')),
});

// One client per Region per process: Lambda@Edge reuses warm instances.
const clients = new Map<string, DynamoDBClient>();

/**
 * Lambda@Edge door for CloudFront viewer-request and origin-request events (docs/protocol.md section 11). It
 * never claims: it reads the record from the replica nearest to where it runs and answers only what the origin
 * already decided: the stored response (`Idempotent-Replayed: true`), 422 when the key was used with another
 * request, 409 with `Retry-After` while the origin still runs. Everything else, including a truncated body, a
 * response too large for CloudFront and any store error, goes on to the origin, whose `httpIdempotency` stays
 * the authority.
 *
 * @example
 * export const handler = edgeIdempotency({
 *   identity: createOrder, // httpIdentity(...), imported by the origin too
 *   table: { name: 'idempotency', regions: ['us-east-1', 'eu-west-1', 'ap-southeast-2'] },
 * });
 */
export function edgeIdempotency(options: EdgeIdempotencyOptions): EdgeHandler {
  parseOptions(schema, options, 'edgeIdempotency');
  const telemetry = options.telemetry ?? createTelemetry();
  warnAboutVariables(telemetry);
  if ((options.table === undefined) === (options.store === undefined)) {
    throw new IdempotencyConfigError([
      `Expected exactly one of \`table\` and \`store\` in \`edgeIdempotency\`, got ${options.table === undefined ? 'neither' : 'both'}. Lambda@Edge has no environment variables, so the table cannot come from IDEMPOTENCY_TABLE: set \`table: { name, regions }\` in code.`,
    ]);
  }
  const store = options.store ?? replicaStore(options.table as EdgeTable);
  const { identity } = options;
  const methods = new Set(
    (options.enforceMethods ?? ['POST', 'PATCH']).map((method) => method.toUpperCase()),
  );
  // No environment: every setting is the code's. Lease settings do not matter, the edge never claims.
  const guard = buildGuard(
    { store, mode: options.mode, environment: options.environment, telemetry, clock: options.clock },
    // Stryker disable next-line StringLiteral: the guard names its door only for `renewEvery`, which the edge has not.
    'edgeIdempotency',
    {},
  );

  const decideOnce = async (event: CloudFrontRequestEvent): Promise<EdgeOutcome> => {
    const cf = event.Records[0]?.cf;
    if (cf === undefined)
      throw new TypeError('Expected a CloudFront request event with one record, got none.');
    const { request } = cf;
    const forward = (reason: ForwardReason): EdgeOutcome => ({ kind: 'forward', reason, request });
    if (guard.engine.mode !== 'enforce' && guard.engine.mode !== 'observe')
      return forward(ForwardReason.NotGuarded);
    if (!methods.has(request.method.toUpperCase())) return forward(ForwardReason.NotGuarded);
    const read = readCloudFrontRequest(request, identity.originPath);
    if ('unreadable' in read)
      return forward(
        read.unreadable === 'body-truncated' ? ForwardReason.BodyTruncated : ForwardReason.BodyNotIncluded,
      );
    const { view } = read;
    const reading = readIdempotencyKey(view.headers[IDEMPOTENCY_KEY_HEADER]);
    if (reading.kind !== 'valid') return forward(ForwardReason.NoKey);
    let org: string | undefined;
    try {
      org = identity.orgOf(view);
    } catch {
      // An org function that throws names no org: `org` stays undefined, and the origin answers 400.
    }
    if (org === undefined) return forward(ForwardReason.NoOrg);
    const correlationId = correlationOf(view.headers);
    let duplicate: Awaited<ReturnType<typeof guard.inspect>>;
    try {
      duplicate = await guard.inspect({
        org,
        scope: identity.scope,
        key: reading.key,
        fingerprint: () => httpFingerprint(view),
        rawDigest: httpRawDigest(view),
        correlationId,
      });
    } catch {
      // An org the origin would refuse (a `#`, too long) is its 400 to answer.
      return forward(ForwardReason.NoOrg);
    }
    if (duplicate === undefined) return forward(ForwardReason.OriginDecides);
    if (duplicate.kind === 'replay' && isStoredStream(duplicate.result))
      return forward(ForwardReason.TooLarge);
    // A result kept whole in a large-result store that this edge does not read: the origin replays it whole.
    if (duplicate.kind === 'replay' && duplicate.record.resultRef !== undefined)
      return forward(ForwardReason.TooLarge);
    const proxy = decisionResponse(duplicate);
    // A completed record with nothing stored: the origin answers it as it always has.
    if (proxy === undefined) return forward(ForwardReason.OriginDecides);
    const generated = toCloudFrontResponse(
      headersWith(proxy, { [CORRELATION_HEADER]: correlationId }),
      GENERATED_RESPONSE_LIMIT[
        cf.config.eventType === EdgeEventType.ViewerRequest ? 'viewer-request' : 'origin-request'
      ],
    );
    return generated === undefined
      ? forward(ForwardReason.TooLarge)
      : { kind: 'answer', response: generated };
  };

  const decide = async (event: CloudFrontRequestEvent): Promise<EdgeOutcome> => {
    try {
      return await decideOnce(event);
    } finally {
      // One EMF document per invocation, with what it decided.
      telemetry.flush?.();
    }
  };

  const handler = async (event: CloudFrontRequestEvent): Promise<CloudFrontRequestResult> => {
    const outcome = await decide(event);
    return outcome.kind === 'answer' ? outcome.response : outcome.request;
  };
  return Object.assign(handler, { decide });
}

/**
 * The store on the replica nearest to the Region this function runs in (`AWS_REGION` is Lambda's own), through one
 * client per Region.
 *
 * @example
 * replicaStore({ name: 'idempotency', regions: ['us-east-1', 'eu-west-1'] }).client;
 */
export function replicaStore(table: EdgeTable): DynamoDBStore {
  const region = nearestRegion(process.env.AWS_REGION, table.regions);
  let client = clients.get(region);
  if (client === undefined) {
    client = new DynamoDBClient({ region });
    clients.set(region, client);
  }
  return new DynamoDBStore({ tableName: table.name, client });
}

/** Says, once at cold start, that an `IDEMPOTENCY_*` variable is not read here, and which option to set. */
function warnAboutVariables(telemetry: Telemetry): void {
  const options: Record<string, string> = {
    IDEMPOTENCY_MODE: '`mode`',
    IDEMPOTENCY_ENV: '`environment`',
    IDEMPOTENCY_ENFORCE_METHODS: '`enforceMethods`',
    IDEMPOTENCY_TABLE: '`table`',
  };
  for (const name of Object.keys(process.env)) {
    if (!name.startsWith('IDEMPOTENCY_')) continue;
    telemetry.warn(
      `\`${name}\` is set, but \`edgeIdempotency\` never reads it: Lambda@Edge has no environment variables, so every setting is code; set ${options[name] ?? 'the matching option'} of \`edgeIdempotency\` instead.`,
    );
  }
}

function correlationOf(headers: Readonly<Record<string, string>>): string {
  const candidate = headers[CORRELATION_HEADER] ?? headers['x-request-id'];
  return candidate !== undefined && /^[\x21-\x7e]{1,128}$/.test(candidate) ? candidate : randomUUID();
}
