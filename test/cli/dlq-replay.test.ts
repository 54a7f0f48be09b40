import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayDeduplicationId } from '../../src/cli/replay.js';
import { REPLAY_ATTRIBUTE } from '../../src/sqs/replay-marker.js';
import { comparable, idemkit, seed, startFaultProxy, startSqs } from './support.js';

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

/** A DLQ and a queue that redrives into it, with unique names. */
function queuePair(options: { fifo?: boolean; redrive?: boolean } = {}) {
  const suffix = options.fifo === true ? '.fifo' : '';
  const id = randomUUID().slice(0, 8);
  const fifo: Record<string, string> = options.fifo === true ? { FifoQueue: 'true' } : {};
  const dlq = server.createQueue(`dlq-${id}${suffix}`, { attributes: fifo });
  const queue = server.createQueue(`jobs-${id}${suffix}`, {
    attributes:
      options.redrive === false
        ? fifo
        : {
            ...fifo,
            RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: '3' }),
          },
  });
  return { dlq, queue };
}

function ready(name: string) {
  return server.inspectQueue(name)?.messages.ready ?? [];
}

function inflight(name: string) {
  return server.inspectQueue(name)?.messages.inflight ?? [];
}

/**
 * Runs `idemkit dlq replay --from <from> [--to <to>] --endpoint <via> ...flags`: the argument list every test
 * here starts with, so a test names only its queues and the flags it is about. `to` undefined leaves `--to`
 * out; `via` is fauxqs unless a test puts a proxy in front of it.
 */
function replay(from: string, to: string | undefined, flags: readonly string[] = [], via = endpoint) {
  const destination = to === undefined ? [] : ['--to', to];
  return idemkit(['dlq', 'replay', '--from', from, ...destination, '--endpoint', via, ...flags]);
}

function jobs(count: number, prefix = 'job') {
  return Array.from({ length: count }, (_, i) => ({
    MessageBody: JSON.stringify({
      jobKey: `${prefix}-${i}`,
      type: i % 3 === 0 ? 'refund' : 'charge',
      amount: i,
    }),
    MessageAttributes: { tenant: { DataType: 'String', StringValue: i % 2 === 0 ? 'acme' : 'globex' } },
  }));
}

describe('dlq replay moves every selected message exactly once', () => {
  it('moves 1,000 messages through injected SendMessageBatch partial failures, losing none and sending none twice', async () => {
    const { dlq, queue } = queuePair();
    await seed(sqs, dlq.queueUrl, jobs(1000));
    const proxy = await startFaultProxy(endpoint);
    try {
      const result = await replay(
        dlq.queueName,
        queue.queueName,
        ['--yes', '--json', '--wait', '1', '--replay-id', 'replay-1000'],
        proxy.endpoint,
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const summary = result.json<{
        selected: number;
        moved: number;
        failed: number;
        retries: number;
        complete: boolean;
      }>();
      expect(summary).toMatchObject({ selected: 1000, moved: 1000, failed: 0, complete: true });
      // The faults really happened, and the CLI retried at least every injected entry.
      expect(proxy.log.injectedEntries).toBeGreaterThan(100);
      expect(proxy.log.injectedRequests).toBeGreaterThan(0);
      expect(summary.retries).toBeGreaterThanOrEqual(proxy.log.injectedEntries);
      // Injected failures were never forwarded, so every body reached the server exactly once.
      expect(proxy.log.forwardedBodies.size).toBe(1000);
      expect([...proxy.log.forwardedBodies.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await proxy.stop();
    }
    const moved = ready(queue.queueName);
    const keys = moved.map((message) => (JSON.parse(message.body) as { jobKey: string }).jobKey);
    expect(new Set(keys).size).toBe(1000);
    expect(keys).toHaveLength(1000);
    expect(
      moved.every((message) => message.messageAttributes[REPLAY_ATTRIBUTE]?.StringValue === 'replay-1000'),
    ).toBe(true);
    expect(ready(dlq.queueName)).toHaveLength(0);
    expect(inflight(dlq.queueName)).toHaveLength(0);
  });

  it('preserves the body, every attribute data type, the FIFO group and its order', async () => {
    const { dlq, queue } = queuePair({ fifo: true });
    const binary = new Uint8Array([0, 1, 2, 250, 255]);
    const attributes = {
      text: { DataType: 'String', StringValue: 'hé "quoted"' },
      count: { DataType: 'Number', StringValue: '-12.50' },
      blob: { DataType: 'Binary', BinaryValue: binary },
      custom: { DataType: 'String.tenant', StringValue: 'acme' },
      customNumber: { DataType: 'Number.int', StringValue: '7' },
      customBinary: { DataType: 'Binary.gzip', BinaryValue: new Uint8Array([9, 8, 7]) },
    };
    await seed(
      sqs,
      dlq.queueUrl,
      [1, 2, 3].flatMap((n) =>
        ['a', 'b', 'c'].map((group) => ({
          MessageBody: `{"group":"${group}","n":${n}}`,
          MessageGroupId: `group-${group}`,
          MessageDeduplicationId: `${group}-${n}`,
          MessageAttributes: attributes,
        })),
      ),
    );
    const originals = ready(dlq.queueName);
    const result = await replay(dlq.queueName, queue.queueName, ['--yes', '--wait', '1', '--json']);
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ selected: 9, moved: 9 });
    const moved = ready(queue.queueName);
    expect(moved).toHaveLength(9);
    for (const original of originals) {
      const copy = moved.find((message) => message.body === original.body);
      expect(copy?.messageGroupId).toBe(original.messageGroupId);
      expect(copy?.messageDeduplicationId).toBe(replayDeduplicationId(dlq.queueArn, original.messageId));
      const { [REPLAY_ATTRIBUTE]: marker, ...rest } = copy?.messageAttributes ?? {};
      expect(marker?.DataType).toBe('String');
      expect(comparable(rest)).toEqual(comparable(original.messageAttributes));
    }
    expect(comparable(moved[0]?.messageAttributes ?? {})).toMatchObject({
      blob: { DataType: 'Binary', value: Buffer.from(binary).toString('base64') },
    });
    for (const group of ['a', 'b', 'c']) {
      const order = moved
        .filter((m) => m.messageGroupId === `group-${group}`)
        .map((m) => JSON.parse(m.body).n);
      expect(order).toEqual([1, 2, 3]);
    }
    expect(ready(dlq.queueName)).toHaveLength(0);
  });

  it('does not double-send when the same replay runs twice inside the FIFO deduplication window', async () => {
    const { dlq, queue } = queuePair({ fifo: true });
    await seed(
      sqs,
      dlq.queueUrl,
      ['a', 'b', 'c', 'd'].map((group) => ({
        MessageBody: group,
        MessageGroupId: group,
        MessageDeduplicationId: group,
      })),
    );
    const once = () => replay(dlq.queueName, queue.queueName, ['--keep', '--wait', '1', '--json']);
    const first = await once();
    const second = await once();
    expect(first.json()).toMatchObject({ selected: 4, moved: 4 });
    expect(second.json()).toMatchObject({ selected: 4, moved: 4 });
    expect(
      ready(queue.queueName)
        .map((m) => m.body)
        .sort(),
    ).toEqual(['a', 'b', 'c', 'd']);
    expect(ready(dlq.queueName)).toHaveLength(4);
  });
});

describe('dlq replay selects with --query, --max, --dry-run and --keep', () => {
  it('moves only the messages the filter selects and leaves the rest visible in the DLQ', async () => {
    const { dlq, queue } = queuePair();
    await seed(sqs, dlq.queueUrl, jobs(30));
    const result = await replay(dlq.queueUrl, queue.queueUrl, [
      '--yes',
      '--wait',
      '1',
      '--query',
      "body.type == 'refund' && (attr.tenant == 'acme' || body.amount >= `20`)",
    ]);
    expect(result.code).toBe(0);
    // i % 3 === 0 and (i even or i >= 20): 0, 6, 12, 18, 21, 24, 27.
    const moved = ready(queue.queueName)
      .map((m) => JSON.parse(m.body).amount)
      .sort((a, b) => a - b);
    expect(moved).toEqual([0, 6, 12, 18, 21, 24, 27]);
    expect(result.stdout).toContain('7 selected, 7 moved, 23 skipped by the query, 0 failed');
    expect(ready(dlq.queueName)).toHaveLength(23);
    expect(inflight(dlq.queueName)).toHaveLength(0);
  });

  it('moves exactly --max messages and leaves the rest', async () => {
    const { dlq, queue } = queuePair();
    await seed(sqs, dlq.queueUrl, jobs(95));
    const result = await replay(dlq.queueName, queue.queueName, [
      '--yes',
      '--max',
      '23',
      '--json',
      '--rate',
      '10000',
    ]);
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ selected: 23, moved: 23 });
    expect(ready(queue.queueName)).toHaveLength(23);
    expect(ready(dlq.queueName)).toHaveLength(72);
  });

  it('moves exactly --max matching messages when a filter skips some', async () => {
    const { dlq, queue } = queuePair();
    await seed(sqs, dlq.queueUrl, jobs(60));
    const result = await replay(dlq.queueName, queue.queueName, [
      '--yes',
      '--wait',
      '1',
      '--max',
      '5',
      '--query',
      "attr.tenant == 'globex'",
    ]);
    expect(result.code).toBe(0);
    const moved = ready(queue.queueName);
    expect(moved).toHaveLength(5);
    expect(moved.every((m) => m.messageAttributes.tenant?.StringValue === 'globex')).toBe(true);
    expect(ready(dlq.queueName)).toHaveLength(55);
  });

  it('lists what would move on --dry-run and moves nothing', async () => {
    const { dlq, queue } = queuePair();
    await seed(sqs, dlq.queueUrl, jobs(12));
    const result = await replay(dlq.queueName, queue.queueName, [
      '--dry-run',
      '--wait',
      '1',
      '--query',
      "body.type == 'charge'",
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n').filter((line) => line.startsWith('would move '))).toHaveLength(8);
    expect(result.stdout).toContain('Dry run, nothing moved');
    expect(ready(queue.queueName)).toHaveLength(0);
    expect(ready(dlq.queueName)).toHaveLength(12);
  });

  it('prints no byte of any body on --dry-run unless --show-bodies, in text or JSON', async () => {
    const { dlq, queue } = queuePair();
    const secret = (i: number) => `card-4111-1111-1111-${1000 + i}`;
    await seed(
      sqs,
      dlq.queueUrl,
      Array.from({ length: 4 }, (_, i) => ({
        MessageBody: JSON.stringify({ type: 'charge', card: secret(i) }),
      })),
    );
    for (const flags of [[], ['--json']]) {
      const result = await replay(dlq.queueName, queue.queueName, ['--dry-run', '--wait', '1', ...flags]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('body hidden');
      // Words that no message id (hexadecimal) can hold, and eight digits of every card number: a bare `4111`
      // matched a random message id about one run in 500.
      expect(result.stdout + result.stderr).not.toMatch(/card|charge|1111-1111/);
    }
    const shown = await replay(dlq.queueName, queue.queueName, ['--dry-run', '--wait', '1', '--show-bodies']);
    expect(shown.stdout).toContain(secret(0));
    expect(ready(dlq.queueName)).toHaveLength(4);
  });

  it('never prints the raw job key on --dry-run --show-bodies, in text or JSON', async () => {
    const { dlq, queue } = queuePair();
    const rawKey = (i: number) => `order-key-${randomUUID()}-${i}`;
    const keys = [0, 1].map(rawKey);
    await seed(
      sqs,
      dlq.queueUrl,
      keys.map((key) => ({ MessageBody: JSON.stringify({ jobKey: key, type: 'charge' }) })),
    );
    for (const flags of [[], ['--json']]) {
      const result = await replay(dlq.queueName, queue.queueName, [
        '--dry-run',
        '--wait',
        '1',
        '--show-bodies',
        ...flags,
      ]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('charge');
      expect(result.stdout).toContain('<job key>');
      for (const key of keys) expect(result.stdout + result.stderr).not.toContain(key);
    }
  });

  it('copies with --keep and leaves every message visible in the DLQ', async () => {
    const { dlq, queue } = queuePair();
    await seed(sqs, dlq.queueUrl, jobs(15));
    const result = await replay(dlq.queueName, queue.queueName, ['--keep', '--wait', '1']);
    expect(result.code).toBe(0);
    expect(ready(queue.queueName)).toHaveLength(15);
    expect(ready(dlq.queueName)).toHaveLength(15);
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq.queueUrl, MaxNumberOfMessages: 10 }),
    );
    expect(Messages).toHaveLength(10);
  });
});

describe('dlq replay finds the destination or says why it cannot', () => {
  it("replays into the DLQ's only source queue when --to is left out", async () => {
    const { dlq, queue } = queuePair();
    await seed(sqs, dlq.queueUrl, jobs(3));
    const result = await replay(dlq.queueName, undefined, ['--yes', '--wait', '1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${dlq.queueName} -> ${queue.queueName}`);
    expect(ready(queue.queueName)).toHaveLength(3);
  });

  it('asks for --to when no queue redrives into the DLQ', async () => {
    const { dlq } = queuePair({ redrive: false });
    await seed(sqs, dlq.queueUrl, jobs(2));
    const result = await replay(dlq.queueName, undefined, ['--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      `idemkit: No queue has ${dlq.queueName} as its dead-letter queue, so the destination is unknown; pass \`--to <queue>\`.`,
    ]);
    expect(ready(dlq.queueName)).toHaveLength(2);
  });

  it('asks for --to when two queues redrive into the DLQ', async () => {
    const { dlq, queue } = queuePair();
    const other = server.createQueue(`other-${randomUUID().slice(0, 8)}`, {
      attributes: {
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: '3' }),
      },
    });
    const result = await replay(dlq.queueName, undefined, ['--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`is the dead-letter queue of 2 queues`);
    expect(result.stderr).toContain(queue.queueName);
    expect(result.stderr).toContain(other.queueName);
    expect(result.stderr).toContain('pass `--to <queue>`');
  });
});

describe('dlq replay never loses a message it cannot move', () => {
  it('leaves a message that already has 10 attributes in the DLQ, says why, and exits 1', async () => {
    const { dlq, queue } = queuePair();
    const full = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`a${i}`, { DataType: 'String', StringValue: String(i) }]),
    );
    await seed(sqs, dlq.queueUrl, [{ MessageBody: 'full', MessageAttributes: full }, ...jobs(2)]);
    const result = await replay(dlq.queueName, queue.queueName, ['--yes', '--wait', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `already has 10 message attributes, so the \`${REPLAY_ATTRIBUTE}\` marker does not fit`,
    );
    expect(ready(queue.queueName)).toHaveLength(2);
    expect(ready(dlq.queueName).map((m) => m.body)).toEqual(['full']);
  });

  it('refuses to delete from the DLQ without --yes when there is no terminal to ask on', async () => {
    const { dlq, queue } = queuePair();
    await seed(sqs, dlq.queueUrl, jobs(2));
    const result = await replay(dlq.queueName, queue.queueName);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `idemkit: Refusing to delete messages from ${dlq.queueName} without confirmation: there is no terminal to ask on; pass \`--yes\`.`,
    );
    expect(ready(dlq.queueName)).toHaveLength(2);
    expect(ready(queue.queueName)).toHaveLength(0);
  });

  it('refuses to replay a standard DLQ into a FIFO queue, whose messages would need a group id', async () => {
    const { dlq } = queuePair();
    const fifo = server.createQueue(`fifo-${randomUUID().slice(0, 8)}.fifo`, {
      attributes: { FifoQueue: 'true' },
    });
    const result = await replay(dlq.queueName, fifo.queueName, ['--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is a FIFO queue but `--from`');
  });
});
