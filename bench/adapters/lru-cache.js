// The L1 floor: a raw lru-cache with the options cachette's L1 uses (entry and byte bounds, TTL).
import { LRUCache } from 'lru-cache';
import { L1_TTL_S, l1Bounds } from './common.js';

function options(o) {
  const { maxBytes, maxEntries } = l1Bounds(o);
  return {
    max: maxEntries,
    maxSize: maxBytes,
    ttl: L1_TTL_S * 1000,
    ttlAutopurge: false,
    updateAgeOnGet: false,
    allowStale: false,
  };
}

export default {
  name: 'lru-cache',
  role: 'floor-l1',
  packages: ['lru-cache'],
  config: (o) =>
    `new LRUCache(${JSON.stringify(options(o))}); set with size = JSON length; values kept parsed`,
  async open(o) {
    const lru = new LRUCache(options(o));
    const set = (key, value) => {
      const text = JSON.stringify(value);
      lru.set(key, JSON.parse(text), { size: text.length + key.length + 64 });
      return true;
    };
    return {
      // `await lru.get()` is the floor: the cache API is asynchronous, so a caller awaits every get
      get: (key) => lru.get(key),
      getSync: (key) => lru.get(key),
      set,
      getMany: (keys) => keys.map((key) => lru.get(key)),
      // the floor of a getOrSet hit: a get, and the factory only on a miss (no single-flight)
      getOrSet: async (key, factory) => {
        const found = lru.get(key);
        if (found !== undefined) return found;
        const made = await factory();
        set(key, made);
        return made;
      },
      delete: async (key) => lru.delete(key),
      close: async () => lru.clear(),
      l1: () => ({ entries: lru.size, bytes: lru.calculatedSize, maxBytes: o.l1MaxBytes }),
    };
  },
};
