import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type DynamoDBLocal,
  freePort,
  ServerStartError,
  startDynamoDBLocal,
} from '../../playground/servers/dynamodb-local.js';
import { startSqs } from '../../playground/servers/sqs.js';
import { isLoopback, listening, listeningAddresses } from './processes.js';

describe('DynamoDB Local, as the playground and the tests start it', () => {
  const started: DynamoDBLocal[] = [];
  afterAll(async () => {
    await Promise.all(started.map((server) => server.stop()));
  });

  it('listens on 127.0.0.1 only, and its process ends on stop()', async () => {
    const server = await startDynamoDBLocal({ quickStart: true });
    started.push(server);
    const addresses = listeningAddresses([server.pid]);
    expect(addresses).toHaveLength(1);
    expect(addresses.every(isLoopback), addresses.join(' ')).toBe(true);
    await server.stop();
    expect(await server.ended).toMatch(/^(code|signal) /);
    expect(await listening(server.endpoint)).toBe(false);
  }, 120_000);

  it('says why when it cannot start: its exit code and the last lines of its output', async () => {
    // Another program holds the port: DynamoDB Local alone would keep running without a listener, and
    // the holder would answer in its place.
    const holder: Server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const failure = await startDynamoDBLocal({ port, quickStart: true }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(ServerStartError);
      const error = failure as ServerStartError;
      expect(error.exitCode).toBe(1);
      expect(error.message).toContain(`before answering on http://127.0.0.1:${port}`);
      expect(error.outputTail).toMatch(/Address already in use/);
      expect(error.outputTail.split('\n').length).toBeLessThanOrEqual(20);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  }, 120_000);

  it('waits as long as its caller lets it, and stops the server when the caller gives up', async () => {
    const giveUp = new AbortController();
    giveUp.abort(new Error('the caller gave up'));
    await expect(startDynamoDBLocal({ quickStart: true, signal: giveUp.signal })).rejects.toThrow(
      /Stopped waiting for DynamoDB Local .*the caller gave up/,
    );
  }, 120_000);
});

describe('the SQS emulator and its proxy', () => {
  it('listen on 127.0.0.1 only, and stop listening on stop()', async () => {
    const sqs = await startSqs();
    try {
      const addresses = listeningAddresses([process.pid]).filter((address) =>
        [sqs.endpoint, sqs.handlerEndpoint].some((url) => address.endsWith(`:${new URL(url).port}`)),
      );
      expect(addresses).toHaveLength(2);
      expect(addresses.every(isLoopback), addresses.join(' ')).toBe(true);
    } finally {
      await sqs.stop();
    }
    expect(await listening(sqs.endpoint)).toBe(false);
    expect(await listening(sqs.handlerEndpoint)).toBe(false);
  });
});
