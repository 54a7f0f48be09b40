import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/core/large-result.js';
import { DEFAULT_RESULT_PREFIX, S3ResultStore } from '../../src/stores/s3.js';
import { type S3Emulator, startS3 } from '../support/s3.js';

let s3: S3Emulator;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

/** An object to put: `size` random bytes under a fresh name, with their digest. */
function object(size: number) {
  const body = new Uint8Array(randomBytes(size));
  return { name: `acme#charge#${randomUUID()}/x`, body, sha256: sha256Hex(body) };
}

/**
 * A client on the same s3rver whose requests pass through `change` before they are signed and sent: the headers a
 * test reads, or a server that ignores a header (what s3rver cannot be made to do).
 */
function clientWith(change: (request: { headers: Record<string, string> }) => void): S3Client {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      change(args.request as { headers: Record<string, string> });
      return next(args);
    },
    { step: 'build', priority: 'low', name: 'idemkitRequestChange' },
  );
  return client;
}

describe('S3ResultStore on s3rver', () => {
  it('puts an object under the prefix and the name, as opaque bytes, and reads it back whole', async () => {
    const store = new S3ResultStore({ bucket: s3.bucket, client: s3.client, prefix: 'big/' });
    const put = object(300_000);
    const key = await store.put(put);
    expect(key).toBe(`big/${put.name}`);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    expect(head).toMatchObject({ ContentLength: 300_000, ContentType: 'application/octet-stream' });
    expect(Buffer.from((await store.get(key)) ?? []).equals(Buffer.from(put.body))).toBe(true);
  });

  it("puts objects under 'results/' unless told another prefix, the prefix the CDK bucket's rule covers", async () => {
    const store = new S3ResultStore({ bucket: s3.bucket, client: s3.client });
    expect(store.prefix).toBe(DEFAULT_RESULT_PREFIX);
    const put = object(10);
    expect(await store.put(put)).toBe(`results/${put.name}`);
  });

  it("sends the object's SHA-256 for S3 to check the upload, base64 as S3 expects it", async () => {
    const headers: Record<string, string>[] = [];
    const client = clientWith((request) => headers.push({ ...request.headers }));
    const store = new S3ResultStore({ bucket: s3.bucket, client });
    const put = object(64);
    await store.put(put);
    client.destroy();
    expect(headers[0]?.['x-amz-checksum-sha256']).toBe(Buffer.from(put.sha256, 'hex').toString('base64'));
    expect(headers[0]?.['content-type']).toBe('application/octet-stream');
  });

  it('answers undefined for a key with no object', async () => {
    const store = new S3ResultStore({ bucket: s3.bucket, client: s3.client });
    expect(await store.get(`results/${randomUUID()}`)).toBeUndefined();
    expect(await store.get(`results/${randomUUID()}`, undefined, 100)).toBeUndefined();
  });

  it('answers undefined when a server answers a bare 404, with no error code, as some S3-compatible servers do', async () => {
    const client = clientWith(() => {});
    client.middlewareStack.add(
      () => async () => ({
        response: { statusCode: 404, headers: {}, body: Readable.from([]) },
        output: undefined,
      }),
      { step: 'deserialize', priority: 'low', name: 'idemkitBare404' },
    );
    const store = new S3ResultStore({ bucket: s3.bucket, client });
    expect(await store.get('results/x')).toBeUndefined();
    client.destroy();
  });

  it('throws when the object cannot be read for another reason than its absence (no such bucket)', async () => {
    const store = new S3ResultStore({ bucket: 'idemkit-no-such-bucket', client: s3.client });
    await expect(store.get('results/x')).rejects.toMatchObject({ name: 'NoSuchBucket' });
    await expect(store.put(object(8))).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('reads one byte past maxBytes of a longer object, and the whole of one that fits', async () => {
    const ranges: (string | undefined)[] = [];
    const client = clientWith((request) => ranges.push(request.headers.range));
    const store = new S3ResultStore({ bucket: s3.bucket, client });
    const put = object(5000);
    const key = await store.put(put);
    ranges.length = 0;
    // S3 sends no more than the range asked: one byte past the bound, or everything when there is none.
    await store.get(key);
    const bounded = await store.get(key, undefined, 1000);
    expect(ranges).toEqual([undefined, 'bytes=0-1000']);
    expect(Buffer.from(bounded ?? []).equals(Buffer.from(put.body.subarray(0, 1001)))).toBe(true);
    expect((await store.get(key, undefined, 4999))?.byteLength).toBe(5000);
    expect((await store.get(key, undefined, 5000))?.byteLength).toBe(5000);
    expect(Buffer.from((await store.get(key, undefined, 9000)) ?? []).equals(Buffer.from(put.body))).toBe(
      true,
    );
  });

  it('stops reading at one byte past maxBytes when the server ignores the range and sends the whole object', async () => {
    const client = clientWith((request) => {
      delete request.headers.range;
    });
    const store = new S3ResultStore({ bucket: s3.bucket, client });
    const put = object(3_000_000);
    const key = await store.put(put);
    // The server really sends it all (the range did not reach it).
    const whole = await client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: key, Range: 'bytes=0-9' }),
    );
    expect((await whole.Body?.transformToByteArray())?.byteLength).toBe(3_000_000);
    const bounded = await store.get(key, undefined, 100_000);
    client.destroy();
    expect(bounded?.byteLength).toBe(100_001);
    expect(Buffer.from(bounded ?? []).equals(Buffer.from(put.body.subarray(0, 100_001)))).toBe(true);
  });

  it('stops reading a body that never ends (a server ignoring the range) once it has one byte past maxBytes', async () => {
    let pulled = 0;
    async function* endless() {
      for (;;) {
        pulled += 1;
        yield new Uint8Array(1000).fill(pulled);
      }
    }
    const client = clientWith(() => {});
    client.middlewareStack.add(
      (next) => async (args) => {
        const answer = await next(args);
        return { ...answer, output: { ...(answer.output as object), Body: endless() } } as never;
      },
      { step: 'initialize', name: 'idemkitEndlessBody' },
    );
    const store = new S3ResultStore({ bucket: s3.bucket, client });
    const key = await store.put(object(10));
    const bounded = await store.get(key, undefined, 2999);
    client.destroy();
    expect(bounded?.byteLength).toBe(3000);
    expect(pulled).toBe(3);
    expect([bounded?.[0], bounded?.[1999], bounded?.[2000], bounded?.[2999]]).toEqual([1, 2, 3, 3]);
  });

  it('stops a put and a get when their signal aborts', async () => {
    const store = new S3ResultStore({ bucket: s3.bucket, client: s3.client });
    const put = object(16);
    await expect(store.put(put, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
    const key = await store.put(put);
    await expect(store.get(key, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('S3ResultStore options', () => {
  it('refuses a missing or blank bucket and a prefix that is not text, saying what it expected', () => {
    expect(() => new S3ResultStore({ bucket: ' ' })).toThrow(
      'Expected `bucket` of `S3ResultStore` to be the bucket\'s name, got " ".',
    );
    expect(() => new S3ResultStore(undefined as never)).toThrow(
      "Expected `bucket` of `S3ResultStore` to be the bucket's name, got undefined.",
    );
    expect(() => new S3ResultStore({ bucket: 'b', prefix: 3 as never })).toThrow(
      "Expected `prefix` of `S3ResultStore` to be a string such as 'results/', got number.",
    );
  });

  it('builds its own client from clientConfig when given none', async () => {
    const store = new S3ResultStore({
      bucket: s3.bucket,
      clientConfig: {
        region: 'us-east-1',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      },
    });
    const put = object(32);
    const key = await store.put(put);
    expect((await store.get(key))?.byteLength).toBe(32);
    store.client.destroy();
    expect(new S3ResultStore({ bucket: 'b', prefix: '' }).prefix).toBe('');
  });
});
