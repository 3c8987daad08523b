import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheFactory } from '../support/cache.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const caches = cacheFactory();
let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await caches.closeAll();
  await redis.stop();
});

describe('cache.keys()', () => {
  it('walks every key exactly once when the page size changes from one page to the next', async () => {
    redis.cli('EVAL', "for i = 1, 3000 do redis.call('SET', 'catalog_p' .. i, 'v') end", '0');
    // pages of 1000 TTL lookups: a generous deadline, this test is about paging, not speed
    const cache = caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000 });
    const seen: string[] = [];
    let cursor: string | undefined;
    const limits = [700, 50, 1000, 333, 10, 1000];
    let page = 0;
    do {
      const result = await cache.keys({ dbType: 'catalog', cursor, limit: limits[page++ % limits.length] });
      if (result === false) throw new Error('Redis failed');
      seen.push(...result.keys.map((k) => k.key));
      cursor = result.cursor ?? undefined;
    } while (cursor !== undefined);
    expect(seen).toHaveLength(3000);
    expect(new Set(seen).size).toBe(3000);
  });
});
