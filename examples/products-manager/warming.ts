import { CacheWarmingService } from 'cachette';
import { countProducts, listSuppliers } from './api/catalog.js';
import type { ApiContext } from './api/context.js';
import { dashboardStats } from './api/dashboard.js';
import { TAGS } from './invalidation.js';

/**
 * The warming of the Products Manager: `dashboard_stats` and `products_count` critical, `supplier_list` not.
 * Each task recomputes from the database and overwrites the cached value. Every worker warms at
 * start-up in the background; the periodic runs happen once per interval across workers.
 */
export function createWarming(ctx: ApiContext, intervalMs: number): CacheWarmingService {
  const warming = new CacheWarmingService(ctx.cache, { logger: ctx.log, intervalMs });
  warming.registerTask(
    'dashboard_stats',
    async () => {
      await ctx.cache.set('stats', await dashboardStats(ctx), {
        dbType: 'dashboard',
        tags: [TAGS.dashboard],
      });
    },
    true,
  );
  warming.registerTask(
    'products_count',
    async () => {
      await ctx.cache.set('products_count', await countProducts(ctx), {
        dbType: 'catalog',
        tags: [TAGS.counts],
      });
    },
    true,
  );
  warming.registerTask('supplier_list', async () => {
    await ctx.cache.set('supplier_list', await listSuppliers(ctx), { dbType: 'catalog' });
  });
  return warming;
}
