import middy from '@middy/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { httpIdempotency } from '../../src/http/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { EVENT_KINDS, type HttpResult, httpEvent, lambdaContext, orgOf } from './harness.js';

const DOCUMENTED = new Set([200, 201, 400, 409, 422]);

const store = new MemoryStore();
const handler = middy(async () => ({ statusCode: 201, body: '{}' })).use(
  httpIdempotency<Record<string, unknown>>({
    store,
    org: (event) => orgOf(event),
    environment: 'test',
    waitBudgetMs: 0,
    telemetry: { emit() {}, warn() {} },
  }),
);

const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '"', '""', '"\\', '#', '*', 'a#b', '\u0000', '\r\n', 'x'.repeat(256), '"x"y"'),
);

describe('hostile HTTP input', () => {
  it('never makes the middleware throw or answer a 5xx, whatever the key, org, body or headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...EVENT_KINDS),
        fc.option(hostileString, { nil: null }),
        fc.option(hostileString, { nil: null }),
        fc.oneof(
          hostileString,
          fc.jsonValue().map((value) => JSON.stringify(value)),
        ),
        fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 50 }), { maxKeys: 5 }),
        fc.boolean(),
        async (kind, key, org, body, headers, base64) => {
          const event = httpEvent(kind, { key, org, body, headers });
          event.isBase64Encoded = base64;
          const response = (await handler(event as never, lambdaContext())) as HttpResult;
          expect(DOCUMENTED).toContain(response.statusCode);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('passes events of any other shape through to the handler untouched', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (event) => {
        const response = (await handler(event as never, lambdaContext())) as HttpResult;
        expect(response.statusCode).toBe(201);
      }),
      { numRuns: 200 },
    );
  });

  it('writes no record for a rejected request', async () => {
    const before = store.records().length;
    for (const key of ['', 'x'.repeat(256), 'a\u0001b']) {
      const response = (await handler(
        httpEvent('http', { key, body: '{}' }) as never,
        lambdaContext(),
      )) as HttpResult;
      expect(response.statusCode).toBe(400);
    }
    const noOrg = (await handler(
      httpEvent('http', { key: 'fine', org: null, body: '{}' }) as never,
      lambdaContext(),
    )) as HttpResult;
    expect(noOrg.statusCode).toBe(400);
    expect(store.records().length).toBe(before);
  });
});
