import { describe, expect, it } from 'vitest';
import { CacheKeyError } from '../src/errors.js';
import { FillGuard } from '../src/l1/fill-guard.js';
import { expectTtl } from './support/assertions.js';
import { cacheFactory, redisPerFile } from './support/cache.js';
import { captureLogger } from './support/logs.js';
import { commandCalls, freePort, waitFor } from './support/redis.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

describe('CacheService operations', () => {
  it('writes prefix + key with SET … EX the domain TTL, as JSON', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    expect(await cache.set('products_count', 1500, { dbType: 'catalog' })).toBe(true);
    expect(redis.cli('GET', 'catalog_products_count')).toBe('1500');
    expectTtl(redis, 'catalog_products_count', 7200);
    expect(await cache.get('products_count', { dbType: 'catalog' })).toBe(1500);
    expect(commandCalls(redis, 'expire')).toBe(0);
  });

  it('applies every built-in domain prefix and TTL, and REDIS_CACHE_TTL to default', async () => {
    const cache = caches.create({ redisUrl: redis.url, env: { REDIS_CACHE_TTL: '1234' } });
    const expected = {
      catalog: 7200,
      media: 3600,
      imports: 1800,
      code2asin: 86400,
      analytics: 3600,
      default: 1234,
    };
    for (const [dbType, ttl] of Object.entries(expected)) {
      await cache.set('k', { dbType }, { dbType: dbType as keyof typeof expected });
      expectTtl(redis, `${dbType}_k`, ttl);
      expect(JSON.parse(redis.cli('GET', `${dbType}_k`))).toEqual({ dbType });
    }
  });

  it('uses the default domain when no dbType is given, and an explicit ttl when given', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.set('temp_data', { a: [1, 2] }, { ttl: 300 });
    expectTtl(redis, 'default_temp_data', 300);
    expect(await cache.get('temp_data', { dbType: 'default' })).toEqual({ a: [1, 2] });
  });

  it('supports custom domains and cache.db() views', async () => {
    const cache = caches.create({
      redisUrl: redis.url,
      domains: { reports: { prefix: 'reports_', ttl: 600 } },
    });
    const reports = cache.db('reports');
    await reports.set('weekly', ['x']);
    expectTtl(redis, 'reports_weekly', 600);
    expect(await reports.get('weekly')).toEqual(['x']);
    expect(await reports.delete('weekly')).toBe(true);
    expect(redis.cli('EXISTS', 'reports_weekly')).toBe('0');
  });

  it("keeps a cache.db() view's calls in its domain even when their options name another", async () => {
    const cache = caches.create({
      redisUrl: redis.url,
      domains: { reports: { prefix: 'reports_', ttl: 600 }, other: { prefix: 'other_', ttl: 60 } },
    });
    const reports = cache.db('reports');
    // a JavaScript caller can pass what the types leave out
    const stray = { ttl: 120, dbType: 'other' } as { ttl: number };
    await reports.set('daily', 1, stray);
    expectTtl(redis, 'reports_daily', 120);
    expect(await reports.getOrSet('monthly', () => 2, stray)).toBe(2);
    await reports.setMany([{ key: 'yearly', value: 3 }], stray);
    expect(await reports.getOrSetMany(['quarterly'], () => new Map([['quarterly', 4]]), stray)).toEqual([4]);
    for (const key of ['monthly', 'yearly', 'quarterly']) expectTtl(redis, `reports_${key}`, 120);
    expect(redis.cli('EXISTS', 'other_daily', 'other_monthly', 'other_yearly', 'other_quarterly')).toBe('0');
  });

  it('reads values written by another client, and fills L1 on an L2 hit', async () => {
    redis.cli('SET', 'media_file_abc123', '{"name":"a.png","size":12}', 'EX', '100');
    const cache = caches.create({ redisUrl: redis.url });
    expect(await cache.get('file_abc123', { dbType: 'media' })).toEqual({ name: 'a.png', size: 12 });
    expect(await cache.get('file_abc123', { dbType: 'media' })).toEqual({ name: 'a.png', size: 12 });
    expect(cache.stats().domains.media).toMatchObject({ l2Hits: 1, l1Hits: 1, misses: 0, hitRate: 1 });
  });

  it('caches null, and reports a miss as undefined', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.set('nothing', null);
    expect(redis.cli('GET', 'default_nothing')).toBe('null');
    expect(await cache.get('nothing')).toBeNull();
    expect(await cache.get('absent')).toBeUndefined();
    expect(cache.stats().total.misses).toBe(1);
  });

  it('never keeps a value in L1 longer than its remaining Redis TTL', async () => {
    redis.cli('SET', 'default_short', '"v"', 'PX', '300');
    const cache = caches.create({ redisUrl: redis.url, l1: { ttl: 30 } });
    expect(await cache.get('short')).toBe('v');
    await new Promise((r) => setTimeout(r, 400));
    expect(await cache.get('short')).toBeUndefined();
  });

  it('deletes from both tiers', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.set('products_count', 1, { dbType: 'catalog' });
    expect(await cache.delete('products_count', { dbType: 'catalog' })).toBe(true);
    expect(redis.cli('EXISTS', 'catalog_products_count')).toBe('0');
    expect(await cache.get('products_count', { dbType: 'catalog' })).toBeUndefined();
  });

  it('does not let a read that was in flight during a delete refill L1 with the old value', async () => {
    redis.cli('SET', 'catalog_p1', '"old"', 'EX', '100');
    const cache = caches.create({ redisUrl: redis.url, l1: { ttl: 30 } });
    const read = cache.get('p1', { dbType: 'catalog' });
    const removal = cache.delete('p1', { dbType: 'catalog' });
    await Promise.all([read, removal]);
    expect(await cache.get('p1', { dbType: 'catalog' })).toBeUndefined();
  });

  it('keeps L1 isolated from a caller mutating the object it passed to set()', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    const product = { name: 'before' };
    await cache.set('p', product);
    product.name = 'after';
    expect(await cache.get('p')).toEqual({ name: 'before' });
  });

  it('gives the caller of a read from Redis its own object; later L1 hits share one parsed copy', async () => {
    redis.cli('SET', 'default_shared', '{"name":"stored"}', 'EX', '100');
    const cache = caches.create({ redisUrl: redis.url, l1: { ttl: 30 } });
    const fromRedis = await cache.get<{ name: string }>('shared');
    fromRedis!.name = 'mutated by the first caller';
    const first = await cache.get<{ name: string }>('shared');
    expect(first).toEqual({ name: 'stored' });
    expect(await cache.get('shared')).toBe(first);
    expect(cache.stats().total).toMatchObject({ l2Hits: 1, l1Hits: 2 });
  });
});

describe('deletePattern', () => {
  it('removes matching keys of one domain only, with SCAN and UNLINK, never KEYS', async () => {
    redis.cli('CONFIG', 'RESETSTAT'); // the counts below are this test's alone
    const cache = caches.create({ redisUrl: redis.url });
    for (let i = 0; i < 5; i++) await cache.set(`products_${i}`, i, { dbType: 'catalog' });
    await cache.set('suppliers_1', 's', { dbType: 'catalog' });
    await cache.set('products_1', 'other domain', { dbType: 'media' });
    expect(await cache.deletePattern('products_*', { dbType: 'catalog' })).toBe(5);
    expect(await cache.get('products_3', { dbType: 'catalog' })).toBeUndefined();
    expect(await cache.get('suppliers_1', { dbType: 'catalog' })).toBe('s');
    expect(await cache.get('products_1', { dbType: 'media' })).toBe('other domain');
    expect(commandCalls(redis, 'keys')).toBe(0);
    expect(commandCalls(redis, 'del')).toBe(0);
    expect(commandCalls(redis, 'scan')).toBeGreaterThan(0);
  });

  it('removes thousands of keys in batches', async () => {
    redis.cli('EVAL', "for i=1,5000 do redis.call('SET', 'imports_job_'..i, '1') end", '0');
    const cache = caches.create({ redisUrl: redis.url });
    expect(await cache.deletePattern('job_*', { dbType: 'imports' })).toBe(5000);
    expect(redis.cli('DBSIZE')).toBe('0');
    expect(commandCalls(redis, 'unlink')).toBeGreaterThan(1);
  });

  it('escapes glob characters of the prefix so the pattern stays inside the domain', async () => {
    const cache = caches.create({ redisUrl: redis.url, domains: { odd: { prefix: 'o*_', ttl: 60 } } });
    redis.cli('SET', 'oops_x', '1');
    await cache.set('x', 1, { dbType: 'odd' });
    expect(await cache.deletePattern('*', { dbType: 'odd' })).toBe(1);
    expect(redis.cli('GET', 'oops_x')).toBe('1');
  });

  it('evicts matching L1 entries', async () => {
    const cache = caches.create({ redisUrl: redis.url, l1: { ttl: 60 } });
    await cache.set('products_1', 'p');
    await cache.set('other', 'o');
    redis.cli('SET', 'default_products_1', '"changed behind our back"');
    await cache.deletePattern('products_*');
    expect(await cache.get('products_1')).toBeUndefined();
    expect(await cache.get('other')).toBe('o');
  });
});

describe('getMany / setMany', () => {
  it('keeps every value of a setMany in L1, even keys that share a fill-guard bucket', async () => {
    // two keys whose Redis keys hash to the same fill-guard counter: a touch of one moves the other's ticket
    const guard = new FillGuard();
    const collides = (redisKey: string) => {
      const before = guard.ticket(redisKey);
      guard.touch('default_k0');
      return guard.ticket(redisKey) !== before;
    };
    let other = 1;
    while (!collides(`default_k${other}`)) other++;
    const cache = caches.create({ redisUrl: redis.url });
    expect(
      await cache.setMany([
        { key: 'k0', value: 'first' },
        { key: `k${other}`, value: 'second' },
      ]),
    ).toBe(true);
    expect(await cache.getMany(['k0', `k${other}`])).toEqual(['first', 'second']);
    expect(cache.stats().total).toMatchObject({ l1Hits: 2, l2Hits: 0 });
  });

  it('reads the keys L1 lacks in one round trip and keeps the order', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.setMany(
      [
        { key: 'a', value: 1 },
        { key: 'b', value: 2, ttl: 50 },
      ],
      { dbType: 'catalog' },
    );
    expectTtl(redis, 'catalog_b', 50);
    expectTtl(redis, 'catalog_a', 7200);
    redis.cli('SET', 'catalog_c', '3');
    redis.cli('SET', 'catalog_d', '4');
    const before = commandCalls(redis, 'mget');
    expect(await cache.getMany(['a', 'c', 'missing', 'd', 'b'], { dbType: 'catalog' })).toEqual([
      1,
      3,
      undefined,
      4,
      2,
    ]);
    expect(commandCalls(redis, 'mget') - before).toBe(1);
    expect(cache.stats().domains.catalog).toMatchObject({ l1Hits: 2, l2Hits: 2, misses: 1 });
  });

  it('getMany and getOrSetMany answer dense arrays: a miss is an undefined element that map and filter see', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.set('here', 1);
    const dense = (array: unknown[]) => array.filter(() => true).length === array.length;
    const read = await cache.getMany(['gone', 'here', 'missing']);
    expect(read).toHaveLength(3);
    expect(dense(read)).toBe(true);
    expect(read.map((value) => value ?? 'miss')).toEqual(['miss', 1, 'miss']);
    const loaded = await cache.getOrSetMany(['here', 'none', 'also'], async () => new Map([['also', 2]]));
    expect(dense(loaded)).toBe(true);
    expect(loaded.map((value) => value ?? 'miss')).toEqual([1, 'miss', 2]);
    const cold = caches.create({
      redisUrl: `redis://127.0.0.1:${await freePort()}/0`,
      connectTimeoutMs: 200,
    });
    const failed = await cold.getMany(['a', 'b']);
    expect(dense(failed)).toBe(true);
  });
});

describe('deleteMany', () => {
  it('removes keys from both tiers with their leases, and resolves to how many existed in Redis', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.setMany(
      ['a', 'b'].map((key) => ({ key, value: key })),
      { dbType: 'catalog' },
    );
    redis.cli('SET', '__cachette:lease:catalog_a', 'token', 'PX', '5000');
    expect(await cache.deleteMany(['a', 'b', 'never'], { dbType: 'catalog' })).toBe(2);
    expect(redis.cli('EXISTS', 'catalog_a', 'catalog_b', '__cachette:lease:catalog_a')).toBe('0');
    expect(await cache.getMany(['a', 'b'], { dbType: 'catalog' })).toEqual([undefined, undefined]);
    expect(await cache.db('catalog').deleteMany(['a'])).toBe(0);
    expect(cache.stats().domains.catalog?.deletes).toBe(2);
    await expect(cache.deleteMany([''], { dbType: 'catalog' })).rejects.toBeInstanceOf(CacheKeyError);
  });

  it('resolves to false, without throwing, when Redis fails', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.ready();
    await redis.kill();
    try {
      expect(await cache.deleteMany(['a'])).toBe(false);
      expect(cache.stats().total.errors).toBe(1);
    } finally {
      await redis.start();
    }
  });
});

describe('values', () => {
  it('refuses unserialisable values with false and a logged reason', async () => {
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: redis.url, logger });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(await cache.set('c', circular)).toBe(false);
    expect(await cache.set('b', 10n)).toBe(false);
    expect(await cache.set('u', undefined)).toBe(false);
    expect(redis.cli('DBSIZE')).toBe('0');
    expect(logger.lines.filter((l) => l.level === 'warn' && /cannot be serialised/.test(l.msg))).toHaveLength(
      3,
    );
    expect(cache.stats().total.refused).toBe(3);
  });

  it('refuses values above maxValueBytes', async () => {
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: redis.url, maxValueBytes: 1000, logger });
    expect(await cache.set('big', 'é'.repeat(600))).toBe(false);
    expect(await cache.set('ok', 'e'.repeat(600))).toBe(true);
    expect(logger.lines.some((l) => /larger than maxValueBytes/.test(l.msg))).toBe(true);
  });

  it('a refused value does not leave the older one in Redis: its key is deleted', async () => {
    const cache = caches.create({ redisUrl: redis.url, maxValueBytes: 1000 });
    const reader = caches.create({ redisUrl: redis.url });
    expect(
      await cache.setMany([
        { key: 'p1', value: 'old' },
        { key: 'p2', value: 'old' },
      ]),
    ).toBe(true);
    expect(
      await cache.setMany([
        { key: 'p1', value: 'é'.repeat(600) },
        { key: 'p2', value: 'new' },
      ]),
    ).toBe(false);
    await waitFor(() => cache.status().pending.entries === 0, 5000, 'the delete to be applied');
    expect(await reader.get('p1')).toBeUndefined();
    expect(await reader.get('p2')).toBe('new');
  });

  it('uses a pluggable serializer', async () => {
    const cache = caches.create({
      redisUrl: redis.url,
      serializer: { serialize: (v) => `v1:${JSON.stringify(v)}`, deserialize: (t) => JSON.parse(t.slice(3)) },
    });
    await cache.set('k', { a: 1 });
    expect(redis.cli('GET', 'default_k')).toBe('v1:{"a":1}');
    await caches.closeAll();
    const other = caches.create({
      redisUrl: redis.url,
      serializer: { serialize: (v) => `v1:${JSON.stringify(v)}`, deserialize: (t) => JSON.parse(t.slice(3)) },
    });
    expect(await other.get('k')).toEqual({ a: 1 });
  });
});

describe('programming errors are loud', () => {
  it('rejects an unknown dbType and invalid keys with CacheKeyError', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    // @ts-expect-error: not a configured domain
    await expect(cache.get('k', { dbType: 'nope' })).rejects.toThrow(CacheKeyError);
    // @ts-expect-error: not a configured domain
    await expect(cache.get('k', { dbType: 'toString' })).rejects.toThrow(CacheKeyError);
    await expect(cache.set('', 1)).rejects.toThrow(CacheKeyError);
    await expect(cache.delete('a\u0000b')).rejects.toThrow(CacheKeyError);
    await expect(cache.getMany(['ok', 'x'.repeat(2000)])).rejects.toThrow(CacheKeyError);
    await expect(cache.set('k', 1, { ttl: 0 })).rejects.toThrow(CacheKeyError);
    await expect(cache.set('k', 1, { ttl: 1.5 })).rejects.toThrow(CacheKeyError);
    expect(() => cache.db('nope' as 'catalog')).toThrow(CacheKeyError);
  });

  it('still rejects a bad key after its text was used as a valid key (remembered keys)', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    expect(await cache.set('5', 'five')).toBe(true);
    expect(await cache.get('5')).toBe('five');
    expect(await cache.getOrSet('5', async () => 'other')).toBe('five');
    await expect(cache.get(5 as unknown as string)).rejects.toThrow(CacheKeyError);
    await expect(cache.getOrSet(5 as unknown as string, async () => 1)).rejects.toThrow(CacheKeyError);
    await expect(cache.get('5\u0000')).rejects.toThrow(CacheKeyError);
    // the same key in another domain is another Redis key
    expect(await cache.get('5', { dbType: 'catalog' })).toBeUndefined();
  });
});

describe('bounds and concurrency', () => {
  it('keeps L1 within maxEntries', async () => {
    const cache = caches.create({ redisUrl: redis.url, l1: { maxEntries: 50 } });
    await Promise.all(Array.from({ length: 200 }, (_, i) => cache.set(`k${i}`, i)));
    expect(cache.status().l1.entries).toBe(50);
    expect(await cache.get('k3')).toBe(3);
  });

  it("keeps one key of two domains apart in L1, evicts only the one changed, and bounds all domains' entries together", async () => {
    const cache = caches.create({ redisUrl: redis.url, l1: { maxEntries: 4 } });
    await cache.set('k', 'catalog value', { dbType: 'catalog' });
    await cache.set('k', 'media value', { dbType: 'media' });
    expect(await cache.get('k', { dbType: 'catalog' })).toBe('catalog value');
    expect(await cache.get('k', { dbType: 'media' })).toBe('media value');
    // another client changes the catalog's key: coherence evicts that copy, and only that one
    redis.cli('SET', 'catalog_k', '"changed"', 'EX', '100');
    await waitFor(async () => (await cache.get('k', { dbType: 'catalog' })) === 'changed', 5000);
    expect(await cache.get('k', { dbType: 'media' })).toBe('media value');
    expect(cache.stats().domains.media).toMatchObject({ l1Hits: 2, l2Hits: 0 });
    for (let i = 0; i < 6; i++) {
      await cache.set(`n${i}`, i, { dbType: i % 2 === 0 ? 'catalog' : 'media' });
      expect(cache.status().l1.entries).toBeLessThanOrEqual(4);
    }
    // the four written last are kept, from both domains
    const before = cache.stats().domains;
    expect(await cache.get('n5', { dbType: 'media' })).toBe(5);
    expect(await cache.get('n2', { dbType: 'catalog' })).toBe(2);
    expect(cache.stats().domains.media!.l1Hits - before.media!.l1Hits).toBe(1);
    expect(cache.stats().domains.catalog!.l1Hits - before.catalog!.l1Hits).toBe(1);
  });

  it('answers 1000 concurrent sets and gets correctly', async () => {
    const cache = caches.create({ redisUrl: redis.url, operationTimeoutMs: 5000 });
    const sets = await Promise.all(Array.from({ length: 1000 }, (_, i) => cache.set(`n${i}`, { i })));
    expect(sets.every(Boolean)).toBe(true);
    const other = caches.create({ redisUrl: redis.url, operationTimeoutMs: 5000 });
    const values = await Promise.all(Array.from({ length: 1000 }, (_, i) => other.get(`n${i}`)));
    expect(values).toEqual(Array.from({ length: 1000 }, (_, i) => ({ i })));
  });
});
