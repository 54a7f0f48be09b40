import { afterEach, describe, expect, it } from 'vitest';
import { percentile, RolloutBoard } from '../../playground/board.js';
import { DecisionFeed, type DecisionRecord, parseLogLine } from '../../playground/decisions.js';
import { type Gateway, startGateway } from '../../playground/gateway.js';
import {
  type DecisionEvent,
  EVENTS_PATH,
  LiveView,
  PAGE_PATH,
  type SnapshotEvent,
} from '../../playground/page.js';
import { keyDigest } from '../../src/core/keys.js';
import { METRICS } from '../../src/core/metrics.js';
import { createTelemetry, Signal } from '../../src/core/telemetry.js';
import { captureLogs } from '../support/log-capture.js';
import { findChromium } from './browser.js';
import { openEventStream } from './sse.js';

const record = (signal: string, overrides: Partial<DecisionRecord> = {}): DecisionRecord => ({
  signal,
  scope: 'create-order',
  mode: 'enforce',
  org: 'acme',
  keyDigest: keyDigest('order-1'),
  detail: {},
  at: new Date('2026-01-02T03:04:05.678Z'),
  ...overrides,
});

/**
 * Runs `signals` through the library's default telemetry, as a handler would, and returns its output: the
 * decision lines the playground reads, and the EMF documents the dashboard graphs.
 */
function telemetryOutput(signals: readonly [Signal, string, string, number?][]): string[] {
  const saved = {
    level: process.env.POWERTOOLS_LOG_LEVEL,
    disabled: process.env.POWERTOOLS_METRICS_DISABLED,
  };
  // Every decision logged, as the playground's handlers log them, and metrics on, as in Lambda.
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  const logs = captureLogs();
  try {
    const telemetry = createTelemetry() as ReturnType<typeof createTelemetry> & { flush?: () => void };
    for (const [signal, scope, mode, waitedMs] of signals) {
      telemetry.emit(signal, {
        scope,
        mode,
        keyDigest: keyDigest('k'),
        ...(waitedMs === undefined ? {} : { detail: { waitedMs, outcome: 'replay' } }),
      });
      telemetry.flush?.();
    }
  } finally {
    logs.stop();
    if (saved.level === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
    else process.env.POWERTOOLS_LOG_LEVEL = saved.level;
    if (saved.disabled !== undefined) process.env.POWERTOOLS_METRICS_DISABLED = saved.disabled;
  }
  return logs.lines;
}

/** What the EMF documents say, per `scope/mode`: each metric's summed count, and the wait values. */
function emfTotals(lines: readonly string[]) {
  const totals = new Map<string, { counts: Record<string, number>; waits: number[] }>();
  for (const line of lines) {
    const parsed = JSON.parse(line) as Record<string, unknown> & {
      _aws?: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] };
    };
    if (parsed._aws === undefined) continue;
    const id = `${String(parsed.scope)}/${String(parsed.mode)}`;
    const total = totals.get(id) ?? { counts: {}, waits: [] };
    totals.set(id, total);
    for (const { Metrics } of parsed._aws.CloudWatchMetrics) {
      for (const { Name } of Metrics) {
        const value = parsed[Name] as number | number[];
        if (Name === METRICS.waitTime) total.waits.push(...[value].flat());
        else total.counts[Name] = (total.counts[Name] ?? 0) + [value].flat().reduce((a, b) => a + b, 0);
      }
    }
  }
  return totals;
}

describe("the playground's rollout board", () => {
  it('counts per scope and mode exactly what the EMF metrics the dashboard graphs count', () => {
    const lines = telemetryOutput([
      [Signal.FirstExecution, 'create-order', 'enforce'],
      [Signal.Replay, 'create-order', 'enforce'],
      [Signal.Replay, 'create-order', 'enforce'],
      [Signal.Waited, 'create-order', 'enforce', 40],
      [Signal.Waited, 'create-order', 'enforce', 10],
      [Signal.Waited, 'create-order', 'enforce', 990],
      [Signal.Mismatch, 'create-order', 'enforce'],
      [Signal.InProgress, 'create-order', 'enforce'],
      [Signal.StoreError, 'create-order', 'enforce'],
      [Signal.FirstExecution, 'create-order', 'observe'],
      [Signal.WouldReplay, 'create-order', 'observe'],
      [Signal.WouldReject, 'create-order', 'observe'],
      [Signal.LeaseLost, 'send-invoice-email', 'enforce'],
      [Signal.Released, 'send-invoice-email', 'enforce'],
    ]);
    const board = new RolloutBoard();
    for (const line of lines) {
      const parsed = parseLogLine(line);
      if (parsed?.kind === 'decision') board.add(parsed.record);
    }
    const emf = emfTotals(lines);
    const rows = board.snapshot().rows;
    expect(rows.map((row) => `${row.scope}/${row.mode}`)).toEqual([
      'create-order/enforce',
      'create-order/observe',
      'send-invoice-email/enforce',
    ]);
    for (const row of rows) {
      const metrics = emf.get(`${row.scope}/${row.mode}`);
      expect(metrics, `${row.scope}/${row.mode} has EMF documents`).toBeDefined();
      for (const kind of [...METRICS.decisions, ...METRICS.incidents]) {
        const shown = kind in row.decisions ? row.decisions[kind as never] : row.incidents[kind as never];
        expect(shown, `${row.scope}/${row.mode} ${kind}`).toBe(metrics?.counts[kind] ?? 0);
      }
      const waits = [...(metrics?.waits ?? [])].sort((a, b) => a - b);
      expect(row.wait.count).toBe(waits.length);
      if (waits.length > 0) {
        expect(row.wait.p50).toBe(percentile(waits, 50));
        expect(row.wait.p99).toBe(percentile(waits, 99));
      }
    }
    const enforce = rows[0];
    expect(enforce?.decisions).toMatchObject({ first_execution: 1, replay: 2, waited: 3, mismatch: 1 });
    expect(enforce?.incidents).toEqual({ store_error: 1, lease_lost: 0 });
    expect(enforce?.wait).toEqual({ count: 3, p50: 40, p99: 990 });
    expect(rows[2]?.incidents).toEqual({ store_error: 0, lease_lost: 1 });
  });

  it("lists every kind in the dashboard's order, 0 when none, and counts no other signal", () => {
    const board = new RolloutBoard();
    expect(board.add(record('released'))).toBe(false);
    expect(board.snapshot().rows).toEqual([]);
    expect(board.add(record('replay'))).toBe(true);
    const snapshot = board.snapshot();
    expect(snapshot.decisionKinds).toEqual(METRICS.decisions);
    expect(snapshot.incidentKinds).toEqual([Signal.StoreError, Signal.LeaseLost]);
    expect(snapshot.rows).toEqual([
      {
        scope: 'create-order',
        mode: 'enforce',
        decisions: {
          first_execution: 0,
          replay: 1,
          would_replay: 0,
          mismatch: 0,
          would_reject: 0,
          in_progress: 0,
          waited: 0,
        },
        incidents: { store_error: 0, lease_lost: 0 },
        wait: { count: 0 },
      },
    ]);
  });

  it('takes the nearest-rank percentile, always a wait that happened', () => {
    const hundred = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 99)).toBe(40);
  });
});

describe("the playground page's event stream, in process", () => {
  let gateway: Gateway | undefined;
  let view: LiveView | undefined;
  afterEach(async () => {
    view?.close();
    await gateway?.stop();
    gateway = undefined;
    view = undefined;
  });

  async function serve(feed: DecisionFeed): Promise<string> {
    const live = new LiveView(feed);
    view = live;
    gateway = await startGateway({
      port: 0,
      maxBodyBytes: 1024,
      routes: new Map(),
      admin: async (request) => live.asset(request),
      stream: (request, response) => live.stream(request, response),
    });
    return gateway.url;
  }

  const publish = (feed: DecisionFeed, decision: DecisionRecord) => {
    feed.decisions.push(decision);
    feed.emit('decision', decision);
  };

  it('sends a snapshot of what came before, then each decision with the counts after it', async () => {
    const feed = new DecisionFeed();
    publish(feed, record('first_execution'));
    const url = await serve(feed);
    const stream = await openEventStream(`${url}${EVENTS_PATH}`);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    try {
      const snapshot = JSON.parse(
        (await stream.next((event) => event.event === 'snapshot')).data,
      ) as SnapshotEvent;
      expect(snapshot.total).toBe(1);
      expect(snapshot.decisions.map((decision) => decision.signal)).toEqual(['first_execution']);
      expect(snapshot.board.rows[0]?.decisions.first_execution).toBe(1);

      publish(feed, record('replay', { detail: { attempt: 1, nested: { raw: 'secret-value' } } }));
      const event = JSON.parse(
        (await stream.next((candidate) => candidate.event === 'decision')).data,
      ) as DecisionEvent;
      expect(event.decision).toMatchObject({
        signal: 'replay',
        scope: 'create-order',
        keyDigest: keyDigest('order-1'),
        meaning: 'duplicate: stored result replayed, not run',
        detail: { attempt: 1 },
        at: '2026-01-02T03:04:05.678Z',
      });
      expect(event.total).toBe(2);
      expect(event.board.rows[0]?.decisions).toMatchObject({ first_execution: 1, replay: 1 });
      expect(stream.raw()).not.toContain('secret-value');
    } finally {
      stream.close();
    }
  });

  it('forgets a page that closed its stream', async () => {
    const feed = new DecisionFeed();
    const url = await serve(feed);
    const stream = await openEventStream(`${url}${EVENTS_PATH}`);
    await stream.next((event) => event.event === 'snapshot');
    expect(view?.clients).toBe(1);
    stream.close();
    while (view?.clients !== 0) await new Promise((resolve) => setTimeout(resolve, 10));
    publish(feed, record('replay'));
    expect(view?.board.snapshot().rows[0]?.decisions.replay).toBe(1);
  });

  it('serves the page, its script and style with a policy that runs only its own script', async () => {
    const url = await serve(new DecisionFeed());
    const page = await fetch(`${url}${PAGE_PATH}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script src="page.js" defer></script>');
    const script = await fetch(`${url}${PAGE_PATH}page.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain("new EventSource('events')");
    expect((await fetch(`${url}${PAGE_PATH}page.css`)).status).toBe(200);
    expect((await fetch(`${url}${PAGE_PATH}nothing.js`)).status).toBe(404);
    expect((await fetch(`${url}${PAGE_PATH}`, { method: 'POST' })).status).toBe(404);
  });
});

describe("the page test's browser", () => {
  it('is IDEMKIT_CHROMIUM when set, else the first Debian path that exists, else none (the test is skipped)', () => {
    const node = process.execPath; // an executable that exists on every machine running this test
    expect(findChromium({ IDEMKIT_CHROMIUM: node }, ['/nonexistent/chromium'])).toBe(node);
    expect(findChromium({}, ['/nonexistent/chromium', node])).toBe(node);
    expect(findChromium({ IDEMKIT_CHROMIUM: ' ' }, ['/nonexistent/chromium'])).toBeUndefined();
    expect(() => findChromium({ IDEMKIT_CHROMIUM: '/nonexistent/chrome' }, [node])).toThrow(
      /Expected `IDEMKIT_CHROMIUM` to name an executable browser, got \/nonexistent\/chrome/,
    );
  });
});
