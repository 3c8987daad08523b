import type { CacheOptions } from '../../src/config.js';
import type { DomainConfig } from '../../src/domains.js';
import { createCache, type InvalidationGroup } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';

/** Creates caches for a test and closes them all in `closeAll()` (call it in afterEach/afterAll). */
export function cacheFactory() {
  const open: Array<{ close(): Promise<void> }> = [];
  return {
    create<
      X extends Record<string, DomainConfig> = Record<never, DomainConfig>,
      G extends Record<string, InvalidationGroup> = Record<never, InvalidationGroup>,
    >(options: CacheOptions<X, G>) {
      const cache = createCache<X, G>({ logger: silentLogger, env: {}, ...options });
      open.push(cache);
      return cache;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((cache) => cache.close()));
    },
  };
}
