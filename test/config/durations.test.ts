import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/resolve.js';
import { CacheConfigError, CacheKeyError } from '../../src/errors.js';
import { durationIn, spreadTtl } from '../../src/values/durations.js';
import { expectTtl } from '../support/assertions.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

describe('duration strings', () => {
  it('converts every unit to seconds and to ms, and keeps numbers in the unit of the option', () => {
    expect(durationIn('500ms', 'ms')).toBe(500);
    expect(durationIn('30s', 's')).toBe(30);
    expect(durationIn('30s', 'ms')).toBe(30_000);
    expect(durationIn('5m', 's')).toBe(300);
    expect(durationIn('2h', 's')).toBe(7200);
    expect(durationIn('1d', 's')).toBe(86_400);
    expect(durationIn('1.5h', 'ms')).toBe(5_400_000);
    expect(durationIn('1.1s', 'ms')).toBe(1100);
    expect(durationIn('500ms', 's')).toBe(0.5);
    expect(durationIn(42, 's')).toBe(42);
    // environment variables keep meaning what they meant: a bare number is in the option's unit
    expect(durationIn('3600', 's')).toBe(3600);
    expect(durationIn(' 250 ', 'ms')).toBe(250);
    for (const bad of ['', '5 m', '-5s', '5x', '1e3s', 'ms', '5mm', '1h30m', '5M']) {
      expect(durationIn(bad, 's'), bad).toBeUndefined();
    }
  });

  it('accepts strings for every TTL and timeout option, and in the environment', () => {
    const config = resolveConfig({
      env: { REDIS_CACHE_TTL: '2h', CACHE_OPERATION_TIMEOUT_MS: '1s', CACHE_L1_TTL: '500ms' },
      connectTimeoutMs: '3s',
      socketTimeoutMs: '4s',
      healthCheckIntervalMs: '1m',
      reconnect: { minDelayMs: '100ms', maxDelayMs: '2s' },
      breaker: { probeIntervalMs: '1s' },
      coherence: { degradedL1TtlMs: '1.5s' },
      domains: { reports: { prefix: 'reports_', ttl: '10m' }, exports: { prefix: 'exports_' } },
    });
    expect(config.domains.default?.ttl).toBe(7200);
    expect(config.domains.reports?.ttl).toBe(600);
    // a domain without a TTL takes the default one
    expect(config.domains.exports?.ttl).toBe(7200);
    expect(config.operationTimeoutMs).toBe(1000);
    expect(config.l1.ttl).toBe(0.5);
    expect(config.connectTimeoutMs).toBe(3000);
    expect(config.socketTimeoutMs).toBe(4000);
    expect(config.healthCheckIntervalMs).toBe(60_000);
    expect(config.reconnect).toEqual({ minDelayMs: 100, maxDelayMs: 2000 });
    expect(config.breaker.probeIntervalMs).toBe(1000);
    expect(config.coherence.degradedL1TtlMs).toBe(1500);
  });

  it('refuses a bad duration at createCache with a CacheConfigError naming the option and the value', () => {
    const cases: Array<[Parameters<typeof resolveConfig>[0], RegExp]> = [
      [{ defaultTtl: '5 minutes' as never }, /option defaultTtl must be .*'5m'.*, got "5 minutes"/],
      [{ env: { REDIS_CACHE_TTL: 'soon' } }, /environment variable REDIS_CACHE_TTL .*got "soon"/],
      [
        { domains: { r: { prefix: 'r_', ttl: '90ms' } } },
        /domains\.r\.ttl must be >= 1 s, got "90ms" \(0\.09 s\)/,
      ],
      [
        { domains: { r: { prefix: 'r_', ttl: '1500ms' } } },
        /domains\.r\.ttl must be a whole number of seconds, got "1500ms"/,
      ],
      [{ operationTimeoutMs: '1.5ms' }, /option operationTimeoutMs must be a whole number of ms/],
      [{ connectTimeoutMs: 'fast' as never }, /option connectTimeoutMs must be .*got "fast"/],
      [{ env: { CACHE_L1_MAX_ENTRIES: '10k' } }, /CACHE_L1_MAX_ENTRIES must be a number, got "10k"/],
    ];
    for (const [options, message] of cases) {
      expect(() => resolveConfig({ env: {}, ...options })).toThrow(CacheConfigError);
      expect(() => resolveConfig({ env: {}, ...options })).toThrow(message);
    }
  });

  it('takes string TTLs per call and refuses a bad one with a CacheKeyError naming it', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    expect(await cache.set('a', 1, { ttl: '10m' })).toBe(true);
    expectTtl(redis, 'default_a', 600);
    expect(
      await cache.setMany(
        [
          { key: 'b', value: 2, ttl: '1h' },
          { key: 'c', value: 3 },
        ],
        { ttl: '2m' },
      ),
    ).toBe(true);
    expectTtl(redis, 'default_b', 3600);
    expectTtl(redis, 'default_c', 120);
    expect(await cache.getOrSet('d', () => 4, { ttl: '1d', grace: '1h', hardTimeoutMs: '5s' })).toBe(4);
    // with grace the value lives its TTL plus the grace
    expectTtl(redis, 'default_d', 86_400 + 3600);
    await expect(cache.set('e', 5, { ttl: '10 min' as never })).rejects.toThrow(
      new CacheKeyError(
        `ttl must be a number of seconds or a string such as '30s', '5m', '2h', '1d' >= 1, got "10 min"`,
      ),
    );
    await expect(cache.set('e', 5, { ttl: '2500ms' })).rejects.toThrow(
      /ttl must be a whole number of seconds, got "2500ms"/,
    );
    await expect(cache.getOrSet('e', () => 5, { softTimeoutMs: 'later' as never })).rejects.toThrow(
      /softTimeoutMs must be .*got "later"/,
    );
    await expect(
      cache.getOrSet('e', () => 5, { grace: '90s', lock: { leaseMs: '2x' as never } }),
    ).rejects.toThrow(CacheKeyError);
    for (const lock of [5, '5s', null]) {
      await expect(cache.getOrSet('e', () => 5, { lock: lock as never })).rejects.toThrow(
        /lock is true, false or \{ leaseMs, waitMs \}, got/,
      );
    }
    await expect(cache.ready('soon' as never)).rejects.toThrow(/timeoutMs must be .*got "soon"/);
    expect(await cache.ready('2s')).toBe(true);
    expect(redis.cli('EXISTS', 'default_e')).toBe('0');
  });
});

describe('ttlJitter', () => {
  it('shortens a TTL by a random part of at most the fraction, never below 1 s', () => {
    expect(spreadTtl(3600, 0)).toBe(3600);
    const spread = Array.from({ length: 2000 }, () => spreadTtl(1000, 0.2));
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(800);
    expect(Math.max(...spread)).toBeLessThanOrEqual(1000);
    expect(new Set(spread).size).toBeGreaterThan(50);
    expect(spreadTtl(1, 0.9)).toBe(1);
  });

  it('spreads the expiries of keys written together, from the option, a domain or a call', async () => {
    const cache = caches.create({
      redisUrl: redis.url,
      ttlJitter: 0.5,
      domains: { steady: { prefix: 'steady_', ttl: 1000, ttlJitter: 0 } },
    });
    const entries = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: i }));
    expect(await cache.setMany(entries, { ttl: 1000 })).toBe(true);
    expect(await cache.setMany(entries, { dbType: 'steady' })).toBe(true);
    expect(await cache.setMany(entries, { ttl: 1000, ttlJitter: 0, dbType: 'catalog' })).toBe(true);
    await cache.getOrSetMany(
      entries.map(({ key }) => `g${key}`),
      async (keys) => new Map(keys.map((key) => [key, key])),
      { ttl: 1000 },
    );
    const ttls = (prefix: string) => entries.map(({ key }) => Number(redis.cli('TTL', `${prefix}${key}`)));
    for (const spread of [ttls('default_'), ttls('default_g')]) {
      expect(Math.min(...spread)).toBeGreaterThanOrEqual(499);
      expect(Math.max(...spread)).toBeLessThanOrEqual(1000);
      expect(new Set(spread).size, 'distinct expiries').toBeGreaterThan(10);
    }
    for (const same of [ttls('steady_'), ttls('catalog_')]) {
      expect(Math.min(...same)).toBeGreaterThan(990);
    }
  });

  it('refuses a jitter outside [0, 1)', async () => {
    expect(() => resolveConfig({ env: {}, ttlJitter: 1 })).toThrow(/option ttlJitter is a fraction/);
    expect(() => resolveConfig({ env: { CACHE_TTL_JITTER: 'lots' } })).toThrow(
      /CACHE_TTL_JITTER must be a number/,
    );
    expect(resolveConfig({ env: { CACHE_TTL_JITTER: '0.1' } }).ttlJitter).toBe(0.1);
    const cache = caches.create({ redisUrl: redis.url });
    await expect(cache.set('x', 1, { ttlJitter: -0.1 })).rejects.toThrow(CacheKeyError);
  });
});
