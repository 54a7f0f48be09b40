/**
 * Scenario 8 (its part outside the load scenarios, which each search their own log lines): the answers and
 * error messages a caller or an operator sees for rejected input never repeat the raw key, org or payload.
 */
import middy from '@middy/core';
import { describe, expect, it } from 'vitest';
import { identifyJob, jsonMeaning } from '../../src/batch/identify.js';
import { createTelemetry } from '../../src/core/telemetry.js';
import { httpIdempotency } from '../../src/http/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { idemkit } from '../cli/support.js';
import { httpEvent, lambdaContext, orgOf } from '../http/harness.js';
import { captureLogs } from '../support/log-capture.js';
import { SecretLedger, sqsRecord } from './support.js';

/** The SQS runner's default fingerprint input: the body's JSON value. */
const sqsMeaning = (record: { body: string }) => jsonMeaning(record.body);

const secrets = new SecretLedger();

describe('what a caller sees for rejected input', () => {
  it('never repeats a raw key, org or payload in a problem+json body or a log line', async () => {
    const logs = captureLogs();
    try {
      const handler = middy(async () => ({ statusCode: 201, body: '{}' })).use(
        httpIdempotency<Record<string, unknown>>({
          store: new MemoryStore(),
          scope: 'create-order',
          org: (event) => orgOf(event),
          environment: 'test',
          waitBudgetMs: 0,
          telemetry: createTelemetry(),
        }),
      );
      const longKey = secrets.add(`${secrets.next('too-long')}${'x'.repeat(260)}`);
      const controlKey = secrets.add(`${secrets.next('control')}\u0001`);
      const badOrg = secrets.add(`${secrets.next('org')}#other`);
      const payload = { secret: secrets.next('payload') };
      const bodies: string[] = [];
      for (const input of [
        { key: longKey, body: payload },
        { key: controlKey, body: payload },
        { key: `"${secrets.next('unterminated')}`, body: payload },
        { key: secrets.next('fine-key'), body: payload, org: badOrg },
      ]) {
        const response = (await handler(httpEvent('http', input) as never, lambdaContext())) as {
          statusCode: number;
          body: string;
        };
        expect(response.statusCode).toBe(400);
        bodies.push(response.body);
      }
      expect(secrets.leaks([...bodies, ...logs.lines])).toEqual([]);
    } finally {
      logs.stop();
    }
  });

  it('never repeats a raw job key or org in the reason an SQS record is unusable', () => {
    const reasons = [
      identifyJob(
        sqsRecord({ jobKey: secrets.add(`${secrets.next('k')}\u0000`), n: 0, payload: '', org: 'acme' }),
        {
          org: 'acme',
          jobKey: (record) => (JSON.parse(record.body) as { jobKey: string }).jobKey,
        },
        sqsMeaning,
      ),
      identifyJob(
        sqsRecord({ jobKey: 'fine', n: 0, payload: '', org: secrets.add(`${secrets.next('o')}*`) }),
        {
          org: (record) => record.messageAttributes.orgId?.stringValue,
          jobKey: (record) => (JSON.parse(record.body) as { jobKey: string }).jobKey,
        },
        sqsMeaning,
      ),
    ].map((identified) => (identified.ok ? '' : identified.reason));
    expect(reasons.every((reason) => reason !== '')).toBe(true);
    expect(secrets.leaks(reasons)).toEqual([]);
  });

  it('never repeats a raw key given to the CLI in its error message', async () => {
    const key = secrets.add(`${secrets.next('cli-key')}${'y'.repeat(300)}`);
    const result = await idemkit([
      'records',
      'get',
      '--table',
      'idempotency',
      '--org',
      'acme',
      '--scope',
      'create-order',
      '--key',
      key,
      '--endpoint',
      'http://127.0.0.1:9',
    ]);
    expect(result.code).toBe(2);
    expect(secrets.leaks([result.stdout, result.stderr])).toEqual([]);
  }, 30_000);
});
