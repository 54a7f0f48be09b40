import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyDigest } from '../../src/core/keys.js';
import { idemkit, seed, startSqs } from './support.js';

let server: FauxqsServer;
let endpoint: string;
let sqs: SQSClient;

beforeAll(async () => {
  ({ server, endpoint, sqs } = await startSqs());
});

afterAll(async () => {
  sqs.destroy();
  await server.stop();
});

describe('dlq peek shows messages without consuming them', () => {
  it('shows id, receive count, attributes, the job key as a digest and a body preview, then makes them visible again', async () => {
    const dlq = server.createQueue('peek-dlq');
    await seed(
      sqs,
      dlq.queueUrl,
      Array.from({ length: 12 }, (_, i) => ({
        MessageBody: JSON.stringify({ jobKey: `secret-job-${i}`, step: i }),
        MessageAttributes: { tenant: { DataType: 'String', StringValue: 'acme' } },
      })),
    );
    const result = await idemkit([
      'dlq',
      'peek',
      'peek-dlq',
      '--max',
      '12',
      '--endpoint',
      endpoint,
      '--json',
      '--show-bodies',
    ]);
    expect(result.code).toBe(0);
    const { messages } = result.json<{
      messages: {
        id: string;
        receiveCount: number;
        attributes: Record<string, string>;
        jobKeyDigest: string;
        body: string;
      }[];
    }>();
    expect(messages).toHaveLength(12);
    expect(new Set(messages.map((m) => m.id)).size).toBe(12);
    expect(messages[0]?.attributes).toEqual({ tenant: 'acme' });
    expect(messages[0]?.receiveCount).toBe(1);
    expect(messages[0]?.body).toMatch(/^\{"jobKey":"<job key>","step":\d+\}$/);
    const digests = messages.map((m) => m.jobKeyDigest).sort();
    expect(digests).toEqual(Array.from({ length: 12 }, (_, i) => keyDigest(`secret-job-${i}`)).sort());
    // Visibility was restored at once: nothing is in flight, all 12 can be received now.
    const state = server.inspectQueue('peek-dlq');
    expect(state?.messages.inflight).toHaveLength(0);
    expect(state?.messages.ready).toHaveLength(12);
  });

  it('prints no byte of any body without --show-bodies, in text or JSON, and never the job key', async () => {
    const { queueUrl: url } = server.createQueue('peek-hidden-dlq');
    await seed(sqs, url, [
      { MessageBody: JSON.stringify({ jobKey: 'job-secret-1', password: 'hunter2-secret' }) },
      { MessageBody: 'plain text with api key sk-live-secret' },
    ]);
    for (const flags of [[], ['--json']]) {
      const result = await idemkit(['dlq', 'peek', 'peek-hidden-dlq', '--endpoint', endpoint, ...flags]);
      expect(result.code).toBe(0);
      expect(result.stdout + result.stderr).not.toMatch(/secret|hunter2|password|plain text|"jobKey"/);
      expect(result.stdout).toContain(keyDigest('job-secret-1'));
      expect(result.stdout).toContain('body hidden');
    }
    const shown = await idemkit(['dlq', 'peek', 'peek-hidden-dlq', '--endpoint', endpoint, '--show-bodies']);
    expect(shown.stdout).toContain('hunter2-secret');
    expect(shown.stdout).not.toContain('job-secret-1');
    expect(shown.stdout).toContain('"jobKey":"<job key>"');
  });

  it('finds the job key where --key-from says', async () => {
    const dlq = server.createQueue('peek-key-dlq');
    await seed(sqs, dlq.queueUrl, [
      { MessageBody: '{}', MessageAttributes: { jobId: { DataType: 'String', StringValue: 'order-7' } } },
    ]);
    const result = await idemkit([
      'dlq',
      'peek',
      'peek-key-dlq',
      '--key-from',
      'attr.jobId',
      '--endpoint',
      endpoint,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`job key digest ${keyDigest('order-7')}`);
    expect(result.stdout).not.toContain('order-7');
    expect(result.stdout).toContain('jobId=<job key>');
    expect(result.stdout).toContain(
      '1 message(s) shown from peek-key-dlq; all are visible again (each receive count raised by one).',
    );
  });
});
