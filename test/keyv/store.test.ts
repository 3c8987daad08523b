import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite';
import { createCache as createCacheManager } from 'cache-manager';
import { Cacheable } from 'cacheable';
import Keyv, { type KeyvStoreAdapter } from 'keyv';
import * as vitest from 'vitest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheKeyError } from '../../src/errors.js';
import { createCache } from '../../src/index.js';
import { KeyvCachette } from '../../src/keyv/store.js';
import { silentLogger } from '../../src/logger.js';
import { cacheFactory } from '../support/cache.js';
import { startRedis, type TestRedis, waitFor } from '../support/redis.js';

const domains = { keyv: { prefix: 'keyv_', ttl: 3600 } };
let redis: TestRedis;
let suiteCache: ReturnType<typeof createCache<typeof domains>>;
const caches = cacheFactory();

beforeAll(async () => {
  redis = await startRedis();
  suiteCache = createCache({ redisUrl: redis.url, env: {}, logger: silentLogger, domains });
});
afterAll(async () => {
  await suiteCache.close();
  await redis.stop();
});
afterEach(async () => {
  await caches.closeAll();
});

/** Another process's cache on the same Redis, with L1 copies that would live a minute without coherence. */
function processCache() {
  return caches.create({ redisUrl: redis.url, domains, l1: { ttl: 60 } });
}

describe("Keyv's own compliance suite (@keyv/test-suite)", () => {
  const store = () => new KeyvCachette(suiteCache, { dbType: 'keyv' });
  keyvTestSuite(vitest, Keyv, store);
  keyvIteratorTests(vitest, Keyv, store);
});

describe('KeyvCachette', () => {
  it('is a Keyv storage adapter by type, and refuses an unknown domain with CacheKeyError', () => {
    const adapter: KeyvStoreAdapter = new KeyvCachette(suiteCache, { dbType: 'keyv' });
    expect(adapter.opts).toMatchObject({ dialect: 'redis', dbType: 'keyv' });
    expect(() => new KeyvCachette(suiteCache, { dbType: 'nope' as 'keyv' })).toThrow(CacheKeyError);
  });

  it("stores Keyv's records under the domain prefix with the TTL in whole seconds, readable by cachette", async () => {
    const keyv = new Keyv({ store: new KeyvCachette(suiteCache, { dbType: 'keyv' }), namespace: 'sessions' });
    await keyv.set('s1', { user: 42 }, 1500);
    expect(Number(redis.cli('TTL', 'keyv_sessions:s1'))).toBe(2);
    const record = JSON.parse((await suiteCache.get<string>('sessions:s1', { dbType: 'keyv' })) ?? 'null');
    expect(record).toMatchObject({ value: { user: 42 } });
    expect(await keyv.get('s1')).toEqual({ user: 42 });
  });

  it('answers misses and false, without throwing, while Redis is down', async () => {
    const cache = caches.create({ redisUrl: redis.url, domains });
    const keyv = new Keyv({ store: new KeyvCachette(cache, { dbType: 'keyv' }) });
    await cache.ready();
    await redis.kill();
    try {
      expect(await keyv.get('k')).toBeUndefined();
      expect(await keyv.set('k', 1)).toBe(false);
      expect(await keyv.delete('k')).toBe(false);
    } finally {
      await redis.start();
    }
  });
});

describe('cache-manager 7 and cacheable over KeyvCachette', () => {
  it('cache-manager reads what another process wrote, and its L1 copy goes when that process deletes', async () => {
    const [a, b] = [processCache(), processCache()];
    const managerA = createCacheManager({
      stores: [new Keyv({ store: new KeyvCachette(a, { dbType: 'keyv' }) })],
    });
    const managerB = createCacheManager({
      stores: [new Keyv({ store: new KeyvCachette(b, { dbType: 'keyv' }) })],
    });
    await managerA.set('product:42', { id: 42, name: 'Lamp' }, 60_000);
    expect(await managerB.get('product:42')).toEqual({ id: 42, name: 'Lamp' });
    expect(b.stats().total.l2Hits).toBe(1);
    expect(await managerB.get('product:42')).toEqual({ id: 42, name: 'Lamp' });
    expect(b.stats().total.l1Hits).toBe(1);
    expect(await managerA.del('product:42')).toBe(true);
    // b's L1 copy would live 60 s: only coherence removes it this soon
    await waitFor(async () => (await managerB.get('product:42')) === undefined, 5000, 'the copy in b to go');
    expect(await managerB.wrap('product:43', async () => 'loaded once', 60_000)).toBe('loaded once');
    expect(await managerA.get('product:43')).toBe('loaded once');
    expect(await managerA.mget(['product:42', 'product:43'])).toEqual([undefined, 'loaded once']);
  });

  it('cacheable uses it as its secondary store, as a Keyv or as a bare adapter', async () => {
    const [a, b] = [processCache(), processCache()];
    const writer = new Cacheable({ secondary: new Keyv({ store: new KeyvCachette(a, { dbType: 'keyv' }) }) });
    const reader = new Cacheable({ secondary: new KeyvCachette(b, { dbType: 'keyv' }) });
    await writer.set('report:weekly', [1, 2, 3], '1m');
    expect(await reader.get('report:weekly')).toEqual([1, 2, 3]);
    expect(redis.cli('EXISTS', 'keyv_keyv:report:weekly')).toBe('1');
    await writer.delete('report:weekly');
    expect(redis.cli('EXISTS', 'keyv_keyv:report:weekly')).toBe('0');
  });
});
