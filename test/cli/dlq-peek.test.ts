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
    ]);
    expect(result.code).toBe(0);
    const { messages } = result.json<{
      messages: {
        id: string;
        receiveCount: number;
        attributes: Record<string, string>;
        jobKeyDigest: string;
        bodyPreview: string;
      }[];
    }>();
    expect(messages).toHaveLength(12);
    expect(new Set(messages.map((m) => m.id)).size).toBe(12);
    expect(messages[0]?.attributes).toEqual({ tenant: 'acme' });
    expect(messages[0]?.receiveCount).toBe(1);
    expect(messages[0]?.bodyPreview).toMatch(/^\{"jobKey":"<job key>","step":\d+\}$/);
    const digests = messages.map((m) => m.jobKeyDigest).sort();
    expect(digests).toEqual(Array.from({ length: 12 }, (_, i) => keyDigest(`secret-job-${i}`)).sort());
    // Visibility was restored at once: nothing is in flight, all 12 can be received now.
    const state = server.inspectQueue('peek-dlq');
    expect(state?.messages.inflight).toHaveLength(0);
    expect(state?.messages.ready).toHaveLength(12);
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
    expect(result.stdout).toContain('1 message(s) shown from peek-key-dlq; all are visible again.');
  });
});
