import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../playground/page.js';
import { keyDigest } from '../../src/core/keys.js';
import { CHROMIUM_VARIABLE, findChromium } from './browser.js';
import { type NodeProcess, REPO_ROOT, startNpm, stopAll } from './processes.js';
import { openEventStream } from './sse.js';

const executablePath = findChromium();
if (executablePath === undefined) {
  console.warn(
    `No Chromium found (${CHROMIUM_VARIABLE}, /usr/bin/chromium, /usr/bin/chromium-browser): the playground page test in a browser does not run (apt-get install chromium).`,
  );
}

/** Where the page's screenshot goes: `.cache/` is ignored by git. */
const SCREENSHOTS = join(REPO_ROOT, '.cache', 'test-results');

/** A body with a marker that must never reach the page or its events. */
const orderBody = (marker: string) => JSON.stringify({ items: [{ sku: marker, quantity: 2 }] });

describe('the playground page (npm start)', () => {
  let playground: NodeProcess;
  let api: string;
  let pageUrl: string;

  beforeAll(async () => {
    playground = startNpm(['start'], { PORT: '0' });
    await playground.waitFor(/Ctrl-C stops every server/);
    const output = playground.output();
    api = output.match(/ready in \d+ ms: (http:\/\/127\.0\.0\.1:\d+)/)?.[1] ?? '';
    pageUrl = output.match(/open (http:\/\/127\.0\.0\.1:\d+\/_playground\/)/)?.[1] ?? '';
    expect(pageUrl, output).toBe(`${api}/_playground/`);
  }, 300_000);
  afterAll(stopAll);

  const order = (key: string, body: string) =>
    fetch(`${api}/orders`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer dev:acme',
        'idempotency-key': key,
        'content-type': 'application/json',
      },
      body,
    });

  it("streams a request's decision as a server-sent event, with the key's digest and never the key or body", async () => {
    const key = `sse-${randomUUID()}`;
    const marker = `secret-sku-${randomUUID()}`;
    const stream = await openEventStream(`${api}/_playground/events`);
    try {
      expect(stream.status).toBe(200);
      expect(stream.contentType).toMatch(/^text\/event-stream/);
      await stream.next((event) => event.event === 'snapshot');
      expect((await order(key, orderBody(marker))).status).toBe(201);
      const event = await stream.next(
        (candidate) =>
          candidate.event === 'decision' &&
          (JSON.parse(candidate.data) as DecisionEvent).decision.keyDigest === keyDigest(key),
      );
      const { decision, board } = JSON.parse(event.data) as DecisionEvent;
      expect(decision).toMatchObject({ signal: 'first_execution', scope: 'create-order', org: 'acme' });
      const row = board.rows.find((candidate) => candidate.scope === 'create-order');
      expect(row?.decisions.first_execution).toBeGreaterThanOrEqual(1);
      expect(stream.raw()).not.toContain(key);
      expect(stream.raw()).not.toContain(marker);
    } finally {
      stream.close();
    }
  }, 120_000);

  describe.runIf(executablePath !== undefined)('in headless Chromium', () => {
    /** The count a cell of the counts table shows for create-order in enforce mode (0 before its row). */
    const count = async (page: Page, kind: string) => {
      const cell = page.locator(
        `#counts tr[data-scope="create-order"][data-mode="enforce"] td[data-kind="${kind}"]`,
      );
      return (await cell.count()) === 0 ? 0 : Number(await cell.getAttribute('data-count'));
    };
    const countCell = (kind: string, value: number) =>
      `#counts tr[data-scope="create-order"][data-mode="enforce"] td[data-kind="${kind}"][data-count="${value}"]`;

    it('shows a retried request as a replay, and the counts change, as requests arrive', async () => {
      const browser: Browser = await chromium.launch({ executablePath, headless: true });
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        // Generous bounds for a loaded machine: each wait ends as soon as the page shows the thing.
        page.setDefaultTimeout(120_000);
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(pageUrl);
        await page.waitForSelector('#status[data-state="live"]');
        const before = { first: await count(page, 'first_execution'), replay: await count(page, 'replay') };

        const key = `page-${randomUUID()}`;
        const marker = `secret-sku-${randomUUID()}`;
        const digest = keyDigest(key);
        expect((await order(key, orderBody(marker))).status).toBe(201);
        await page.waitForSelector(
          `#decisions tr[data-signal="first_execution"][data-key-digest="${digest}"]`,
        );
        await page.waitForSelector(countCell('first_execution', before.first + 1));

        const retry = await order(key, orderBody(marker));
        expect(retry.status).toBe(201);
        expect(retry.headers.get('idempotent-replayed')).toBe('true');
        const replay = await page.waitForSelector(
          `#decisions tr[data-signal="replay"][data-key-digest="${digest}"]`,
        );
        expect(await replay.textContent()).toContain(`${digest.slice(0, 10)}…`);
        expect(await replay.textContent()).toContain('duplicate: stored result replayed, not run');
        await page.waitForSelector(countCell('replay', before.replay + 1));
        expect(await count(page, 'first_execution')).toBe(before.first + 1);
        // Newest first: the replay sits above its first execution.
        const newest = page.locator('#decisions tbody tr').first();
        expect(await newest.getAttribute('data-key-digest')).toBe(digest);
        expect(await newest.getAttribute('data-signal')).toBe('replay');

        const html = await page.content();
        expect(html).not.toContain(key);
        expect(html).not.toContain(marker);
        expect(errors).toEqual([]);

        mkdirSync(SCREENSHOTS, { recursive: true });
        const path = join(SCREENSHOTS, 'playground-page.png');
        await page.screenshot({ path, fullPage: true });
        expect(readFileSync(path).subarray(1, 4).toString()).toBe('PNG');
      } finally {
        await browser.close();
      }
    }, 240_000);
  });
});
