import { describe, expect, expectTypeOf, it } from 'vitest';
import { resolveConfig } from '../../src/config/resolve.js';
import { CacheConfigError, CacheKeyError } from '../../src/errors.js';
import type { Cache } from '../../src/index.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

describe('builtinDomains', () => {
  it('keeps the Products Manager six by default, next to your own', () => {
    const cache = caches.create({ redisUrl: redis.url, domains: { reports: { prefix: 'reports_' } } });
    expect(Object.keys(cache.status().domains).sort()).toEqual([
      'analytics',
      'catalog',
      'code2asin',
      'default',
      'imports',
      'media',
      'reports',
    ]);
    expectTypeOf(cache).toEqualTypeOf<
      Cache<'catalog' | 'media' | 'imports' | 'code2asin' | 'analytics' | 'default' | 'reports', never>
    >();
  });

  it('false: only your domains, in the types too, and app-wide calls stay within them', async () => {
    const cache = caches.create({
      redisUrl: redis.url,
      builtinDomains: false,
      domains: { reports: { prefix: 'reports_', ttl: '10m' }, exports: { prefix: 'exports_' } },
    });
    expectTypeOf(cache).toEqualTypeOf<Cache<'reports' | 'exports', never>>();
    expect(cache.status().domains).toEqual({
      reports: { prefix: 'reports_', ttl: 600 },
      exports: { prefix: 'exports_', ttl: 3600 },
    });
    expect(await cache.set('weekly', 1, { dbType: 'reports' })).toBe(true);
    expect(await cache.db('exports').set('csv', 2)).toBe(true);
    await expect(cache.set('x', 1, { dbType: 'catalog' as never })).rejects.toThrow(
      /Unknown dbType "catalog"; configured domains: reports, exports/,
    );
    await expect(cache.get('x')).rejects.toThrow(
      new CacheKeyError(
        "No dbType given and no domain is named 'default'; pass { dbType } (one of reports, exports), use cache.db(name), or configure a 'default' domain",
      ),
    );
    redis.cli('SET', 'catalog_kept', 'another app');
    redis.cli('SET', 'default_kept', 'another app');
    expect(await cache.flushAll({ scope: 'app' })).toBe(2);
    expect(redis.cli('KEYS', '*').split('\n').sort()).toEqual(['catalog_kept', 'default_kept']);
  });

  it("false with a domain named 'default': calls without dbType use it", async () => {
    const cache = caches.create({
      redisUrl: redis.url,
      builtinDomains: false,
      defaultTtl: '1h',
      domains: { default: { prefix: 'app_' } },
    });
    expect(await cache.set('k', 1)).toBe(true);
    expect(redis.cli('GET', 'app_k')).toBe('1');
    expect(Number(redis.cli('TTL', 'app_k'))).toBeGreaterThan(3500);
  });

  it('refuses no domain at all, a misspelt field, and a non-boolean', () => {
    expect(() => resolveConfig({ env: {}, builtinDomains: false })).toThrow(
      /builtinDomains is false and no domain is configured/,
    );
    expect(() =>
      resolveConfig({ env: {}, domains: { reports: { prefix: 'r_', tll: 60 } as never } }),
    ).toThrow(/domains\.reports\.tll is not a domain field; use prefix, ttl and ttlJitter/);
    expect(() => resolveConfig({ env: {}, builtinDomains: 'no' as never })).toThrow(CacheConfigError);
  });
});
