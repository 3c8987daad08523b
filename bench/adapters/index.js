// Every adapter, in the order the tables list them.
import bentocache from './bentocache.js';
import cacheManager from './cache-manager.js';
import cacheable from './cacheable.js';
import cachette from './cachette.js';
import lruCache from './lru-cache.js';
import nodeRedis from './node-redis.js';

export const adapters = [lruCache, nodeRedis, cachette, bentocache, cacheable, cacheManager];

export function adapterNamed(name) {
  const found = adapters.find((a) => a.name === name);
  if (!found) throw new Error(`unknown adapter ${name}`);
  return found;
}
