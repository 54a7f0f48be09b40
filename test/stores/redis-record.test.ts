import { describe, expect, it } from 'vitest';
import { replyToFields } from '../../src/stores/redis-record.js';

// Each client library returns HGETALL in its own shape (node-redis and ioredis a flat array, GLIDE an object or a
// map, any of them byte buffers when asked to); the store reads every one the same. redis.test.ts runs the four
// libraries on redis-server; these are the shapes none of them returns with the suite's settings.

describe('a hash reply, in the shape a client returns it', () => {
  const expected = { pk: 'acme#s#d', attempt: '1' };

  it('reads a flat array of names and values, as text or as byte buffers', () => {
    expect(replyToFields(['pk', 'acme#s#d', 'attempt', '1'])).toEqual(expected);
    expect(
      replyToFields([Buffer.from('pk'), Buffer.from('acme#s#d'), 'attempt', new Uint8Array([0x31])]),
    ).toEqual(expected);
  });

  it('reads a map and a plain object, and numbers as their text', () => {
    expect(
      replyToFields(
        new Map<unknown, unknown>([
          [Buffer.from('pk'), 'acme#s#d'],
          ['attempt', 1],
        ]),
      ),
    ).toEqual(expected);
    expect(replyToFields({ pk: Buffer.from('acme#s#d'), attempt: 1 })).toEqual(expected);
  });

  it('answers undefined for an empty reply in any shape: no record', () => {
    for (const empty of [[], new Map(), {}, null, undefined]) expect(replyToFields(empty)).toBeUndefined();
  });

  it('refuses a reply that is no hash, naming what it got', () => {
    expect(() => replyToFields(1)).toThrow(
      new TypeError('Expected a hash reply from the record script, got number.'),
    );
    expect(() => replyToFields('OK')).toThrow('Expected a hash reply from the record script, got string.');
  });
});
