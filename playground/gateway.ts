import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, Context } from 'aws-lambda';
import { CORRELATION_HEADER } from '../src/http/middleware.js';
import { PROBLEM_BASE } from '../src/http/problem.js';
import { FunctionTimeoutError, invoke, type LocalFunction } from './lambda.js';

/** A response as a handler or the playground answers: Lambda's proxy result shape. */
export interface GatewayResponse {
  statusCode: number;
  headers?: Record<string, string | number | boolean>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

/** One route of the HTTP API: `POST /orders` and the function behind it. */
export interface GatewayRoute {
  readonly fn: LocalFunction;
  readonly handler: (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: Context) => Promise<unknown>;
}

/** A request the gateway read, for the playground's own `/_playground/*` routes. */
export interface GatewayRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The org of a valid development token, if any. */
  readonly org: string | undefined;
}

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** `0` picks a free port. */
  readonly port: number;
  /** Routes by route key, `METHOD /path`. */
  readonly routes: ReadonlyMap<string, GatewayRoute>;
  /** Bodies over this many bytes get 413. */
  readonly maxBodyBytes: number;
  /** Answers `/_playground/*` requests; `undefined` means no such route. */
  readonly admin?: (request: GatewayRequest) => Promise<GatewayResponse | undefined>;
  /**
   * Takes a request whose answer is a stream (the page's server-sent events) before the gateway reads it,
   * and returns whether it did. @default none
   */
  readonly stream?: (request: IncomingMessage, response: ServerResponse) => boolean;
  /** One line per request (method, path, status, time). @default ignore */
  readonly onAccess?: (line: string) => void;
  /** A handler that threw or timed out, already answered with 500/504. @default ignore */
  readonly onCrash?: (error: unknown, route: string) => void;
}

/** A running local HTTP API. */
export interface Gateway {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** The development token's shape: `Authorization: Bearer dev:<org>`. */
export const DEV_TOKEN_PREFIX = 'dev:';
const ADMIN_PREFIX = '/_playground/';
/** Content types API Gateway passes as text; anything else arrives base64-encoded. */
const TEXT_TYPES = /^(text\/|application\/(json|[\w.+-]+\+json|xml|x-www-form-urlencoded|javascript))/i;

/**
 * An answer in the library's problem+json shape (RFC 9457) for what the playground itself refuses.
 *
 * @example
 * problem(404, 'not-found', 'No such route', 'The API serves POST /orders.');
 */
export function problem(
  status: number,
  slug: string,
  title: string,
  detail: string,
  headers: Record<string, string> = {},
): GatewayResponse {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/problem+json', ...headers },
    body: JSON.stringify({ type: `${PROBLEM_BASE}playground/${slug}`, title, status, detail }),
  };
}

/**
 * Serves routes as API Gateway's HTTP API does with a JWT authorizer: each request becomes a payload 2.0
 * event whose `requestContext.authorizer.jwt.claims.org_id` comes from a development token
 * (`Authorization: Bearer dev:<org>`), and the function runs with a Lambda-like context and its real
 * timeout. Unknown routes get 404, bodies over the limit 413, a missing token 401, a crash 500 and a
 * timeout 504, each as problem+json; the server itself never goes down with a handler.
 *
 * @example
 * const gateway = await startGateway({ port: 3000, routes, maxBodyBytes: 1_048_576 });
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const server: Server = createServer((request, response) => {
    if (options.stream?.(request, response) === true) return;
    const startedAt = Date.now();
    const correlationId = correlationOf(request);
    handle(request, options)
      .catch((error: unknown) => {
        options.onCrash?.(error, `${request.method} ${request.url}`);
        return problem(
          500,
          'internal-error',
          'The playground failed',
          'The playground could not answer this request; its log says why.',
        );
      })
      .then((answer) => {
        send(response, withCorrelationId(answer, correlationId));
        options.onAccess?.(
          `${request.method} ${(request.url ?? '/').split('?')[0]} → ${answer.statusCode} in ${Date.now() - startedAt} ms`,
        );
      })
      .catch(() => response.destroy());
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(request: IncomingMessage, options: GatewayOptions): Promise<GatewayResponse> {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const method = (request.method ?? 'GET').toUpperCase();
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
    request.resume();
    return tooLarge(options.maxBodyBytes);
  }
  const body = await readBody(request, options.maxBodyBytes);
  if (body === undefined) return tooLarge(options.maxBodyBytes);
  const headers = flatHeaders(request);
  const org = orgFromToken(headers.authorization);

  if (url.pathname.startsWith(ADMIN_PREFIX)) {
    const answer = await options.admin?.({ method, path: url.pathname, headers, body, org });
    return answer ?? notFound(method, url.pathname, options.routes);
  }
  const routeKey = `${method} ${url.pathname}`;
  const route = options.routes.get(routeKey);
  if (route === undefined) return notFound(method, url.pathname, options.routes);
  if (org === undefined) {
    return problem(
      401,
      'unauthorized',
      'Development token required',
      `Send \`Authorization: Bearer ${DEV_TOKEN_PREFIX}<org>\`, e.g. \`Authorization: Bearer ${DEV_TOKEN_PREFIX}acme\`; the playground's authorizer puts <org> in the org_id claim.`,
      { 'www-authenticate': 'Bearer' },
    );
  }
  const event = httpApiEvent({
    routeKey,
    method,
    url,
    headers,
    body,
    org,
    sourceIp: request.socket.remoteAddress,
  });
  let result: unknown;
  try {
    result = await invoke(route.fn, route.handler, event);
  } catch (error) {
    options.onCrash?.(error, routeKey);
    if (error instanceof FunctionTimeoutError) {
      return problem(
        504,
        'function-timeout',
        'The function timed out',
        `${route.fn.functionName} ran past its ${route.fn.timeoutMs / 1000} s timeout; retry with the same Idempotency-Key.`,
      );
    }
    return problem(
      500,
      'function-error',
      'The function failed',
      `${route.fn.functionName} threw ${error instanceof Error ? error.name : typeof error}; the playground's log has the stack. Retry with the same Idempotency-Key.`,
    );
  }
  return toResponse(result);
}

/** The org in `Bearer dev:<org>`, or `undefined` for any other or missing token. */
export function orgFromToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+dev:(.+)$/i.exec(authorization?.trim() ?? '');
  return match?.[1] === undefined ? undefined : match[1].trim() || undefined;
}

interface EventInput {
  readonly routeKey: string;
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly org: string;
  readonly sourceIp: string | undefined;
}

/** The payload 2.0 event API Gateway's HTTP API sends, with the claims a JWT authorizer would add. */
export function httpApiEvent(input: EventInput): APIGatewayProxyEventV2WithJWTAuthorizer {
  const now = Date.now();
  const { cookie, ...headers } = input.headers;
  const isText = input.body.length === 0 || TEXT_TYPES.test(headers['content-type'] ?? 'application/json');
  const query: Record<string, string> = {};
  for (const [name, value] of input.url.searchParams) {
    query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  }
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: input.routeKey,
    rawPath: input.url.pathname,
    rawQueryString: input.url.search.replace(/^\?/, ''),
    ...(cookie === undefined ? {} : { cookies: cookie.split(/;\s*/) }),
    headers: {
      ...headers,
      'x-amzn-trace-id': `Root=1-${now.toString(16)}-${requestId.replaceAll('-', '').slice(0, 24)}`,
    },
    ...(Object.keys(query).length === 0 ? {} : { queryStringParameters: query }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'playground',
      authorizer: {
        principalId: '',
        integrationLatency: 0,
        jwt: {
          claims: {
            sub: `dev-user@${input.org}`,
            org_id: input.org,
            iss: 'https://playground.idemkit.local/',
            aud: 'idemkit-orders',
            iat: Math.floor(now / 1000),
            exp: Math.floor(now / 1000) + 3600,
          },
          scopes: [],
        },
      },
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'playground',
      http: {
        method: input.method,
        path: input.url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: input.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: input.routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(input.body.length === 0
      ? {}
      : { body: isText ? input.body.toString('utf8') : input.body.toString('base64') }),
    isBase64Encoded: !isText,
  } as APIGatewayProxyEventV2WithJWTAuthorizer;
}

/** A handler's result as HTTP API payload 2.0 reads it: a structured response, or a body to send as JSON. */
export function toResponse(result: unknown): GatewayResponse {
  if (typeof result === 'object' && result !== null && 'statusCode' in result) {
    return result as GatewayResponse;
  }
  if (result === undefined) return { statusCode: 200 };
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: typeof result === 'string' ? result : JSON.stringify(result),
  };
}

/**
 * The request's correlation id, as the library reads it: `x-correlation-id`, else `x-request-id`, else a new
 * one. The playground's own answers (401, 404, 413, 500, 504) carry it too, so every answer can be found
 * in the log by it.
 */
function correlationOf(request: IncomingMessage): string {
  const sent = request.headers[CORRELATION_HEADER] ?? request.headers['x-request-id'];
  const candidate = Array.isArray(sent) ? sent[0] : sent;
  return candidate !== undefined && /^[\x21-\x7e]{1,128}$/.test(candidate) ? candidate : randomUUID();
}

/** `answer` with the correlation header, unless the handler's middleware already set one. */
function withCorrelationId(answer: GatewayResponse, correlationId: string): GatewayResponse {
  const headers = answer.headers ?? {};
  if (Object.keys(headers).some((name) => name.toLowerCase() === CORRELATION_HEADER)) return answer;
  return { ...answer, headers: { ...headers, [CORRELATION_HEADER]: correlationId } };
}

function send(response: ServerResponse, answer: GatewayResponse): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(answer.headers ?? {})) headers[name] = String(value);
  if (answer.cookies !== undefined && answer.cookies.length > 0) headers['set-cookie'] = answer.cookies;
  const body =
    answer.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(answer.body, answer.isBase64Encoded === true ? 'base64' : 'utf8');
  response.writeHead(answer.statusCode, headers);
  response.end(body);
}

function tooLarge(limit: number): GatewayResponse {
  return problem(
    413,
    'payload-too-large',
    'Request body too large',
    `The body is over the limit of ${limit} bytes; send a smaller body (PLAYGROUND_MAX_BODY_BYTES sets the limit).`,
  );
}

function notFound(method: string, path: string, routes: ReadonlyMap<string, GatewayRoute>): GatewayResponse {
  return problem(
    404,
    'not-found',
    'No such route',
    `Nothing answers ${method} ${path.slice(0, 100)}; the API serves ${[...routes.keys()].join(', ')}.`,
  );
}

/**
 * Reads the body, or `undefined` when it passes `limit` bytes. The rest of an oversized body is read and
 * dropped, so the client, still sending, gets the 413 instead of a reset connection.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    request.once('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

function flatHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}
