// cache-manager 7 as its README recommends for multiple stores: Keyv(CacheableMemory) + Keyv(@keyv/redis).
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { CacheableMemory } from 'cacheable';
import { Keyv } from 'keyv';
import { L1_TTL_S, L2_TTL_S, l1Bounds } from './common.js';

export default {
  name: 'cache-manager',
  role: 'peer',
  packages: ['cache-manager', 'keyv', '@keyv/redis', '@cacheable/memory'],
  config: (o) =>
    `createCache({ stores: [new Keyv({ store: new CacheableMemory({ ttl: ${L1_TTL_S * 1000}, lruSize: ${l1Bounds(o).entriesOnly} }) }), ` +
    `new Keyv({ store: new KeyvRedis(url) })], ttl: ${L2_TTL_S * 1000} }) — get does not fill the memory store from a Redis hit; no byte bound for L1 exists`,
  async open(o) {
    const cache = createCache({
      stores: [
        new Keyv({ store: new CacheableMemory({ ttl: L1_TTL_S * 1000, lruSize: l1Bounds(o).entriesOnly }) }),
        new Keyv({ store: new KeyvRedis(o.url) }),
      ],
      ttl: L2_TTL_S * 1000,
    });
    await cache.set('__warm__', 1);
    return {
      get: (key) => cache.get(key),
      set: (key, value) => cache.set(key, value),
      getMany: (keys) => cache.mget(keys),
      getOrSet: (key, factory) => cache.wrap(key, factory),
      delete: (key) => cache.del(key),
      close: () => cache.disconnect(),
    };
  },
};
