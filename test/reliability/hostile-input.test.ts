/**
 * Scenario 6: hostile input. fast-check generates HTTP events (every event source) and SQS records with
 * huge, empty, binary and malformed keys, headers and bodies, values of the wrong type, and org ids with
 * `#`, `*` and control characters. Every answer is a documented status, nothing is thrown or left
 * unhandled, and a rejected request or record never writes a record.
 */
import middy from '@middy/core';
import type { SQSRecord } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identifyJob, jsonMeaning } from '../../src/batch/identify.js';
import { recordKey } from '../../src/core/keys.js';
import { createTelemetry } from '../../src/core/telemetry.js';
import type { ClaimOptions, IdempotencyRecord } from '../../src/core/types.js';
import { httpIdempotency } from '../../src/http/index.js';
import { sqsJobs } from '../../src/sqs/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { EVENT_KINDS, httpEvent, lambdaContext, orgOf } from '../http/harness.js';
import { fakeContext } from '../sqs/support.js';
import { captureLogs, type LogCapture } from '../support/log-capture.js';
import { load, report, SecretLedger, sqsRecord } from './support.js';

/** The SQS runner's default fingerprint input: the body's JSON value. */
const sqsMeaning = (record: { body: string }) => jsonMeaning(record.body);

const HTTP_EVENTS = load(10_000, 30_000);
const SQS_BATCHES = load(2_000, 6_000);
/** Answers docs/protocol.md section 4 documents, and the handler's own 201. */
const DOCUMENTED = new Set([201, 400, 409, 422]);

/** A memory store that counts claims, so a test can tell whether a request wrote anything. */
class CountingStore extends MemoryStore {
  claims = 0;
  override async claim(record: IdempotencyRecord, options: ClaimOptions) {
    this.claims += 1;
    return super.claim(record, options);
  }
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const secrets = new SecretLedger();
let logs: LogCapture;

beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  logs = captureLogs();
});
afterAll(() => {
  logs.stop();
  process.off('unhandledRejection', onUnhandled);
});

const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: 1_000, maxLength: 70_000 }).map((s) => s.slice(0, 70_000)),
  fc.constantFrom(
    '',
    ' ',
    '"',
    '""',
    '"\\',
    '#',
    '*',
    'a#b',
    'acme*',
    'org\u0000',
    '\r\n',
    'x'.repeat(256),
    '"x"y"',
  ),
);
/** Anything at all where a string is expected. */
const wrongType = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);

/** Valid keys and orgs, drawn often enough that replays, mismatches and in-progress answers happen too. */
const fairKey = fc.constantFrom(...Array.from({ length: 20 }, (_, i) => `order-${i}-${'k'.repeat(i)}`));
const fairOrg = fc.constantFrom('acme', 'globex', 'initech');
const key = fc.oneof(
  { arbitrary: fairKey, weight: 3 },
  { arbitrary: hostileString, weight: 2 },
  { arbitrary: wrongType, weight: 1 },
);
const org = fc.oneof(
  { arbitrary: fairOrg, weight: 3 },
  { arbitrary: hostileString, weight: 2 },
  { arbitrary: wrongType, weight: 1 },
);

/** Remembers generated keys long enough to be recognisable, as secrets no log line may carry. */
function remember(value: unknown): void {
  if (typeof value === 'string' && value.length >= 24 && new Set(value).size > 4) secrets.add(value);
}

describe(`${HTTP_EVENTS} hostile HTTP events`, () => {
  it('get a documented status, never a throw, and a rejected one writes no record', async () => {
    const store = new CountingStore();
    const handler = middy(async () => ({ statusCode: 201, body: '{"ok":true}' })).use(
      httpIdempotency<Record<string, unknown>>({
        store,
        org: (event) => orgOf(event),
        scope: 'create-order',
        environment: 'test',
        mode: 'enforce',
        waitBudgetMs: 0,
        telemetry: createTelemetry(),
      }),
    );
    const statuses: Record<string, number> = {};
    let rejectedWithRecord = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...EVENT_KINDS),
        fc.option(key, { nil: undefined, freq: 8 }),
        org,
        fc.oneof(
          fc.constantFrom('{"amount":1}', '{"amount":2}'),
          hostileString,
          wrongType,
          fc.jsonValue().map((value) => JSON.stringify(value)),
        ),
        fc.dictionary(fc.string({ maxLength: 20 }), fc.oneof(fc.string({ maxLength: 50 }), wrongType), {
          maxKeys: 5,
        }),
        fc.boolean(),
        fc.constantFrom('POST', 'PATCH', 'post', '', 'GET'),
        async (kind, key, org, body, headers, base64, method) => {
          remember(key);
          const event = httpEvent(kind, {
            method,
            body: typeof body === 'string' ? body : '{}',
            headers: headers as Record<string, string>,
            // Where each source carries the org: JWT or Cognito claims, or a trusted header.
            org: typeof org === 'string' ? org : 'acme',
          });
          const eventHeaders = event.headers as Record<string, unknown>;
          if (key !== undefined) eventHeaders['idempotency-key'] = key;
          if (typeof body !== 'string') event.body = body;
          event.isBase64Encoded = base64;
          const claims = (
            (event.requestContext as Record<string, unknown>).authorizer as
              | { jwt?: { claims: Record<string, unknown> } }
              | undefined
          )?.jwt?.claims;
          if (claims !== undefined && typeof org !== 'string') claims.org_id = org;
          const before = store.claims;
          let status: number;
          try {
            status = ((await handler(event as never, lambdaContext())) as { statusCode: number }).statusCode;
          } catch {
            status = 500;
          }
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status === 400 && store.claims !== before) rejectedWithRecord += 1;
          expect(DOCUMENTED).toContain(status);
        },
      ),
      { numRuns: HTTP_EVENTS, seed: 6_001 },
    );
    report('6-hostile-http', {
      events: HTTP_EVENTS,
      statuses,
      claims: store.claims,
      rejectedWithRecord,
      unhandled: unhandled.length,
    });
    expect(rejectedWithRecord).toBe(0);
    expect(unhandled).toEqual([]);
    expect(secrets.leaks(logs.lines)).toEqual([]);
  }, 240_000);
});

describe(`${SQS_BATCHES} batches of hostile SQS records`, () => {
  it('answer a partial batch response, never throw, and write records only for usable jobs', async () => {
    const store = new CountingStore();
    const options = {
      org: (record: SQSRecord) => record.messageAttributes?.orgId?.stringValue,
      jobKey: (record: SQSRecord) => (JSON.parse(record.body) as { jobKey?: string | number }).jobKey,
    };
    const handler = sqsJobs({
      store,
      scope: 'send-invoice-email',
      environment: 'test',
      mode: 'enforce',
      telemetry: createTelemetry(),
      ...options,
      processRecord: async () => ({ sent: true }),
    });
    const hostileRecord = fc
      .record({
        jobKey: fc.oneof(key, fc.double()),
        org,
        rawBody: fc.option(fc.oneof(hostileString, wrongType), { nil: undefined, freq: 3 }),
        messageId: fc.oneof(fc.uuid(), hostileString),
      })
      .map(({ jobKey, org, rawBody, messageId }) => {
        remember(jobKey);
        const record = sqsRecord({ jobKey: '', n: 0, payload: '', org: 'acme' });
        const body = { jobKey, n: 0 };
        return {
          ...record,
          messageId,
          body: (rawBody ?? JSON.stringify(body)) as string,
          messageAttributes: {
            orgId: {
              stringValue: org as string,
              dataType: 'String',
              stringListValues: [],
              binaryListValues: [],
            },
          },
        } satisfies SQSRecord;
      });
    let records = 0;
    let reportedFailed = 0;
    let unusable = 0;
    let strayRecords = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(hostileRecord, { minLength: 1, maxLength: 10 }), async (batch) => {
        records += batch.length;
        const usable = new Set<string>();
        for (const record of batch) {
          const identified = identifyJob(record, options, sqsMeaning);
          if (identified.ok)
            usable.add(recordKey(identified.job.org, 'send-invoice-email', identified.job.key));
          else unusable += 1;
        }
        const before = new Set(store.records().map((record) => record.pk));
        const response = await handler({ Records: batch }, fakeContext());
        const ids = new Set(batch.map((record) => record.messageId));
        reportedFailed += response.batchItemFailures.length;
        for (const failure of response.batchItemFailures) expect(ids).toContain(failure.itemIdentifier);
        for (const record of store.records()) {
          if (!before.has(record.pk) && !usable.has(record.pk)) strayRecords += 1;
        }
        for (const record of batch) {
          if (!identifyJob(record, options, sqsMeaning).ok) {
            expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toContain(
              record.messageId,
            );
          }
        }
      }),
      { numRuns: SQS_BATCHES, seed: 6_002 },
    );
    report('6-hostile-sqs', {
      batches: SQS_BATCHES,
      records,
      unusable,
      reportedFailed,
      claims: store.claims,
      strayRecords,
      unhandled: unhandled.length,
    });
    expect(strayRecords).toBe(0);
    expect(unhandled).toEqual([]);
    expect(secrets.leaks(logs.lines)).toEqual([]);
  }, 240_000);
});
