import { describe, expect, it } from 'vitest';
import { parseRedisUrl, redactUrl } from '../../src/config/redis-target.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { CacheConfigError } from '../../src/errors.js';
import { createCache } from '../../src/index.js';

describe('configuration', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = resolveConfig({ env: {} });
    expect(config.redis).toMatchObject({ host: '127.0.0.1', port: 6379, db: 0, tls: false });
    expect(config.connectTimeoutMs).toBe(5000);
    expect(config.socketTimeoutMs).toBe(5000);
    expect(config.healthCheckIntervalMs).toBe(30_000);
    expect(config.retryOnTimeout).toBe(true);
    expect(config.l1).toMatchObject({ ttl: 5, maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 });
    expect(config.domains).toEqual({
      catalog: { prefix: 'catalog_', ttl: 7200 },
      media: { prefix: 'media_', ttl: 3600 },
      imports: { prefix: 'imports_', ttl: 1800 },
      code2asin: { prefix: 'code2asin_', ttl: 86400 },
      analytics: { prefix: 'analytics_', ttl: 3600 },
      default: { prefix: 'default_', ttl: 3600 },
    });
  });

  it('reads every variable from the environment', () => {
    const config = resolveConfig({
      env: {
        REDIS_URL: 'rediss://app:s3cret@cache.internal:6380/3',
        REDIS_CACHE_TTL: '900',
        REDIS_CONNECT_TIMEOUT_MS: '1000',
        REDIS_SOCKET_TIMEOUT_MS: '2000',
        REDIS_HEALTH_CHECK_INTERVAL_MS: '10000',
        CACHE_OPERATION_TIMEOUT_MS: '100',
        CACHE_L1_TTL: '2',
        CACHE_L1_MAX_ENTRIES: '500',
        CACHE_L1_MAX_BYTES: '1048576',
        CACHE_MAX_VALUE_BYTES: '2048',
      },
    });
    expect(config.redis).toMatchObject({
      tls: true,
      host: 'cache.internal',
      port: 6380,
      db: 3,
      username: 'app',
      password: 's3cret',
    });
    expect(config.domains.default).toEqual({ prefix: 'default_', ttl: 900 });
    expect(config.connectTimeoutMs).toBe(1000);
    expect(config.socketTimeoutMs).toBe(2000);
    expect(config.healthCheckIntervalMs).toBe(10_000);
    expect(config.operationTimeoutMs).toBe(100);
    expect(config.l1).toMatchObject({ ttl: 2, maxEntries: 500, maxBytes: 1048576 });
    expect(config.maxValueBytes).toBe(2048);
  });

  it('lets options win over the environment', () => {
    const config = resolveConfig({ env: { REDIS_CACHE_TTL: '900' }, defaultTtl: 60 });
    expect(config.domains.default?.ttl).toBe(60);
  });

  it('adds and overrides domains', () => {
    const config = resolveConfig({
      env: {},
      domains: { reports: { prefix: 'reports_', ttl: 600 }, catalog: { prefix: 'catalog_', ttl: 60 } },
    });
    expect(config.domains.reports).toEqual({ prefix: 'reports_', ttl: 600 });
    expect(config.domains.catalog?.ttl).toBe(60);
  });

  it.each([
    [
      { cat: { prefix: 'cat', ttl: 5 } },
      /domains cat and catalog overlap: every key of catalog \('catalog_'\) starts with cat's prefix 'cat'/,
    ],
    [{ all: { prefix: '', ttl: 5 } }, /domains all and catalog overlap: all's prefix is empty/],
    [{ catalogue: { prefix: 'catalog_ue', ttl: 5 } }, /domains catalog and catalogue overlap/],
    [{ x: { prefix: 'a_', ttl: 5 }, y: { prefix: 'a_b', ttl: 5 } }, /domains x and y overlap/],
    [
      { inner: { prefix: '__cachette:lease:', ttl: 5 } },
      /domains.inner.prefix '__cachette:lease:' overlaps cachette's internal namespace/,
    ],
    [{ inner: { prefix: '__cachetteX', ttl: 5 } }, /overlaps cachette's internal namespace/],
    [{ under: { prefix: '__', ttl: 5 } }, /domains.under.prefix '__' overlaps cachette's internal namespace/],
  ])('refuses prefixes that overlap another domain or the internal namespace (%j)', (domains, message) => {
    expect(() => resolveConfig({ env: {}, domains })).toThrow(CacheConfigError);
    expect(() => resolveConfig({ env: {}, domains })).toThrow(message);
  });

  it('accepts an override that moves a built-in domain out of the way', () => {
    const config = resolveConfig({
      env: {},
      domains: { catalog: { prefix: 'products:', ttl: 60 }, cat: { prefix: 'cat:', ttl: 5 } },
    });
    expect(config.domains.cat).toEqual({ prefix: 'cat:', ttl: 5 });
  });

  it('refuses two domains with the same prefix', () => {
    expect(() => resolveConfig({ env: {}, domains: { other: { prefix: 'catalog_', ttl: 5 } } })).toThrow(
      /share the prefix/,
    );
  });

  it.each([
    ['REDIS_CACHE_TTL', 'soon'],
    ['REDIS_CONNECT_TIMEOUT_MS', '-5'],
    ['CACHE_L1_MAX_ENTRIES', '1.5'],
    ['REDIS_SOCKET_TIMEOUT_MS', '0'],
  ])('throws CacheConfigError naming %s for a bad value', (name, value) => {
    const attempt = () => createCache({ env: { [name]: value } });
    expect(attempt).toThrow(CacheConfigError);
    expect(attempt).toThrow(name);
  });

  it.each(['http://127.0.0.1:6379', 'not a url', 'redis://host:6379/zero'])(
    'throws CacheConfigError naming REDIS_URL for %s',
    (url) => {
      const attempt = () => createCache({ env: { REDIS_URL: url } });
      expect(attempt).toThrow(CacheConfigError);
      expect(attempt).toThrow(/REDIS_URL/);
    },
  );

  it('never puts the password of REDIS_URL in an error message', () => {
    try {
      createCache({ env: { REDIS_URL: 'redis://user:hunter2@host:6379/db-one' } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CacheConfigError);
      expect(String((err as Error).message)).not.toContain('hunter2');
      expect((err as CacheConfigError).code).toBe('E_CONFIG');
    }
  });

  it('redacts passwords and decodes URL-encoded credentials', () => {
    expect(redactUrl('redis://u:p%40ss@h:1/2')).toBe('redis://u:***@h:1/2');
    expect(redactUrl('postgres://app@db:5432/pm?sslmode=require&password=hunter2')).toBe(
      'postgres://app@db:5432/pm?sslmode=require&password=***',
    );
    expect(redactUrl('postgresql://u:pw@db/pm?sslpassword=s3&PassWord=x&auth_token=t&apiKey=k&ok=1')).toBe(
      'postgresql://u:***@db/pm?sslpassword=***&PassWord=***&auth_token=***&apiKey=***&ok=1',
    );
    expect(redactUrl('rediss://h:6380/0?pass%77ord=leak')).not.toContain('leak');
    expect(parseRedisUrl('redis://u:p%40ss@h:1/2').password).toBe('p@ss');
    expect(parseRedisUrl('redis://[::1]:6380').host).toBe('::1');
  });
});
