import { type BuiltinDomain, type Cache, createCache, type LoadOptions, type Logger } from 'cachette';
import { INVALIDATION_GROUPS } from './invalidation.js';

/** The application's own domain next to the six built-in ones (applications may add theirs). */
export const APP_DOMAINS = { dashboard: { prefix: 'dashboard_', ttl: 300 } };

export type AppDomain = BuiltinDomain | keyof typeof APP_DOMAINS;
export type AppCache = Cache<AppDomain, keyof typeof INVALIDATION_GROUPS>;

/**
 * The worker's cache: REDIS_URL and the CACHE_* variables from the environment, the dashboard domain,
 * and the invalidation groups (`cache.invalidation.invalidateDashboardCache()`, `invalidateMediaCache()`).
 */
export function createAppCache(redisUrl: string, logger: Logger): AppCache {
  return createCache({
    redisUrl,
    domains: APP_DOMAINS,
    logger,
    invalidation: { groups: INVALIDATION_GROUPS },
  });
}

/**
 * Every read of the API goes through here: through the cache, or, with `CACHE_DISABLED=1`, straight
 * to the database (the load script's baseline), with the same code path otherwise.
 */
export class CachedReads {
  constructor(
    readonly cache: AppCache,
    readonly disabled: boolean,
  ) {}

  // the service's loaders take no factory context: with the cache disabled they are called directly
  getOrSet<T>(
    dbType: AppDomain,
    key: string,
    factory: () => T | Promise<T>,
    options?: LoadOptions,
  ): Promise<T> {
    if (this.disabled) return Promise.resolve(factory());
    // the domain first: `{ ...options, dbType }` builds a slow object in V8 (see DomainCache)
    return this.cache.getOrSet(key, factory, { dbType, ...options });
  }

  async getOrSetMany<T>(
    dbType: AppDomain,
    keys: readonly string[],
    factory: (keys: string[]) => Map<string, T> | Promise<Map<string, T>>,
    options?: LoadOptions,
  ): Promise<Array<T | undefined>> {
    if (!this.disabled) return this.cache.getOrSetMany(keys, factory, { dbType, ...options });
    const found = await factory([...keys]);
    return keys.map((key) => found.get(key));
  }
}
