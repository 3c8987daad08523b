import type { FastifyInstance } from 'fastify';
import { sql } from '../database/sql.js';
import { isValidEan13 } from '../ean.js';
import { type ApiContext, badRequest, notFound } from './context.js';

export interface AsinMapping {
  ean: string;
  asin: string;
  marketplace: string;
}

/** Mappings stay a day (the domain's TTL); an EAN without one is cached as `null` too. */
async function lookup(ctx: ApiContext, eans: readonly string[]): Promise<Array<AsinMapping | null>> {
  const found = await ctx.reads.getOrSetMany<AsinMapping | null>(
    'code2asin',
    eans.map((ean) => `ean_${ean}`),
    async (keys) => {
      const wanted = keys.map((key) => key.slice('ean_'.length));
      const rows = await ctx.db.query<AsinMapping>(
        sql`SELECT ean, asin, marketplace FROM asin_mappings WHERE ean IN (${wanted})`,
      );
      const byEan = new Map(rows.map((row) => [row.ean, row]));
      return new Map(wanted.map((ean) => [`ean_${ean}`, byEan.get(ean) ?? null]));
    },
  );
  return found.map((mapping) => mapping ?? null);
}

/** code2asin routes: one EAN, or up to 1000 at once in one cache round trip (`getOrSetMany`). */
export async function code2asinRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get(
    '/api/v1/code2asin/:ean',
    {
      schema: {
        params: {
          type: 'object',
          required: ['ean'],
          properties: { ean: { type: 'string', pattern: '^[0-9]{13}$' } },
        },
      },
    },
    async (request) => {
      const { ean } = request.params as { ean: string };
      if (!isValidEan13(ean)) throw badRequest(`ean ${ean} has a wrong check digit`);
      const [mapping] = await lookup(ctx, [ean]);
      if (!mapping) throw notFound(`an ASIN for EAN ${ean}`);
      return mapping;
    },
  );

  app.post(
    '/api/v1/code2asin/lookup',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['eans'],
          properties: {
            eans: {
              type: 'array',
              minItems: 1,
              maxItems: 1000,
              uniqueItems: true,
              items: { type: 'string', pattern: '^[0-9]{13}$' },
            },
          },
        },
      },
    },
    async (request) => {
      const { eans } = request.body as { eans: string[] };
      const invalid = eans.find((ean) => !isValidEan13(ean));
      if (invalid !== undefined) throw badRequest(`ean ${invalid} has a wrong check digit`);
      const mappings = await lookup(ctx, eans);
      return {
        found: mappings.filter(Boolean).length,
        results: eans.map((ean, i) => ({
          ean,
          asin: mappings[i]?.asin ?? null,
          marketplace: mappings[i]?.marketplace ?? null,
        })),
      };
    },
  );
}
