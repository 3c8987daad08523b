import type { AppCache } from './app-cache.js';

/**
 * The invalidation groups given to cachette: `cache.invalidation.invalidateDashboardCache()`
 * removes every value tagged `dashboard`; `invalidateMediaCache()` the whole media domain, like the
 * Python service's `invalidate_media_cache()`.
 */
export const INVALIDATION_GROUPS = {
  dashboard: { tags: ['dashboard'] },
  media: { patterns: [{ pattern: '*', dbType: 'media' as const }] },
};

/** Tags of the catalog's values: one per product, one for every list page, one for every count. */
export const TAGS = {
  dashboard: 'dashboard',
  product: (id: number) => `product:${id}`,
  lists: 'catalog:lists',
  counts: 'catalog:counts',
};

/**
 * What the Products Manager invalidates after each kind of change, with the invalidation module's strategies:
 * targeted after a CRUD on one product, the media group after a media change, by pattern after a bulk
 * import, the dashboard after any change. Other workers' L1 copies go with them (coherence).
 * Each call resolves once Redis confirmed or failed: a failing Redis never fails the request.
 */
export class Invalidation {
  readonly #cache: AppCache;

  constructor(cache: AppCache) {
    this.#cache = cache;
  }

  /** Targeted: product `id` changed (or appeared, or went): its entry, the list pages and counts, the dashboard. */
  async product(id: number, reason: string): Promise<void> {
    await this.#cache.invalidateTags([TAGS.product(id), TAGS.lists, TAGS.counts], { reason });
    await this.#cache.invalidation.invalidateDashboardCache(reason);
  }

  /** Media: every cached file description and product file list, and the dashboard that counts them. */
  async media(reason: string): Promise<void> {
    await this.#cache.invalidation.invalidateMediaCache(reason);
    await this.#cache.invalidation.invalidateDashboardCache(reason);
  }

  /** Pattern: after a bulk import, every product key of the catalog, the supplier list, the dashboard. */
  async afterImport(reason: string): Promise<void> {
    await Promise.all([
      this.#cache.invalidation.invalidatePattern('products_*', 'catalog', reason),
      this.#cache.invalidation.invalidate('supplier_list', 'catalog', reason),
      this.#cache.invalidation.invalidateDashboardCache(reason),
    ]);
  }
}
