import { describe, expect, it } from 'vitest';
import { expectTtl } from '../../support/assertions.js';
import { cacheFactory, redisPerFile } from '../../support/cache.js';
import { commandCalls, waitFor } from '../../support/redis.js';

// The reads and the writes callers issue in the same tick leave in batches of up to 16 (one MGET, one
// write script): what they answer, the order they keep, and how a failure reaches every caller.
const caches = cacheFactory();
const redis = redisPerFile(caches);

describe('one tick, few commands', () => {
  it('answers 64 reads of one tick with 4 MGETs of 16 keys, misses included', async () => {
    const writer = caches.create({ redisUrl: redis.url });
    for (let i = 0; i < 60; i++) redis.cli('SET', `default_k${i}`, JSON.stringify({ i }), 'EX', '100');
    const reader = caches.create({ redisUrl: redis.url });
    await reader.ready();
    redis.cli('CONFIG', 'RESETSTAT');
    const values = await Promise.all(Array.from({ length: 64 }, (_, i) => reader.get(`k${i}`)));
    expect(values).toEqual(Array.from({ length: 64 }, (_, i) => (i < 60 ? { i } : undefined)));
    expect(commandCalls(redis, 'mget')).toBe(4);
    expect(commandCalls(redis, 'get')).toBe(0);
    // each copy went to L1 with its TTL: a second read costs Redis nothing
    redis.cli('CONFIG', 'RESETSTAT');
    expect(await reader.get('k7')).toEqual({ i: 7 });
    expect(commandCalls(redis, 'mget') + commandCalls(redis, 'get')).toBe(0);
    await writer.close();
  });

  it("keeps each batched copy in L1 no longer than Redis keeps the key (each key's PTTL)", async () => {
    const reader = caches.create({ redisUrl: redis.url });
    await reader.ready();
    // Redis reports the expiry of a tracked key only once it deletes it, which a busy Redis may do
    // long after: with active expiry off, only the PTTL read with the value bounds the L1 copy
    redis.cli('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
    try {
      redis.cli('SET', 'default_short', '"short"', 'PX', '400');
      for (let i = 0; i < 10; i++) redis.cli('SET', `default_long${i}`, '"long"', 'EX', '100');
      redis.cli('CONFIG', 'RESETSTAT');
      const keys = ['short', ...Array.from({ length: 10 }, (_, i) => `long${i}`)];
      expect(await Promise.all(keys.map((key) => reader.get(key)))).toEqual([
        'short',
        ...keys.slice(1).map(() => 'long'),
      ]);
      expect(commandCalls(redis, 'mget')).toBe(1);
      expect(commandCalls(redis, 'pttl')).toBe(11);
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(await reader.get('short')).toBeUndefined();
      redis.cli('CONFIG', 'RESETSTAT');
      expect(await reader.get('long3')).toBe('long');
      expect(commandCalls(redis, 'get')).toBe(0);
    } finally {
      redis.cli('DEBUG', 'SET-ACTIVE-EXPIRE', '1');
    }
  });

  it('a read alone in its tick is one GET, as before', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.ready();
    redis.cli('SET', 'default_alone', '"here"', 'EX', '100');
    redis.cli('CONFIG', 'RESETSTAT');
    expect(await cache.get('alone')).toBe('here');
    expect(commandCalls(redis, 'get')).toBe(1);
    expect(commandCalls(redis, 'mget')).toBe(0);
  });

  it('writes 64 values of one tick with 4 script calls, each value with its own TTL', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.ready();
    redis.cli('CONFIG', 'RESETSTAT');
    const stored = await Promise.all(
      Array.from({ length: 64 }, (_, i) => cache.set(`w${i}`, { i }, { ttl: 100 + i })),
    );
    expect(stored).toEqual(Array.from({ length: 64 }, () => true));
    expect(commandCalls(redis, 'evalsha') + commandCalls(redis, 'eval')).toBe(4);
    expect(redis.cli('GET', 'default_w63')).toBe('{"i":63}');
    expectTtl(redis, 'default_w0', 100);
    expectTtl(redis, 'default_w63', 163);
  });

  it('keeps tagged and untagged writes of one tick apart in the tag index', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.ready();
    expect(
      await Promise.all([
        cache.set('tagged', 1, { tags: ['t'] }),
        cache.set('plain', 2),
        cache.setMany([
          { key: 'm1', value: 3, tags: ['t'] },
          { key: 'm2', value: 4 },
        ]),
      ]),
    ).toEqual([true, true, true]);
    await cache.invalidateTags(['t']);
    const fresh = caches.create({ redisUrl: redis.url });
    expect(await fresh.getMany(['tagged', 'plain', 'm1', 'm2'])).toEqual([undefined, 2, undefined, 4]);
  });

  it('keeps the order callers issued their commands in: a read after a write sees it, a read before does not', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.ready();
    redis.cli('SET', 'default_k', '"old"', 'EX', '100');
    const before = cache.get('k');
    const written = cache.set('k', 'new');
    const after = cache.get('k');
    const removed = cache.delete('k');
    const gone = cache.get('k');
    expect(await before).toBe('old');
    expect(await written).toBe(true);
    expect(await after).toBe('new');
    expect(await removed).toBe(true);
    expect(await gone).toBeUndefined();
    // and the value read before the write did not come back into L1 over the write
    await cache.set('k', 'newest');
    expect(await cache.get('k')).toBe('newest');
  });

  it('answers every caller of a batch that fails, within the deadline', async () => {
    const cache = caches.create({ redisUrl: redis.url, operationTimeoutMs: 300 });
    await cache.ready();
    redis.cli('SET', 'default_p', '"v"', 'EX', '100');
    redis.pause();
    try {
      const startedAt = performance.now();
      const reads = Promise.all(Array.from({ length: 20 }, () => cache.get('p')));
      const writes = Promise.all(Array.from({ length: 20 }, (_, i) => cache.set(`q${i}`, i)));
      expect(await reads).toEqual(Array.from({ length: 20 }, () => undefined));
      expect(await writes).toEqual(Array.from({ length: 20 }, () => false));
      // each batch waited out its deadline once; the write batch then waited until it could no longer land
      expect(performance.now() - startedAt).toBeLessThan(3000);
    } finally {
      redis.resume();
    }
    // the failed writes are owed as deletes; nothing of them is read once Redis answers
    // (the timeouts replaced the connection: writes resume once the new one is ready)
    await waitFor(() => cache.set('after', 1), 5000, 'writes to resume');
    const fresh = caches.create({ redisUrl: redis.url });
    expect(await fresh.get('q3')).toBeUndefined();
  });
});
