import { describe, expect, it } from 'vitest';
import { createAdminHandlers } from '../../src/admin/handlers.js';
import type { CacheOptions } from '../../src/config/options.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { CacheConfigError } from '../../src/errors.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';
import { waitFor } from '../support/redis.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A cache of the app whose key prefix is `keyPrefix` on this file's Redis. */
function app(keyPrefix: string, extra: CacheOptions = {}) {
  return caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000, keyPrefix, ...extra });
}

/** `result`, which must not be `false` (Redis failed). */
function answered<T>(result: T | false): T {
  if (result === false) throw new Error('Redis did not answer');
  return result;
}

/** Every key in Redis, sorted. */
function allKeys(): string[] {
  const text = redis.cli('KEYS', '*');
  return text === '' ? [] : text.split('\n').sort();
}

/** Writes the same keys, tags and loads through `cache`; returns its value for the shared tag. */
async function workload(cache: ReturnType<typeof app>, label: string) {
  await cache.set('products_1', `${label} product`, { dbType: 'catalog', tags: ['product:1'] });
  await cache.setMany(
    [
      { key: 'a', value: `${label} a` },
      { key: 'b', value: `${label} b` },
    ],
    { dbType: 'media', tags: ['product:1'] },
  );
  await cache.getOrSet('count', () => `${label} count`, { dbType: 'analytics', tags: ['dashboard'] });
  await cache.set('plain', label);
}

describe('keyPrefix: applications sharing one Redis', () => {
  it("keeps today's keys when unset, and puts every key, internal ones included, after the prefix", async () => {
    const legacy = app('');
    const reports = app('reports:');
    await workload(legacy, 'legacy');
    await workload(reports, 'reports');
    expect(await reports.claim('warming', 60_000)).toBe(true);
    expect(await legacy.claim('warming', 60_000)).toBe(true);
    expect(allKeys()).toEqual([
      '__cachette:slot:warming',
      '__cachette:tag:dashboard',
      '__cachette:tag:product:1',
      'analytics_count',
      'catalog_products_1',
      'default_plain',
      'media_a',
      'media_b',
      'reports:__cachette:slot:warming',
      'reports:__cachette:tag:dashboard',
      'reports:__cachette:tag:product:1',
      'reports:analytics_count',
      'reports:catalog_products_1',
      'reports:default_plain',
      'reports:media_a',
      'reports:media_b',
    ]);
    expect(redis.cli('SMEMBERS', 'reports:__cachette:tag:dashboard')).toBe('reports:analytics_count');
    // each reads its own value under the same cache key
    const fresh = app('reports:', { l1: { enabled: false } });
    expect(await fresh.get('plain')).toBe('reports');
    expect(await app('', { l1: { enabled: false } }).get('plain')).toBe('legacy');
  });

  it('names leases and the registry of loads in flight after the prefix, and revokes only its own', async () => {
    const reports = app('reports:');
    const other = app('');
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const loading = reports.getOrSet(
      'slow',
      async () => {
        await gate;
        return 'loaded';
      },
      { dbType: 'catalog', tags: ['t'] },
    );
    await waitFor(
      () => allKeys().includes('reports:__cachette:lease:reports:catalog_slow'),
      5000,
      'the lease',
    );
    expect(allKeys()).toEqual([
      'reports:__cachette:lease:reports:catalog_slow',
      'reports:__cachette:loading:reports:catalog_',
      'reports:__cachette:tag:t',
    ]);
    // the other app's invalidations of the same names do not revoke this app's load
    expect(await other.deletePattern('*', { dbType: 'catalog' })).toBe(0);
    expect(await other.invalidateTags(['t'])).toBe(0);
    expect(await other.flushAll({ scope: 'app' })).toBe(0);
    release();
    expect(await loading).toBe('loaded');
    expect(redis.cli('GET', 'reports:catalog_slow')).toBe('"loaded"');
    expect(reports.stats().loading.storesSkipped).toBe(0);
  });

  it('confines deletePattern, invalidateTags, flushAll, keys() and the key count to its own prefix', async () => {
    const legacy = app('');
    const reports = app('reports:');
    const shop = app('shop:');
    for (const [cache, label] of [
      [legacy, 'legacy'],
      [reports, 'reports'],
      [shop, 'shop'],
    ] as const) {
      await workload(cache, label);
    }
    const before = allKeys();
    const others = (prefix: string) => before.filter((key) => !key.startsWith(prefix));

    expect(await reports.deletePattern('*', { dbType: 'media' })).toBe(2);
    expect(await reports.invalidateTags(['product:1'])).toBe(1);
    const page = answered(await legacy.keys({ dbType: 'catalog' }));
    expect(page.keys.map((k) => k.redisKey)).toEqual(['catalog_products_1']);
    expect(answered(await shop.keys({ dbType: 'analytics' })).keys).toEqual([
      { key: 'count', redisKey: 'shop:analytics_count', ttl: expect.any(Number) },
    ]);
    expect(answered(await shop.countKeys()).domains).toMatchObject({
      catalog: 1,
      media: 2,
      analytics: 1,
      default: 1,
    });
    expect(await reports.flushAll({ scope: 'app' })).toBe(2);
    expect(allKeys().filter((key) => key.startsWith('reports:'))).toEqual([]);
    expect(allKeys()).toEqual(others('reports:'));
    // the legacy app (no prefix) flushes its own keys only, not those of prefixed apps
    expect(await legacy.flushAll({ scope: 'app' })).toBe(5);
    expect(allKeys().every((key) => key.startsWith('shop:'))).toBe(true);
    expect(allKeys()).toHaveLength(others('reports:').filter((key) => key.startsWith('shop:')).length);
  });

  it("answers the admin API with its own keys only, and clears nothing of another app's", async () => {
    const reports = app('reports:');
    const legacy = app('');
    await workload(reports, 'reports');
    await workload(legacy, 'legacy');
    const admin = createAdminHandlers({ cache: reports, adminToken: 'token' });
    const request = (query: Record<string, unknown>, body?: unknown) => ({
      headers: { authorization: 'Bearer token' },
      query,
      body,
      ip: '127.0.0.1',
      native: {},
    });
    const keys = await admin.keys(request({ dbType: 'media' }));
    expect(keys.body).toMatchObject({
      keys: [
        { key: 'a', redisKey: 'reports:media_a' },
        { key: 'b', redisKey: 'reports:media_b' },
      ],
    });
    const stats = await admin.stats(request({}));
    expect(stats.body).toMatchObject({
      domains: {
        media: { prefix: 'reports:media_', keys: 2 },
        catalog: { prefix: 'reports:catalog_', keys: 1 },
      },
    });
    expect((await admin.clear(request({}, { tags: ['product:1'] }))).body).toEqual({
      scope: 'tags',
      tags: ['product:1'],
      removed: 3,
    });
    expect((await admin.clear(request({}, { all: true }))).body).toEqual({ scope: 'all', removed: 2 });
    expect(allKeys().filter((key) => key.startsWith('reports:'))).toEqual([]);
    expect(allKeys()).toContain('media_a');
    expect(allKeys()).toContain('__cachette:tag:product:1');
  });

  for (const mode of ['tracking', 'pubsub'] as const) {
    it(`keeps the L1 of the app's processes coherent in ${mode} mode, on a channel of its own`, async () => {
      const options: CacheOptions = { coherence: mode, l1: { ttl: 60 } };
      const writer = app('reports:', options);
      const reader = app('reports:', options);
      const stranger = app('', options);
      await waitFor(
        () => [writer, reader, stranger].every((cache) => cache.status().coherence.connected),
        5000,
        'coherence',
      );
      if (mode === 'pubsub') {
        expect(redis.cli('PUBSUB', 'CHANNELS').split('\n').sort()).toEqual([
          '__cachette:invalidate',
          'reports:__cachette:invalidate',
        ]);
      }
      await writer.set('k', 'v1');
      expect(await reader.get('k')).toBe('v1');
      await stranger.set('k', 'theirs');
      await writer.set('k', 'v2');
      // only the invalidation explains it: the L1 copy would live 60 s
      await waitFor(async () => (await reader.get('k')) === 'v2', 5000, 'the new value');
      expect(await stranger.get('k')).toBe('theirs');
      await sleep(50);
      expect(reader.status().coherence.invalidatedKeys).toBeGreaterThanOrEqual(1);
    });
  }
});

describe('keyPrefix configuration', () => {
  it('reads CACHE_KEY_PREFIX, lets the option win, and prefixes every domain and the channel', () => {
    const fromEnv = resolveConfig({ env: { CACHE_KEY_PREFIX: 'svc:' } });
    expect(fromEnv.keyPrefix).toBe('svc:');
    expect(fromEnv.domains.catalog).toEqual({ prefix: 'svc:catalog_', ttl: 7200 });
    expect(fromEnv.coherence.channel).toBe('svc:__cachette:invalidate');
    const fromOption = resolveConfig({ env: { CACHE_KEY_PREFIX: 'svc:' }, keyPrefix: '' });
    expect(fromOption.domains.catalog?.prefix).toBe('catalog_');
    expect(fromOption.coherence.channel).toBe('__cachette:invalidate');
    expect(resolveConfig({ env: {}, keyPrefix: '{svc}:' }).domains.media?.prefix).toBe('{svc}:media_');
  });

  it('refuses a prefix with control characters or an unclosed hash tag, and domains reaching internal keys', () => {
    const bad: Array<[CacheOptions, RegExp]> = [
      [{ keyPrefix: 'a\nb' }, /option keyPrefix must not contain control characters/],
      [{ keyPrefix: 'svc{' }, /opens a Redis Cluster hash tag it does not close/],
      [{ keyPrefix: '{}:' }, /opens a Redis Cluster hash tag it does not close/],
      [{ keyPrefix: 42 as never }, /option keyPrefix must be a string/],
      [{ env: { CACHE_KEY_PREFIX: 'x{' } }, /environment variable CACHE_KEY_PREFIX/],
      [{ domains: { all: { prefix: '' } } }, /all's prefix is empty, so it reaches every key/],
      [{ domains: { inner: { prefix: '__cachette:x' } } }, /overlaps cachette's internal namespace/],
    ];
    for (const [options, message] of bad) {
      expect(() => resolveConfig({ env: {}, ...options })).toThrow(CacheConfigError);
      expect(() => resolveConfig({ env: {}, ...options })).toThrow(message);
    }
  });
});
