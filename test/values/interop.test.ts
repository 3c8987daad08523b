import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cacheFactory } from '../support/cache.js';
import { captureLogger } from '../support/logs.js';
import { startRedis, type TestRedis, waitFor } from '../support/redis.js';

const caches = cacheFactory();
let redis: TestRedis;

/** The first Python on this machine that has redis-py (Debian's python3-redis lives under /usr/bin). */
function findPython(): string {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(candidate, ['-c', 'import redis'], { stdio: 'pipe' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    'no python3 with redis-py: install it with `apt-get install -y python3-redis` (.ci/run does)',
  );
}
const python = findPython();

/** Runs the Python service fixture against the test Redis and returns its stdout. */
function py(...args: string[]): string {
  return execFileSync(python, ['test/fixtures/python_service.py', redis.url, ...args], {
    encoding: 'utf8',
    timeout: 15_000,
  }).trim();
}

function pyGet(key: string): { found: boolean; value: unknown; ttl: number } {
  return JSON.parse(py('get', key));
}

const product = {
  id: 42,
  name: 'Crème brûlée — 12 × 90 g 🍮',
  price: 19.9,
  tags: ['dessert', 'frais'],
  stock: null,
  active: true,
  dims: { w: 0.5, h: -3, ratio: 1e-7 },
};

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());
afterEach(async () => {
  await caches.closeAll();
  redis.cli('FLUSHALL');
});

describe('interoperability with the original Python service (redis-py, decode_responses=True)', () => {
  it('reads what Python wrote with json.dumps: a count and an object, under prefix + key', async () => {
    py('set', 'catalog_products_count', '1500', '7200');
    py('set', 'catalog_product_42', JSON.stringify(product), '7200');
    // Python's json.dumps escapes non-ASCII and puts spaces after separators; still the same JSON
    expect(redis.cli('GET', 'catalog_product_42')).toContain('\\u00e8');
    const cache = caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000 });
    expect(await cache.get('products_count', { dbType: 'catalog' })).toBe(1500);
    expect(await cache.get('product_42', { dbType: 'catalog' })).toEqual(product);
    expect(await cache.getMany(['products_count', 'product_42', 'nope'], { dbType: 'catalog' })).toEqual([
      1500,
      product,
      undefined,
    ]);
  });

  it('writes what Python reads back identically with json.loads, with the domain TTL (SET EX)', async () => {
    const cache = caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000 });
    expect(await cache.set('products_count', 1500, { dbType: 'catalog' })).toBe(true);
    expect(await cache.set('product_42', product, { dbType: 'catalog' })).toBe(true);
    expect(await cache.set('temp_data', { a: [1, 'two', null] }, { ttl: 300 })).toBe(true);
    expect(await cache.db('code2asin').set('3700123456789', 'B00TEST123')).toBe(true);

    const count = pyGet('catalog_products_count');
    expect(count.value).toBe(1500);
    expect(count.ttl).toBeGreaterThan(7190);
    expect(count.ttl).toBeLessThanOrEqual(7200);
    expect(pyGet('catalog_product_42').value).toEqual(product);
    const temp = pyGet('default_temp_data');
    expect(temp.value).toEqual({ a: [1, 'two', null] });
    expect(temp.ttl).toBeLessThanOrEqual(300);
    const asin = pyGet('code2asin_3700123456789');
    expect(asin.value).toBe('B00TEST123');
    expect(asin.ttl).toBeGreaterThan(86_390);
  });

  it('drops its L1 copy promptly when Python deletes the key (coherence), though L1 would keep it a minute', async () => {
    const cache = caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000, l1: { ttl: 60 } });
    await waitFor(() => cache.status().coherence.connected, 3000, 'coherence up');
    expect(await cache.set('products_count', 1500, { dbType: 'catalog' })).toBe(true);
    expect(await cache.get('products_count', { dbType: 'catalog' })).toBe(1500);
    expect(py('delete', 'catalog_products_count')).toBe('1');
    expect(pyGet('catalog_products_count').found).toBe(false);
    await waitFor(
      async () => (await cache.get('products_count', { dbType: 'catalog' })) === undefined,
      1000,
      'the Python DEL to reach L1',
    );
    py('set', 'catalog_products_count', '1600', '7200');
    await waitFor(
      async () => (await cache.get('products_count', { dbType: 'catalog' })) === 1600,
      1000,
      'the Python SET to reach L1',
    );
  });

  it('answers a miss, with a warning, for a value Python stored as plain text instead of JSON', async () => {
    py('raw', 'catalog_legacy', 'not json', '60');
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: redis.url, logger, operationTimeoutMs: 2000 });
    await expect(cache.get('legacy', { dbType: 'catalog' })).resolves.toBeUndefined();
    expect(logger.lines.some((l) => l.level === 'warn' && /get failed/.test(l.msg))).toBe(true);
  });
});
