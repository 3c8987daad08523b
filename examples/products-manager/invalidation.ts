import type { AppCache, AppDomain } from './app-cache.js';

/**
 * The seed's four invalidation strategies (S7) as the Products Manager applies them: targeted after
 * a CRUD on one entity, by pattern after a bulk import, the dashboard after any change, total at
 * deployment. Each call resolves once Redis confirmed (or failed: the cache never throws then).
 */
export class Invalidation {
  readonly #cache: AppCache;

  constructor(cache: AppCache) {
    this.#cache = cache;
  }

  /** Targeted: one product changed (or appeared, or went): its entry, the list pages and counts, the dashboard. */
  async product(id: number): Promise<void> {
    await Promise.all([
      this.#cache.delete(`products_${id}`, { dbType: 'catalog' }),
      this.#cache.deletePattern('products_list_*', { dbType: 'catalog' }),
      this.#cache.deletePattern('products_count*', { dbType: 'catalog' }),
      this.invalidateDashboardCache(),
    ]);
  }

  /** Dashboard: the aggregated statistics, after any change. */
  async invalidateDashboardCache(): Promise<void> {
    await this.#cache.deletePattern('*', { dbType: 'dashboard' });
  }

  /** Media: every cached file description and product file list (the seed's `invalidate_media_cache()`). */
  async invalidateMediaCache(): Promise<void> {
    await Promise.all([this.#cache.deletePattern('*', { dbType: 'media' }), this.invalidateDashboardCache()]);
  }

  /** Pattern: every key of `dbType` matching `pattern` (a bulk import: `products_*` of the catalog). */
  async invalidatePattern(pattern: string, dbType: AppDomain): Promise<number | false> {
    return this.#cache.deletePattern(pattern, { dbType });
  }

  /** Total: every domain of the application, in Redis and this worker's L1. */
  async flushAll(): Promise<void> {
    const domains = Object.keys(this.#cache.status().domains) as AppDomain[];
    await Promise.all(domains.map((dbType) => this.#cache.deletePattern('*', { dbType })));
  }
}
