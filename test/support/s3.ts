/**
 * A real S3 emulator for the tests (`s3rver`, from npm): bound to 127.0.0.1 on a free port, keeping its objects in a
 * temporary folder, started per test file and stopped at its end, like DynamoDB Local and `redis-server`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

/** A running s3rver with one bucket. */
export interface S3Emulator {
  readonly endpoint: string;
  readonly bucket: string;
  /** A client for it (path-style, dummy credentials); destroyed by `stop`. */
  readonly client: S3Client;
  stop(): Promise<void>;
}

/** Starts s3rver with `bucket` and resolves once it listens (it binds before `run` resolves: no deadline needed). */
export async function startS3(bucket = 'idemkit-results'): Promise<S3Emulator> {
  const directory = mkdtempSync(join(tmpdir(), 'idemkit-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return {
    endpoint,
    bucket,
    client,
    async stop() {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
