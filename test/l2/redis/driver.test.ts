import { describe, expect, it } from 'vitest';
import { cacheFactory, redisPerFile } from '../../support/cache.js';
import { commandCalls } from '../../support/redis.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

describe('Redis driver: deadline-guarded writes and breaker status', () => {
  it('writes through the deadline script, atomically with the TTL, and reports a closed breaker', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    const before = commandCalls(redis, 'evalsha');
    expect(
      await cache.setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: { x: 2 }, ttl: 60 },
      ]),
    ).toBe(true);
    expect(commandCalls(redis, 'evalsha')).toBe(before + 1);
    expect(redis.cli('GET', 'default_b')).toBe('{"x":2}');
    // a second may tick between the write and the TTL read on a busy machine
    expect(Number(redis.cli('TTL', 'default_b'))).toBeGreaterThanOrEqual(59);
    expect(Number(redis.cli('TTL', 'default_b'))).toBeLessThanOrEqual(60);
    expect(Number(redis.cli('TTL', 'default_a'))).toBeGreaterThanOrEqual(3599);
    expect(Number(redis.cli('TTL', 'default_a'))).toBeLessThanOrEqual(3600);
    expect(cache.status().breaker).toBe('closed');
    expect(cache.status().l2.breakerOpens).toBe(0);
    expect(cache.stats().total.skipped).toBe(0);
  });

  it('still writes after the script cache is flushed (NOSCRIPT falls back to sending the script)', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    expect(await cache.set('k', 1)).toBe(true);
    redis.cli('SCRIPT', 'FLUSH');
    expect(await cache.set('k', 2)).toBe(true);
    expect(redis.cli('GET', 'default_k')).toBe('2');
    expect(await cache.set('k', 3)).toBe(true);
    expect(redis.cli('GET', 'default_k')).toBe('3');
  });
});
