import type { FastifyInstance } from 'fastify';
import { sql } from '../database/sql.js';
import { type ApiContext, badRequest } from './context.js';

/** Seconds a report stays usable past its TTL when recomputing it fails or is slow (getOrSet's grace). */
const REPORT_GRACE_SECONDS = 6 * 3600;
/** After this many ms, a caller with a stale report gets it while the recomputation goes on. */
const REPORT_SOFT_TIMEOUT_MS = 1500;
/** The report may take seconds: the cross-process lease must outlive it, or its result is not stored. */
const REPORT_LOCK = { leaseMs: 60_000, waitMs: 60_000 };

function isoDay(text: string): string {
  const day = new Date(`${text}T00:00:00Z`);
  if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== text) {
    throw badRequest(`date ${text} is not a calendar date (YYYY-MM-DD)`);
  }
  return text;
}

/**
 * The daily report, deliberately heavy: it joins every event of the last 30 days with the products
 * for a per-category trend, then details the day (funnel, revenue, median price, best sellers).
 */
function dailyReport(ctx: ApiContext, day: string) {
  return ctx.db.one(sql`
    WITH bounds AS (
      SELECT (${day}::date)::timestamp AT TIME ZONE 'UTC' AS day_start,
             ((${day}::date + 1)::timestamp AT TIME ZONE 'UTC') AS day_end),
    month AS (
      SELECT e.*, p.category
      FROM events e JOIN products p ON p.id = e.product_id, bounds b
      WHERE e.occurred_at >= b.day_end - interval '30 days' AND e.occurred_at < b.day_end),
    today AS (SELECT m.* FROM month m, bounds b WHERE m.occurred_at >= b.day_start),
    by_category AS (
      SELECT category,
             count(*) FILTER (WHERE kind = 'view')::int AS views,
             count(*) FILTER (WHERE kind = 'cart')::int AS carts,
             count(*) FILTER (WHERE kind = 'order')::int AS orders,
             coalesce(sum(quantity * price_cents) FILTER (WHERE kind = 'order'), 0)::float8 AS "revenueCents",
             count(DISTINCT product_id)::int AS products,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY price_cents)::float8 AS "medianPriceCents"
      FROM today GROUP BY category),
    trend AS (
      SELECT category, round(count(*) FILTER (WHERE kind = 'order') / 30.0, 2)::float8 AS "ordersPerDay30d",
             count(DISTINCT product_id)::int AS "activeProducts30d"
      FROM month GROUP BY category),
    best AS (
      SELECT product_id AS "productId", sum(quantity)::int AS units
      FROM today WHERE kind = 'order' GROUP BY product_id ORDER BY units DESC, product_id LIMIT 10)
    SELECT ${day} AS date, now() AS "computedAt",
           (SELECT count(*)::int FROM today) AS events,
           (SELECT coalesce(json_agg(c ORDER BY c.category), '[]')
              FROM (SELECT t.category, coalesce(b.views, 0) AS views, coalesce(b.carts, 0) AS carts,
                           coalesce(b.orders, 0) AS orders, coalesce(b."revenueCents", 0) AS "revenueCents",
                           coalesce(b.products, 0) AS products, b."medianPriceCents",
                           t."ordersPerDay30d", t."activeProducts30d"
                    FROM trend t LEFT JOIN by_category b USING (category)) c) AS categories,
           (SELECT coalesce(json_agg(best), '[]') FROM best) AS "bestSellers"`);
}

/** Analytics routes: the daily report, cached an hour with a grace period. */
export async function analyticsRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get(
    '/api/v1/analytics/daily',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { date: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' } },
        },
      },
    },
    async (request) => {
      const { date } = request.query as { date?: string };
      const day = date === undefined ? new Date().toISOString().slice(0, 10) : isoDay(date);
      return ctx.reads.getOrSet('analytics', `daily_${day}`, () => dailyReport(ctx, day), {
        grace: REPORT_GRACE_SECONDS,
        softTimeoutMs: REPORT_SOFT_TIMEOUT_MS,
        lock: REPORT_LOCK,
      });
    },
  );
}
