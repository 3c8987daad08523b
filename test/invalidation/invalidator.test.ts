import { describe, expect, it } from 'vitest';
import { CacheConfigError, CacheKeyError, ConfirmationRequiredError } from '../../src/errors.js';
import {
  type CacheOptions,
  createInvalidator,
  type DomainConfig,
  type InvalidationGroup,
} from '../../src/index.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';
import { captureLogger } from '../support/logs.js';
import { freePort, waitFor } from '../support/redis.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const groups = {
  dashboard: {
    tags: ['dashboard'],
    keys: [{ key: 'products_count', dbType: 'catalog' }],
    patterns: [{ pattern: 'daily_*', dbType: 'analytics' }],
  },
  media: { patterns: [{ pattern: '*', dbType: 'media' }] },
} satisfies Record<string, InvalidationGroup>;

function create<X extends Record<string, DomainConfig> = Record<never, DomainConfig>>(
  extra: CacheOptions<X> = {},
) {
  return caches.create<X, typeof groups>({
    redisUrl: redis.url,
    operationTimeoutMs: 2000,
    ...extra,
    invalidation: { groups },
  });
}

/** Writes the Products Manager's usual keys; returns the names of those the dashboard group covers. */
async function seed(cache: ReturnType<typeof create>) {
  await cache.set('products_count', 1500, { dbType: 'catalog' });
  await cache.set('products_42', { id: 42 }, { dbType: 'catalog' });
  await cache.set('top_sellers', [42], { dbType: 'catalog', tags: ['dashboard'] });
  await cache.set('daily_2026-11-30', 9, { dbType: 'analytics' });
  await cache.set('weekly_48', 60, { dbType: 'analytics' });
  await cache.setMany(
    [
      { key: 'cover_42', value: 'a' },
      { key: 'cover_7', value: 'b' },
    ],
    { dbType: 'media' },
  );
  return ['catalog_products_count', 'catalog_top_sellers', 'analytics_daily_2026-11-30'];
}

function keys(): string[] {
  const out = redis.cli('KEYS', '*');
  return out === '' ? [] : out.split('\n').sort();
}

describe('targeted and pattern invalidation', () => {
  it('invalidate removes one key from both tiers and says whether it was there', async () => {
    const logger = captureLogger();
    const cache = create({ logger });
    await seed(cache);
    expect(await cache.invalidation.invalidate('products_42', 'catalog', 'product 42 updated')).toBe(1);
    expect(redis.cli('EXISTS', 'catalog_products_42')).toBe('0');
    expect(await cache.get('products_42', { dbType: 'catalog' })).toBeUndefined();
    expect(await cache.invalidation.invalidate('products_42', 'catalog')).toBe(0);
    expect(cache.stats().domains.catalog!.deletes).toBe(1);
    const line = logger.lines.find((l) => l.msg === 'cachette: cache invalidated');
    expect(line?.level).toBe('info');
    expect(line?.fields).toEqual({
      invalidation: 'key',
      dbType: 'catalog',
      key: 'products_42',
      reason: 'product 42 updated',
      removed: 1,
    });
  });

  it('invalidatePattern and invalidateDomain remove what they match, within the domain', async () => {
    const cache = create();
    await seed(cache);
    redis.cli('SET', 'catalogue_other_app', 'x');
    expect(await cache.invalidation.invalidatePattern('products_*', 'catalog', 'bulk import')).toBe(2);
    expect(await cache.get('products_count', { dbType: 'catalog' })).toBeUndefined();
    expect(await cache.get('top_sellers', { dbType: 'catalog' })).toEqual([42]);
    expect(await cache.invalidation.invalidateDomain('catalog', 'catalog re-imported')).toBe(1);
    expect(await cache.invalidation.invalidateDomain('media')).toBe(2);
    expect(keys()).toEqual([
      '__cachette:tag:dashboard',
      'analytics_daily_2026-11-30',
      'analytics_weekly_48',
      'catalogue_other_app',
    ]);
  });

  it('refuses bad keys, patterns and dbTypes with CacheKeyError', async () => {
    const cache = create();
    const inv = cache.invalidation as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    await expect(inv.invalidate!('', 'catalog')).rejects.toThrow(CacheKeyError);
    await expect(inv.invalidate!('k', 'nope')).rejects.toThrow(CacheKeyError);
    await expect(inv.invalidatePattern!('', 'catalog')).rejects.toThrow(CacheKeyError);
    await expect(inv.invalidateDomain!('nope')).rejects.toThrow(CacheKeyError);
    await expect(inv.invalidateGroup!('nope')).rejects.toThrow(/Unknown invalidation group "nope"/);
  });
});

describe('groups', () => {
  it('invalidateDashboardCache removes the tags, keys and patterns of the dashboard group, and only them', async () => {
    const logger = captureLogger();
    const cache = create({ logger });
    const covered = await seed(cache);
    const before = keys();
    expect(await cache.invalidation.invalidateDashboardCache('price change')).toBe(3);
    expect(keys()).toEqual(before.filter((k) => !covered.includes(k) && k !== '__cachette:tag:dashboard'));
    for (const [key, dbType] of [
      ['products_count', 'catalog'],
      ['top_sellers', 'catalog'],
      ['daily_2026-11-30', 'analytics'],
    ] as const) {
      expect(await cache.get(key, { dbType })).toBeUndefined();
    }
    expect(await cache.get('products_42', { dbType: 'catalog' })).toEqual({ id: 42 });
    const line = logger.lines.find((l) => l.msg === 'cachette: cache invalidated');
    expect(line?.fields).toMatchObject({
      invalidation: 'group',
      group: 'dashboard',
      reason: 'price change',
      removed: 3,
    });
  });

  it('gives every declared group its function, and invalidateGroup(name) is the same', async () => {
    const cache = create();
    await seed(cache);
    expect(await cache.invalidation.invalidateMediaCache()).toBe(2);
    expect(await cache.invalidation.invalidateGroup('media')).toBe(0);
    await seed(cache);
    expect(await cache.invalidation.invalidateGroup('dashboard')).toBe(3);
    expect(Object.keys(cache.invalidation).sort()).toEqual([
      'invalidateDashboardCache',
      'invalidateMediaCache',
    ]);
    // @ts-expect-error: no group `reports` was declared, so TypeScript knows no such function
    expect(cache.invalidation.invalidateReportsCache).toBeUndefined();
  });

  it('createInvalidator builds an invalidator with its own groups over any cache', async () => {
    const cache = caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000 });
    await cache.set('cover_1', 1, { dbType: 'media', tags: ['product:1'] });
    await cache.set('products_1', 1, { dbType: 'catalog', tags: ['product:1'] });
    await cache.set('products_2', 2, { dbType: 'catalog' });
    const invalidator = createInvalidator(cache, {
      product1: { tags: ['product:1'] },
      catalogCount: { keys: [{ key: 'products_2', dbType: 'catalog' }] },
    });
    expect(await invalidator.invalidateProduct1Cache('product 1 deleted')).toBe(2);
    expect(await invalidator.invalidateCatalogCountCache()).toBe(1);
    expect(keys()).toEqual([]);
    expect(() =>
      createInvalidator(cache, { bad: { keys: [{ key: 'k', dbType: 'nope' as 'catalog' }] } }),
    ).toThrow(CacheConfigError);
  });

  it.each([
    ['a name with a dash', { 'media-files': { tags: ['m'] } }, /letters and digits/],
    ['an empty group', { empty: {} }, /empty/],
    [
      'an unknown dbType',
      { g: { keys: [{ key: 'k', dbType: 'nope' }] } },
      /keys\[0\]\.dbType must be one of/,
    ],
    ['a bad tag', { g: { tags: [''] } }, /invalidation\.groups\.g\.tags: a tag must be a non-empty string/],
    ['a bad pattern', { g: { patterns: [{ pattern: '', dbType: 'media' }] } }, /patterns\[0\]\.pattern/],
    ['an unknown field', { g: { tag: ['x'] } }, /g\.tag is not a group field/],
    [
      'two names giving one function',
      { media: { tags: ['a'] }, Media: { tags: ['b'] } },
      /invalidateMediaCache/,
    ],
  ])('refuses %s at createCache with CacheConfigError', (_name, badGroups, message) => {
    const attempt = () =>
      caches.create({
        redisUrl: redis.url,
        invalidation: { groups: badGroups as Record<string, InvalidationGroup> },
      });
    expect(attempt).toThrow(CacheConfigError);
    expect(attempt).toThrow(message);
  });
});

describe('flushAll', () => {
  it("scope app removes every key under the app's prefixes, its leases and tag entries, and nothing else", async () => {
    const logger = captureLogger();
    const cache = create({ logger, domains: { reports: { prefix: 'reports:', ttl: 60 } } });
    await seed(cache);
    await cache.set('r1', 1, { dbType: 'reports', tags: ['dashboard'] });
    redis.cli('SET', 'sessions_1', 'other app');
    redis.cli('SET', 'otherapp_x', '1');
    redis.cli('SADD', '__cachette:tag:dashboard', 'otherapp_x');
    let calls = 0;
    const loading = cache.getOrSet(
      'report',
      async () => {
        calls++;
        await sleep(300);
        return 'old';
      },
      { dbType: 'analytics' },
    );
    await waitFor(() => calls === 1, 2000, 'the factory');

    expect(await cache.flushAll({ scope: 'app', reason: 'deployment' })).toBe(8);
    expect(await loading).toBe('old');
    expect(keys()).toEqual(['__cachette:tag:dashboard', 'otherapp_x', 'sessions_1']);
    expect(redis.cli('SMEMBERS', '__cachette:tag:dashboard')).toBe('otherapp_x');
    expect(cache.status().l1.entries).toBe(0);
    expect(await cache.get('products_42', { dbType: 'catalog' })).toBeUndefined();
    const line = logger.lines.find((l) => l.msg === 'cachette: cache invalidated');
    expect(line?.fields).toEqual({ invalidation: 'flush', scope: 'app', reason: 'deployment', removed: 8 });
  });

  it('scope database refuses without confirm: true and flushes the whole database with it', async () => {
    const cache = create();
    await seed(cache);
    redis.cli('SET', 'sessions_1', 'other app');
    const unconfirmed = { scope: 'database' } as unknown as { scope: 'database'; confirm: true };
    await expect(cache.flushAll(unconfirmed)).rejects.toThrow(ConfirmationRequiredError);
    await expect(cache.flushAll(unconfirmed)).rejects.toMatchObject({ code: 'E_CONFIRMATION_REQUIRED' });
    await expect(cache.flushAll({ scope: 'everything' } as unknown as { scope: 'app' })).rejects.toThrow(
      CacheKeyError,
    );
    expect(redis.cli('EXISTS', 'sessions_1')).toBe('1');
    expect(await cache.invalidation.flushAll({ scope: 'database', confirm: true, reason: 'migration' })).toBe(
      9,
    );
    expect(redis.cli('DBSIZE')).toBe('0');
    expect(await cache.get('products_42', { dbType: 'catalog' })).toBeUndefined();
  });
});

describe('when Redis is unreachable', () => {
  it('every function resolves to false without throwing, owes its work to Redis, and logs no line per call', async () => {
    const logger = captureLogger();
    const cache = create({
      redisUrl: `redis://127.0.0.1:${await freePort()}/0`,
      connectTimeoutMs: 300,
      logger,
    });
    const inv = cache.invalidation;
    const outcomes = await Promise.all([
      inv.invalidate('k', 'catalog', 'why'),
      inv.invalidatePattern('p*', 'catalog', 'why'),
      inv.invalidateDomain('media', 'why'),
      inv.invalidateTags(['t'], 'why'),
      inv.invalidateGroup('dashboard', 'why'),
      inv.invalidateDashboardCache('why'),
      inv.invalidateMediaCache('why'),
      inv.flushAll({ scope: 'app', reason: 'why' }),
      inv.flushAll({ scope: 'database', confirm: true, reason: 'why' }),
    ]);
    expect(outcomes).toEqual(Array(9).fill(false));
    // the flushes cover everything else: one entry, applied once Redis answers
    expect(cache.status().pending).toMatchObject({ entries: 1, widened: 0, dropped: 0 });
    // the outage's one warning, and no line per call
    expect(logger.lines.filter((l) => l.level !== 'debug').map((l) => l.msg)).toEqual([
      'cachette: Redis unavailable; serving from memory and the application until it is back',
    ]);
  });
});
