import { describe, expect, it } from 'vitest';
import { CacheKeyError } from '../../src/errors.js';
import { expectTtl } from '../support/assertions.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';
import { captureLogger } from '../support/logs.js';
import { freePort, waitFor } from '../support/redis.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function create(extra: Parameters<typeof caches.create>[0] = {}) {
  return caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000, ...extra });
}

/** The members of a tag index, sorted. */
function indexed(tag: string): string[] {
  const out = redis.cli('SMEMBERS', `__cachette:tag:${tag}`);
  return out === '' ? [] : out.split('\n').sort();
}

describe('tags on writes', () => {
  it('set stores plain JSON and lists the key in the index of each tag, in any domain', async () => {
    const cache = create();
    expect(
      await cache.set('products_42', { id: 42 }, { dbType: 'catalog', tags: ['dashboard', 'product:42'] }),
    ).toBe(true);
    expect(await cache.set('cover_42', 'url', { dbType: 'media', tags: ['product:42'] })).toBe(true);
    expect(redis.cli('GET', 'catalog_products_42')).toBe('{"id":42}');
    expect(indexed('dashboard')).toEqual(['catalog_products_42']);
    expect(indexed('product:42')).toEqual(['catalog_products_42', 'media_cover_42']);
  });

  it("extends a tag index's expiry to its longest-lived member and never shortens it", async () => {
    const cache = create();
    await cache.set('long', 1, { ttl: 300, tags: ['t'] });
    await cache.set('short', 2, { ttl: 20, tags: ['t'] });
    const pttl = Number(redis.cli('PTTL', '__cachette:tag:t'));
    expect(pttl).toBeGreaterThan(290_000);
    expect(pttl).toBeLessThanOrEqual(300_000);
    await cache.set('longer', 3, { ttl: 900, tags: ['t'] });
    expect(Number(redis.cli('PTTL', '__cachette:tag:t'))).toBeGreaterThan(890_000);
  });

  it('setMany applies the call tags to every entry and adds per-entry tags', async () => {
    const cache = create();
    expect(
      await cache.setMany(
        [
          { key: 'a', value: 1 },
          { key: 'b', value: 2, tags: ['product:2'], ttl: 60 },
        ],
        { dbType: 'catalog', tags: ['dashboard'] },
      ),
    ).toBe(true);
    expect(indexed('dashboard')).toEqual(['catalog_a', 'catalog_b']);
    expect(indexed('product:2')).toEqual(['catalog_b']);
    expectTtl(redis, 'catalog_b', 60);
    await cache.db('media').setMany([{ key: 'm', value: 1 }], { tags: ['dashboard'] });
    await cache.db('media').set('n', 1, { tags: ['dashboard'] });
    expect(indexed('dashboard')).toEqual(['catalog_a', 'catalog_b', 'media_m', 'media_n']);
  });

  it('getOrSet and getOrSetMany store their results with their tags', async () => {
    const cache = create();
    expect(await cache.getOrSet('report', () => 'r', { dbType: 'analytics', tags: ['dashboard'] })).toBe('r');
    const batch = async (keys: string[]) => new Map(keys.map((k) => [k, `v${k}`]));
    expect(await cache.getOrSetMany(['x', 'y'], batch, { tags: ['dashboard', 'xy'] })).toEqual(['vx', 'vy']);
    await cache.getOrSet('unlocked', () => 1, { lock: false, tags: ['dashboard'] });
    await cache.getOrSet('graced', () => 1, { grace: 30, ttl: 60, tags: ['dashboard'] });
    expect(indexed('dashboard')).toEqual([
      'analytics_report',
      'default_graced',
      'default_unlocked',
      'default_x',
      'default_y',
    ]);
    expect(indexed('xy')).toEqual(['default_x', 'default_y']);
    expect(Number(redis.cli('PTTL', '__cachette:tag:dashboard'))).toBeGreaterThan(89_000);
    // nothing of the loads is left but the values and the indexes
    expect(redis.cli('KEYS', '__cachette:l*')).toBe('');
  });

  it.each([
    ['a string instead of an array', 'dashboard'],
    ['an empty tag', ['']],
    ['a number', [42]],
    ['a tag of 257 characters', ['x'.repeat(257)]],
    ['65 tags', Array.from({ length: 65 }, (_, i) => `t${i}`)],
    ['a control character', ['a\nb']],
  ])('refuses %s with CacheKeyError and writes nothing', async (_name, tags) => {
    const cache = create();
    const bad = tags as unknown as string[];
    await expect(cache.set('k', 1, { tags: bad })).rejects.toThrow(CacheKeyError);
    await expect(cache.setMany([{ key: 'k', value: 1, tags: bad }])).rejects.toThrow(CacheKeyError);
    await expect(cache.getOrSet('k', () => 1, { tags: bad })).rejects.toThrow(CacheKeyError);
    await expect(cache.invalidateTags(bad)).rejects.toThrow(CacheKeyError);
    expect(redis.cli('DBSIZE')).toBe('0');
  });

  it('accepts 64 tags of 256 characters', async () => {
    const cache = create();
    const tags = Array.from({ length: 64 }, (_, i) => `${i}:`.padEnd(256, 'x'));
    expect(await cache.set('k', 1, { tags })).toBe(true);
    expect(await cache.invalidateTags(tags)).toBe(1);
  });
});

describe('invalidateTags', () => {
  it('removes exactly the tagged keys, across domains, from Redis and from L1', async () => {
    const cache = create();
    await cache.set('products_42', 42, { dbType: 'catalog', tags: ['dashboard', 'product:42'] });
    await cache.set('cover_42', 'c', { dbType: 'media', tags: ['dashboard'] });
    await cache.set('products_7', 7, { dbType: 'catalog', tags: ['product:7'] });
    await cache.set('untagged', 'u', { dbType: 'catalog' });
    // a reader whose L1 holds the values too
    const reader = create();
    expect(await reader.get('products_42', { dbType: 'catalog' })).toBe(42);
    expect(reader.status().l1.entries).toBe(1);

    expect(await cache.invalidateTags(['dashboard'])).toBe(2);
    expect(redis.cli('EXISTS', 'catalog_products_42', 'media_cover_42')).toBe('0');
    // served from L1 before; a miss now means L1 lost it as well
    expect(await cache.get('products_42', { dbType: 'catalog' })).toBeUndefined();
    expect(await cache.get('cover_42', { dbType: 'media' })).toBeUndefined();
    expect(await cache.get('products_7', { dbType: 'catalog' })).toBe(7);
    expect(await cache.get('untagged', { dbType: 'catalog' })).toBe('u');
    expect(indexed('dashboard')).toEqual([]);
    // the other cache's L1 copy goes through coherence
    await waitFor(
      async () => (await reader.get('products_42', { dbType: 'catalog' })) === undefined,
      2000,
      "the reader's L1 copy to go",
    );
    // the other tag of a removed key still lists it until pruned; removing it again counts nothing
    expect(await cache.invalidateTags(['product:42', 'product:7'])).toBe(1);
    expect(redis.cli('DBSIZE')).toBe('1');
    expect(cache.stats().domains.catalog!.deletes).toBe(2);
    expect(cache.stats().domains.media!.deletes).toBe(1);
  });

  it('counts a key carrying several of the tags once', async () => {
    const cache = create();
    await cache.set('k', 1, { tags: ['a', 'b', 'c'] });
    await cache.set('j', 1, { tags: ['b'] });
    expect(await cache.invalidateTags(['a', 'b', 'c'])).toBe(2);
    expect(redis.cli('KEYS', '*')).toBe('');
  });

  it("leaves another app's keys under the same tag alone", async () => {
    const cache = create();
    await cache.set('mine', 1, { tags: ['dashboard'] });
    redis.cli('SET', 'otherapp_x', '1');
    redis.cli('SADD', '__cachette:tag:dashboard', 'otherapp_x');
    expect(await cache.invalidateTags(['dashboard'])).toBe(1);
    expect(redis.cli('GET', 'otherapp_x')).toBe('1');
    expect(indexed('dashboard')).toEqual(['otherapp_x']);
  });

  it('removes thousands of tagged keys in batches, and only them', async () => {
    const cache = create({ l1: { maxEntries: 10_000 } });
    const total = 5000;
    for (let start = 0; start < total; start += 500) {
      const entries = Array.from({ length: 500 }, (_, i) => ({ key: `p${start + i}`, value: start + i }));
      await cache.setMany(entries, { dbType: 'catalog', tags: ['bulk'] });
    }
    await cache.setMany(
      Array.from({ length: 100 }, (_, i) => ({ key: `keep${i}`, value: i })),
      { dbType: 'catalog' },
    );
    // most values sit in L1 (coherence may drop some copies of a burst of its own writes)
    expect(cache.status().l1.entries).toBeGreaterThan(total / 2);
    let scripts = 0;
    cache.observeL2((operation) => {
      if (operation === 'command') scripts++;
    });
    expect(await cache.invalidateTags(['bulk'], { reason: 'bulk import' })).toBe(total);
    expect(scripts).toBeGreaterThanOrEqual(total / 500);
    expect(redis.cli('DBSIZE')).toBe('100');
    expect(cache.status().l1.entries).toBeLessThanOrEqual(100);
    expect(await cache.getMany(['p0', 'p2500', 'p4999', 'keep7'], { dbType: 'catalog' })).toEqual([
      undefined,
      undefined,
      undefined,
      7,
    ]);
    expect(indexed('bulk')).toEqual([]);
  });

  it('resolves to false without throwing when Redis is unreachable, and owes the invalidation to Redis', async () => {
    const logger = captureLogger();
    const cache = create({
      redisUrl: `redis://127.0.0.1:${await freePort()}/0`,
      connectTimeoutMs: 300,
      logger,
    });
    expect(await cache.invalidateTags(['dashboard'], { reason: 'product 42 changed' })).toBe(false);
    expect(cache.status().pending).toMatchObject({ entries: 1 });
    // the outage's one warning, and no line per call
    expect(logger.lines.filter((l) => l.level !== 'debug').map((l) => l.msg)).toEqual([
      'cachette: Redis unavailable; serving from memory and the application until it is back',
    ]);
  });

  it('logs at info what was invalidated, why and how many', async () => {
    const logger = captureLogger();
    const cache = create({ logger });
    await cache.set('k', 1, { tags: ['product:42'] });
    await cache.invalidateTags(['product:42'], { reason: 'product 42 changed' });
    const line = logger.lines.find((l) => l.msg === 'cachette: cache invalidated');
    expect(line?.level).toBe('info');
    expect(line?.fields).toEqual({
      invalidation: 'tags',
      tags: ['product:42'],
      reason: 'product 42 changed',
      removed: 1,
    });
  });
});

describe('getOrSet during invalidateTags', () => {
  type Cache = ReturnType<typeof create>;
  const invalidations: Array<[string, (own: Cache, other: Cache) => Promise<unknown>]> = [
    ['in this process', (own) => own.invalidateTags(['dashboard'])],
    ['in another process', (_own, other) => other.invalidateTags(['dashboard'])],
  ];
  for (const [name, invalidate] of invalidations) {
    it(`returns but does not store a result computed before an invalidation ${name}`, async () => {
      const cache = create();
      const other = create();
      let calls = 0;
      let finish = () => {};
      const pending = cache.getOrSet(
        'report',
        async () => {
          calls++;
          // the factory ends only once the invalidation is done, however slow the machine
          await new Promise<void>((resolve) => {
            finish = resolve;
          });
          return 'computed from old data';
        },
        { tags: ['dashboard'] },
      );
      await waitFor(() => calls === 1, 2000, 'the factory');
      // the key has no value yet: its load is what the tag index lists
      expect(indexed('dashboard')).toEqual(['default_report']);
      expect(await invalidate(cache, other)).toBe(0);
      finish();
      expect(await pending).toBe('computed from old data');
      expect(redis.cli('EXISTS', 'default_report')).toBe('0');
      expect(await cache.get('report')).toBeUndefined();
      expect(cache.stats().loading.storesSkipped).toBe(1);
      expect(await cache.getOrSet('report', () => 'fresh', { tags: ['dashboard'] })).toBe('fresh');
      expect(indexed('dashboard')).toEqual(['default_report']);
    });
  }

  it('does not store a batch result for keys invalidated by tag while the batch factory ran', async () => {
    const cache = create();
    const other = create();
    let started = false;
    const pending = cache.getOrSetMany(
      ['p', 'q'],
      async (keys) => {
        started = true;
        await sleep(300);
        return new Map(keys.map((k) => [k, `value of ${k}`]));
      },
      { tags: ['dashboard'] },
    );
    await waitFor(() => started, 2000, 'the batch factory');
    await other.invalidateTags(['dashboard']);
    expect(await pending).toEqual(['value of p', 'value of q']);
    expect(redis.cli('EXISTS', 'default_p', 'default_q')).toBe('0');
  });
});

describe('tag index upkeep', () => {
  it('expires a tag index together with its values', async () => {
    const cache = create();
    await cache.setMany(
      [
        { key: 'a', value: 1, ttl: 1 },
        { key: 'b', value: 2, ttl: 2 },
      ],
      { tags: ['short'] },
    );
    const pttl = Number(redis.cli('PTTL', '__cachette:tag:short'));
    expect(pttl).toBeGreaterThan(1000);
    expect(pttl).toBeLessThanOrEqual(2000);
    await waitFor(() => redis.cli('EXISTS', 'default_b') === '0', 5000, 'the values to expire');
    await waitFor(() => redis.cli('EXISTS', '__cachette:tag:short') === '0', 1000, 'the index to expire');
  });

  it('stays bounded when a tag keeps receiving keys that go away', async () => {
    const cache = create();
    const live = 100;
    for (let round = 0; round < 30; round++) {
      const keys = Array.from({ length: live }, (_, i) => `churn_${round}_${i}`);
      for (const key of keys) await cache.set(key, round, { tags: ['churn'] });
      await cache.deletePattern(`churn_${round}_*`);
    }
    // 3000 keys went through the tag; the index keeps about as many as one round wrote
    const size = Number(redis.cli('SCARD', '__cachette:tag:churn'));
    expect(size).toBeLessThan(3 * live);
    // the index also drops gone keys when a round stays
    for (let i = 0; i < live; i++) await cache.set(`stay_${i}`, i, { tags: ['churn'] });
    expect(await cache.invalidateTags(['churn'])).toBe(live);
  });
});
