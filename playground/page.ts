import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type BoardSnapshot, RolloutBoard } from './board.js';
import { type DecisionFeed, type DecisionRecord, meaningOf } from './decisions.js';
import type { GatewayRequest, GatewayResponse } from './gateway.js';

/** Where the page lives: `GET /_playground/` in a browser. */
export const PAGE_PATH = '/_playground/';
/** The server-sent events the page listens to: `snapshot` once on connect, then one `decision` per decision. */
export const EVENTS_PATH = '/_playground/events';

/**
 * One decision as the page shows it: a {@link DecisionRecord} with its time as text, its meaning in words and
 * scalar facts only, so names, digests and numbers, never a raw key, payload or result.
 */
export interface PageDecision extends Omit<DecisionRecord, 'at' | 'detail'> {
  readonly at: string;
  readonly meaning: string;
  /** The library's extra facts (`waitedMs`, `attempt`, `outcome`), scalars only. */
  readonly detail: Readonly<Record<string, string | number | boolean>>;
}

/** The `snapshot` event: the counts and the latest decisions, oldest first. */
export interface SnapshotEvent {
  readonly board: BoardSnapshot;
  readonly decisions: readonly PageDecision[];
  /** Decisions seen since start, including those no longer in `decisions`. */
  readonly total: number;
}

/** A `decision` event: the decision and the counts after it. */
export interface DecisionEvent {
  readonly decision: PageDecision;
  readonly board: BoardSnapshot;
  readonly total: number;
}

/** How many decisions a newly opened page gets. */
const RECENT = 200;
/** A page that reads slower than this many buffered bytes is dropped; its `EventSource` reconnects. */
const MAX_BUFFERED_BYTES = 1_048_576;
/** A comment line this often keeps idle connections open through proxies. */
const HEARTBEAT_MS = 15_000;

const ASSETS = {
  [PAGE_PATH]: { file: 'index.html', type: 'text/html; charset=utf-8' },
  [`${PAGE_PATH}page.js`]: { file: 'page.js', type: 'text/javascript; charset=utf-8' },
  [`${PAGE_PATH}page.css`]: { file: 'page.css', type: 'text/css; charset=utf-8' },
} as const;

// The page runs only its own script and talks only to this server.
const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

/**
 * The playground's page: the live decisions and the dashboard's counts ({@link RolloutBoard}), pushed to
 * every open page as server-sent events as the handlers log them. Plain HTML and one small script from
 * `playground/page/`, no build step.
 *
 * @example
 * const view = new LiveView(feed);
 * startGateway({ ..., admin: (request) => view.asset(request), stream: (req, res) => view.stream(req, res) });
 */
export class LiveView {
  readonly board = new RolloutBoard();
  readonly #recent: PageDecision[] = [];
  readonly #clients = new Set<ServerResponse>();
  readonly #assets = new Map<string, { body: string; type: string }>();
  readonly #heartbeat: NodeJS.Timeout;
  #total = 0;
  readonly #onDecision = (record: DecisionRecord) => this.#add(record);

  constructor(private readonly feed: DecisionFeed) {
    for (const [path, { file, type }] of Object.entries(ASSETS)) {
      this.#assets.set(path, {
        body: readFileSync(new URL(`./page/${file}`, import.meta.url), 'utf8'),
        type,
      });
    }
    for (const record of feed.decisions) this.#add(record);
    feed.on('decision', this.#onDecision);
    this.#heartbeat = setInterval(() => {
      for (const client of this.#clients) client.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /** The page's files (`GET /_playground/`, its script and style); `undefined` for any other request. */
  asset(request: GatewayRequest): GatewayResponse | undefined {
    const asset = request.method === 'GET' ? this.#assets.get(request.path) : undefined;
    if (asset === undefined) return undefined;
    return { statusCode: 200, headers: { 'content-type': asset.type, ...PAGE_HEADERS }, body: asset.body };
  }

  /**
   * Answers `GET /_playground/events` with an event stream and returns `true`; any other request is left
   * to the gateway (`false`).
   */
  stream(request: IncomingMessage, response: ServerResponse): boolean {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || path !== EVENTS_PATH) return false;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    response.flushHeaders();
    const snapshot: SnapshotEvent = {
      board: this.board.snapshot(),
      decisions: this.#recent,
      total: this.#total,
    };
    // A reconnecting page gets a fresh snapshot, so it never needs the events it missed.
    response.write(`retry: 1000\n${frame('snapshot', snapshot)}`);
    this.#clients.add(response);
    const forget = () => this.#clients.delete(response);
    request.once('close', forget);
    response.once('close', forget);
    return true;
  }

  /** How many pages are connected. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Ends every stream and stops listening to the feed. */
  close(): void {
    clearInterval(this.#heartbeat);
    this.feed.off('decision', this.#onDecision);
    for (const client of this.#clients) client.end();
    this.#clients.clear();
  }

  #add(record: DecisionRecord): void {
    this.board.add(record);
    this.#total += 1;
    const decision = pageDecision(record);
    this.#recent.push(decision);
    if (this.#recent.length > RECENT) this.#recent.shift();
    if (this.#clients.size === 0) return;
    const event: DecisionEvent = { decision, board: this.board.snapshot(), total: this.#total };
    const text = frame('decision', event);
    for (const client of this.#clients) {
      if (client.writableLength > MAX_BUFFERED_BYTES) client.destroy();
      else client.write(text);
    }
  }
}

/**
 * A decision as the page shows it, from what the library logged: the key only as its digest, and of the
 * extra facts only strings, numbers and booleans.
 *
 * @example
 * pageDecision(record).keyDigest;
 */
export function pageDecision(record: DecisionRecord): PageDecision {
  const detail: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(record.detail)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      detail[name] = value;
  }
  return {
    at: record.at.toISOString(),
    signal: record.signal,
    meaning: meaningOf(record.signal),
    scope: record.scope,
    mode: record.mode,
    org: record.org,
    keyDigest: record.keyDigest,
    correlationId: record.correlationId,
    service: record.service,
    detail,
  };
}

/** One server-sent event; JSON has no raw line breaks, so `data` is one line. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
