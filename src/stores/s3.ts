/**
 * `idemkit/s3`: the large-result store on Amazon S3. A result too large for its record (DynamoDB's item limit is
 * 400 KB) is kept here whole, and replayed whole; the record keeps a pointer and the object's SHA-256
 * (docs/protocol.md section 3, "Results that do not fit").
 *
 * @example
 * import { S3ResultStore } from 'idemkit/s3';
 * const largeResults = new S3ResultStore({ bucket: process.env.IDEMPOTENCY_RESULTS_BUCKET! });
 */
import {
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { DEFAULT_RESULT_PREFIX } from '../core/large-result.js';
import type { LargeResultStore } from '../core/types.js';

export { DEFAULT_RESULT_PREFIX } from '../core/large-result.js';

/**
 * Options of {@link S3ResultStore}.
 *
 * @example
 * { bucket: 'idemkit-results', prefix: 'results/', client: new S3Client({ region: 'eu-west-1' }) }
 */
export interface S3ResultStoreOptions {
  /** The bucket (`IdempotencyResultBucket` from `idemkit/cdk` makes one whose lifecycle follows the records'). */
  readonly bucket: string;
  /**
   * Put before every object key (`<prefix><org>#<scope>#<digest>/<sha256>`); the construct's lifecycle rule and
   * grants cover this prefix.
   * @default 'results/'
   */
  readonly prefix?: string;
  /**
   * The client. Build it once at cold start and share it.
   * @default a new `S3Client(clientConfig)`
   */
  readonly client?: S3Client;
  /**
   * Configuration for the client the store builds when `client` is not given.
   * @default {}
   */
  readonly clientConfig?: S3ClientConfig;
}

/**
 * Keeps results too large for a record as S3 objects: one `PutObject` before the record completes (with its SHA-256,
 * which S3 checks on upload), one `GetObject` per replay. It never deletes: the bucket's lifecycle rule expires the
 * objects after the records' lifetime.
 *
 * @example
 * export const handler = middy(createReport).use(httpIdempotency({
 *   store, org, largeResults: new S3ResultStore({ bucket: process.env.IDEMPOTENCY_RESULTS_BUCKET! }),
 * }));
 */
export class S3ResultStore implements LargeResultStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;

  constructor(options: S3ResultStoreOptions) {
    if (typeof options?.bucket !== 'string' || options.bucket.trim() === '') {
      throw new TypeError(
        `Expected \`bucket\` of \`S3ResultStore\` to be the bucket's name, got ${JSON.stringify(options?.bucket)}.`,
      );
    }
    if (options.prefix !== undefined && typeof options.prefix !== 'string') {
      throw new TypeError(
        `Expected \`prefix\` of \`S3ResultStore\` to be a string such as 'results/', got ${typeof options.prefix}.`,
      );
    }
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? DEFAULT_RESULT_PREFIX;
    this.client = options.client ?? new S3Client(options.clientConfig ?? {});
  }

  async put(
    object: { readonly name: string; readonly body: Uint8Array; readonly sha256: string },
    signal?: AbortSignal,
  ): Promise<string> {
    const key = `${this.prefix}${object.name}`;
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: object.body,
        ContentLength: object.body.byteLength,
        // No ContentType: the SDK sends application/octet-stream for a byte body (the tests check the header).
        // S3 refuses an upload whose bytes do not match: what the record will point at is what was sent.
        ChecksumSHA256: Buffer.from(object.sha256, 'hex').toString('base64'),
      }),
      { abortSignal: signal },
    );
    return key;
  }

  async get(key: string, signal?: AbortSignal, maxBytes?: number): Promise<Uint8Array | undefined> {
    try {
      const output = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          // One byte past the bound tells a longer object; S3 sends no more than the range.
          ...(maxBytes === undefined ? {} : { Range: `bytes=0-${maxBytes}` }),
        }),
        { abortSignal: signal },
      );
      if (output.Body === undefined) return new Uint8Array();
      if (maxBytes === undefined) return await output.Body.transformToByteArray();
      return await readAtMost(output.Body as AsyncIterable<Uint8Array>, maxBytes + 1);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }
}

/** The first `limit` bytes of `body` at most (for a server that sends more than the range), then stops reading. */
async function readAtMost(body: AsyncIterable<Uint8Array>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    length += chunk.byteLength;
    if (length >= limit) break;
  }
  // `concat` cuts the last chunk at the limit.
  return Buffer.concat(chunks, Math.min(length, limit));
}

/**
 * No such object: `NoSuchKey`, or a bare 404 (some S3-compatible servers send no code; the SDK names it `NotFound`).
 * A 404 that names another missing thing (`NoSuchBucket`: a misconfigured bucket) is a failure, reported by its name.
 */
function isMissing(error: unknown): boolean {
  return error instanceof NoSuchKey || (error instanceof S3ServiceException && error.name === 'NotFound');
}
