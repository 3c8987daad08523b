import type { FastifyInstance } from 'fastify';
import { sql } from '../database/sql.js';
import { TAGS } from '../invalidation.js';
import type { ApiContext } from './context.js';

/** The aggregated statistics of the business dashboard (also warmed: `dashboard_stats`). */
export function dashboardStats(ctx: ApiContext) {
  return ctx.db.one(sql`
    SELECT now() AS "computedAt",
      (SELECT count(*)::int FROM products) AS products,
      (SELECT count(*)::int FROM suppliers) AS suppliers,
      (SELECT coalesce(sum(price_cents::bigint * stock), 0)::float8 FROM products) AS "stockValueCents",
      (SELECT count(*)::int FROM products WHERE stock = 0) AS "outOfStock",
      (SELECT count(*)::int FROM products WHERE stock BETWEEN 1 AND 5) AS "lowStock",
      (SELECT count(*)::int FROM media_files) AS "mediaFiles",
      (SELECT coalesce(sum(size_bytes::bigint), 0)::float8 FROM media_files) AS "mediaBytes",
      (SELECT count(*)::int FROM asin_mappings) AS "asinMappings",
      (SELECT count(*)::int FROM events WHERE occurred_at >= now() - interval '24 hours') AS "events24h",
      (SELECT coalesce(json_agg(c ORDER BY c.category), '[]')
         FROM (SELECT category, count(*)::int AS products FROM products GROUP BY category) c) AS categories,
      (SELECT coalesce(json_agg(j ORDER BY j.id DESC), '[]')
         FROM (SELECT id, status, total_rows AS "totalRows", finished_at AS "finishedAt"
               FROM import_jobs ORDER BY id DESC LIMIT 5) j) AS "recentImports"`);
}

/** The dashboard route: one cached document, invalidated after any change. */
export async function dashboardRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get('/api/v1/dashboard', async () =>
    ctx.reads.getOrSet('dashboard', 'stats', () => dashboardStats(ctx), { tags: [TAGS.dashboard] }),
  );
}
