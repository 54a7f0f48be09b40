import { afterAll, describe, expect, it } from 'vitest';
import { listening, type NodeProcess, startNode, stopAll } from './processes.js';

/** Every step the issue asks the tour to show, in order. */
const STEPS = [
  'First request',
  'Retry with the same key and body',
  'Same key, different body: 422',
  'Concurrent duplicates',
  '409 with Retry-After',
  'An SQS job sent twice runs once',
  'A poison job',
  'Deploy the fix',
  '`idemkit dlq replay` brings the job back',
];

describe('npm run demo', () => {
  let demo: NodeProcess | undefined;
  afterAll(stopAll);

  it('passes every step of the tour, exits 0 and leaves no server running', async () => {
    demo = startNode('playground/demo.ts', { PORT: undefined });
    const code = await demo.exited;
    const output = demo.output();
    expect(output, output).toMatch(/^9 passed, 0 failed$/m);
    expect(code, output).toBe(0);

    const blocks = output.split(/\n(?=\d+\. )/).slice(1);
    expect(blocks.map((block) => block.split('\n')[0])).toHaveLength(STEPS.length);
    STEPS.forEach((step, index) => {
      const block = blocks[index] ?? '';
      expect(block.split('\n')[0], output).toContain(step);
      expect(block, output).toMatch(/^ {3}✓ /m);
      expect(block, output).not.toMatch(/^ {3}✗ /m);
    });

    const [, dynamodb, sqs] =
      output.match(/DynamoDB: \S+ (http:\/\/127\.0\.0\.1:\d+), SQS: (http:\/\/127\.0\.0\.1:\d+)/) ?? [];
    expect(dynamodb).toBeDefined();
    expect(await listening(dynamodb as string)).toBe(false);
    expect(await listening(sqs as string)).toBe(false);
  }, 240_000);
});
