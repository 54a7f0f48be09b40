/** Where the problem types are documented; each `type` URI is stable (RFC 9457). */
export const PROBLEM_BASE = 'https://idemkit.dev/problems/';

/** Every problem the middleware answers with: status, stable type and title. */
export const Problem = {
  MissingKey: { status: 400, slug: 'missing-idempotency-key', title: 'Idempotency-Key header required' },
  InvalidKey: { status: 400, slug: 'invalid-idempotency-key', title: 'Idempotency-Key header malformed' },
  InvalidOrg: { status: 400, slug: 'invalid-org', title: 'Organization could not be determined' },
  KeyMismatch: {
    status: 422,
    slug: 'idempotency-key-reused',
    title: 'Idempotency-Key reused with a different request',
  },
  PreviouslyFailed: {
    status: 422,
    slug: 'operation-failed',
    title: 'The operation with this Idempotency-Key failed permanently',
  },
  InProgress: {
    status: 409,
    slug: 'request-in-progress',
    title: 'A request with this Idempotency-Key is in progress',
  },
  PreconditionFailed: {
    status: 412,
    slug: 'precondition-failed',
    title: 'The resource changed since the version in If-Match',
  },
  PreconditionRequired: {
    status: 428,
    slug: 'precondition-required',
    title: 'This request needs an If-Match header',
  },
  StoreUnavailable: {
    status: 503,
    slug: 'idempotency-store-unavailable',
    title: 'Idempotency store unavailable',
  },
} as const;

/** One of {@link Problem}. */
export type ProblemKind = (typeof Problem)[keyof typeof Problem];

/** A Lambda proxy response. */
export interface ProxyResponse {
  statusCode: number;
  headers?: Record<string, string | number | boolean>;
  multiValueHeaders?: Record<string, (string | number | boolean)[]>;
  body?: string;
  isBase64Encoded?: boolean;
  cookies?: string[];
}

/**
 * An `application/problem+json` response: stable `type`, `title`, `status` and a `detail` that says what to do.
 *
 * @example
 * problemResponse(Problem.InProgress, 'Retry after 3 seconds.', { 'Retry-After': '3' });
 */
export function problemResponse(
  problem: ProblemKind,
  detail: string,
  headers: Record<string, string> = {},
): ProxyResponse {
  return {
    statusCode: problem.status,
    headers: { 'Content-Type': 'application/problem+json', ...headers },
    body: JSON.stringify({
      type: `${PROBLEM_BASE}${problem.slug}`,
      title: problem.title,
      status: problem.status,
      detail,
    }),
  };
}
