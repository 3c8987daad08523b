// cacheable as its README recommends for two tiers: in-memory primary (CacheableMemory) + @keyv/redis secondary.
import KeyvRedis from '@keyv/redis';
import { Cacheable, CacheableMemory } from 'cacheable';
import { Keyv } from 'keyv';
import { L1_TTL_S, L2_TTL_S, l1Bounds } from './common.js';

export default {
  name: 'cacheable',
  role: 'peer',
  packages: ['cacheable', '@cacheable/memory', 'keyv', '@keyv/redis'],
  config: (o) =>
    `new Cacheable({ primary: new Keyv({ store: new CacheableMemory({ lruSize: ${l1Bounds(o).entriesOnly} }), ttl: ${L1_TTL_S * 1000} }), ` +
    `secondary: new KeyvRedis(url), ttl: '${L2_TTL_S}s' }) — blocking mode (default), useClones default (true); no byte bound for L1 exists`,
  async open(o) {
    const primary = new Keyv({
      store: new CacheableMemory({ lruSize: l1Bounds(o).entriesOnly }),
      ttl: L1_TTL_S * 1000,
    });
    const secondary = new KeyvRedis(o.url);
    const cache = new Cacheable({ primary, secondary, ttl: `${L2_TTL_S}s` });
    await cache.set('__warm__', 1);
    return {
      get: (key) => cache.get(key),
      set: (key, value) => cache.set(key, value),
      getMany: (keys) => cache.getMany(keys),
      getOrSet: (key, factory) => cache.getOrSet(key, factory),
      delete: (key) => cache.delete(key),
      close: () => cache.disconnect(),
    };
  },
};
