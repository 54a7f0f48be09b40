import { assertValidName } from '../core/keys.js';
import { type HttpRequestView, readHttpEvent } from '../http/event.js';

/**
 * Options of {@link httpIdentity}: how a request names its record, configured once and imported by both the
 * origin (`httpIdempotency`) and the edge (`edgeIdempotency`), so both derive the same `pk` and fingerprint.
 *
 * @example
 * { scope: 'create-order', org: (request) => request.headers['x-org-id'], originPath: (uri) => uri.replace(/^\/api/, '') }
 */
export interface HttpIdentityOptions {
  /** The operation's name. Required: the edge cannot see the origin's route template. */
  readonly scope: string;
  /**
   * The tenant, from what both doors see of the request: a constant, or a function of the request (lower-cased
   * headers). An authorizer's claims exist only at the origin, so they cannot name the org here; a header
   * verified before the edge (or a constant) can.
   */
  readonly org: string | ((request: HttpRequestView) => string | undefined);
  /**
   * The path the origin sees for a CloudFront URI (an API Gateway stage or CloudFront origin path removed).
   * @default the URI unchanged
   */
  readonly originPath?: (uri: string) => string;
}

/** What {@link httpIdentity} returns: the shared rule, and the options the origin spreads into `httpIdempotency`. */
export interface HttpIdentity {
  readonly scope: string;
  /** The org of a request, `undefined` when it names none. */
  readonly orgOf: (request: HttpRequestView) => string | undefined;
  /** The path the origin sees for a CloudFront URI. */
  readonly originPath: (uri: string) => string;
  /** Spread into `httpIdempotency({ store, ...identity.origin })`. */
  readonly origin: { readonly scope: string; readonly org: (event: unknown) => string | undefined };
}

/**
 * One definition of how a request names its record, shared by the origin and the edge (docs/protocol.md
 * section 11): the same scope, the same org source and the same path.
 *
 * @example
 * export const createOrder = httpIdentity({ scope: 'create-order', org: (request) => request.headers['x-org-id'] });
 * // origin: middy(handler).use(httpIdempotency({ store, ...createOrder.origin }))
 * // edge:   export const handler = edgeIdempotency({ identity: createOrder, table: { name, regions } })
 */
export function httpIdentity(options: HttpIdentityOptions): HttpIdentity {
  const { scope, org } = options;
  // Checked as the origin checks it, once, at cold start.
  assertValidName('scope', scope);
  if (typeof org !== 'string' && typeof org !== 'function') {
    throw new TypeError(
      `Expected \`org\` of \`httpIdentity\` to be a string or a function of the request, got ${typeof org}.`,
    );
  }
  const orgOf = (request: HttpRequestView) => (typeof org === 'string' ? org : org(request));
  return {
    scope,
    orgOf,
    originPath: options.originPath ?? ((uri) => uri),
    origin: {
      scope,
      org: (event: unknown) => {
        const view = readHttpEvent(event);
        return view === undefined ? undefined : orgOf(view);
      },
    },
  };
}
