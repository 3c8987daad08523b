import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { CATEGORIES } from '../database/schema.js';
import { joinSql, Sql, sql } from '../database/sql.js';
import { isValidEan13 } from '../ean.js';
import { TAGS } from '../invalidation.js';
import { type ApiContext, badRequest, idOf, idParams, notFound } from './context.js';

export interface Product {
  id: number;
  ean: string;
  name: string;
  category: string;
  priceCents: number;
  stock: number;
  supplierId: number;
  supplierName: string;
  updatedAt: string;
}

export interface Supplier {
  id: number;
  name: string;
  country: string;
  products: number;
}

interface ListQuery {
  page: number;
  pageSize: number;
  category?: string;
  supplierId?: number;
  q?: string;
  minPriceCents?: number;
  maxPriceCents?: number;
  inStock?: boolean;
  sort: keyof typeof SORTS;
}

type ProductFields = Partial<
  Pick<Product, 'ean' | 'name' | 'category' | 'priceCents' | 'stock' | 'supplierId'>
>;

const SORTS = {
  id: sql`p.id`,
  name: sql`p.name, p.id`,
  price: sql`p.price_cents, p.id`,
  '-price': sql`p.price_cents DESC, p.id`,
  stock: sql`p.stock, p.id`,
  '-updated': sql`p.updated_at DESC, p.id`,
};

const SELECT_PRODUCT = sql`
  SELECT p.id, p.ean, p.name, p.category, p.price_cents AS "priceCents", p.stock,
         p.supplier_id AS "supplierId", s.name AS "supplierName", p.updated_at AS "updatedAt"
  FROM products p JOIN suppliers s ON s.id = p.supplier_id`;

const productProperties = {
  ean: { type: 'string', pattern: '^[0-9]{13}$' },
  name: { type: 'string', minLength: 1, maxLength: 200 },
  category: { type: 'string', enum: [...CATEGORIES] },
  priceCents: { type: 'integer', minimum: 0, maximum: 100_000_000 },
  stock: { type: 'integer', minimum: 0, maximum: 10_000_000 },
  supplierId: { type: 'integer', minimum: 1, maximum: 2147483647 },
} as const;

const listSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      page: { type: 'integer', minimum: 1, maximum: 100_000, default: 1 },
      pageSize: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
      category: productProperties.category,
      supplierId: productProperties.supplierId,
      q: { type: 'string', minLength: 1, maxLength: 100 },
      minPriceCents: productProperties.priceCents,
      maxPriceCents: productProperties.priceCents,
      inStock: { type: 'boolean' },
      sort: { type: 'string', enum: Object.keys(SORTS), default: 'id' },
    },
  },
} as const;

function filters(query: Omit<ListQuery, 'page' | 'pageSize' | 'sort'>): Sql {
  const where: Sql[] = [sql`TRUE`];
  if (query.category !== undefined) where.push(sql`p.category = ${query.category}`);
  if (query.supplierId !== undefined) where.push(sql`p.supplier_id = ${query.supplierId}`);
  if (query.q !== undefined) {
    // the user's text is a literal for ILIKE: its own % and _ match themselves
    where.push(sql`p.name ILIKE ${`%${query.q.replace(/[\\%_]/g, '\\$&')}%`}`);
  }
  if (query.minPriceCents !== undefined) where.push(sql`p.price_cents >= ${query.minPriceCents}`);
  if (query.maxPriceCents !== undefined) where.push(sql`p.price_cents <= ${query.maxPriceCents}`);
  if (query.inStock !== undefined) where.push(query.inStock ? sql`p.stock > 0` : sql`p.stock = 0`);
  return joinSql(where, ' AND ');
}

/** A short stable key for a list query: the same filters give the same key whatever their order. */
function listKey(query: ListQuery): string {
  const canonical = JSON.stringify(Object.entries(query).sort(([a], [b]) => a.localeCompare(b)));
  return `products_list_${createHash('sha256').update(canonical).digest('hex').slice(0, 20)}`;
}

/** The product, or `null` when there is none (cached too: unknown ids do not reach the database twice). */
export function loadProduct(ctx: ApiContext, id: number): Promise<Product | null> {
  return ctx.reads.getOrSet(
    'catalog',
    `products_${id}`,
    async () => (await ctx.db.one<Product>(sql`${SELECT_PRODUCT} WHERE p.id = ${id}`)) ?? null,
    { tags: [TAGS.product(id)] },
  );
}

/** Products in the catalog (all, or of one category). */
export async function countProducts(ctx: ApiContext, category?: string): Promise<number> {
  const where = category === undefined ? sql`TRUE` : sql`category = ${category}`;
  const row = await ctx.db.one<{ count: number }>(
    sql`SELECT count(*)::int AS count FROM products WHERE ${where}`,
  );
  return row!.count;
}

export async function listSuppliers(ctx: ApiContext): Promise<Supplier[]> {
  return ctx.db.query<Supplier>(sql`
    SELECT s.id, s.name, s.country, count(p.id)::int AS products
    FROM suppliers s LEFT JOIN products p ON p.supplier_id = s.id
    GROUP BY s.id ORDER BY s.id`);
}

async function assertSupplierExists(ctx: ApiContext, supplierId: number | undefined): Promise<void> {
  if (supplierId === undefined) return;
  const found = await ctx.db.one(sql`SELECT 1 FROM suppliers WHERE id = ${supplierId}`);
  if (!found) throw badRequest(`supplierId ${supplierId} does not exist`);
}

function assertEan(ean: string | undefined): void {
  if (ean !== undefined && !isValidEan13(ean)) throw badRequest(`ean ${ean} has a wrong check digit`);
}

/** Catalog routes: list, count, get, create, update, delete; suppliers. Writes invalidate (targeted + dashboard). */
export async function catalogRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get('/api/v1/products', { schema: listSchema }, async (request) => {
    const query = request.query as ListQuery;
    const { page, pageSize, sort, ...rest } = query;
    return ctx.reads.getOrSet(
      'catalog',
      listKey(query),
      async () => {
        const where = filters(rest);
        const [items, total] = await Promise.all([
          ctx.db.query<Product>(sql`${SELECT_PRODUCT} WHERE ${where}
            ORDER BY ${SORTS[sort]} LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`),
          ctx.db.one<{ count: number }>(sql`SELECT count(*)::int AS count FROM products p WHERE ${where}`),
        ]);
        return { items, page, pageSize, total: total!.count };
      },
      { ttl: 600, tags: [TAGS.lists] },
    );
  });

  app.get(
    '/api/v1/products/count',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { category: productProperties.category },
        },
      },
    },
    async (request) => {
      const { category } = request.query as { category?: string };
      const key = category === undefined ? 'products_count' : `products_count_${category}`;
      const count = await ctx.reads.getOrSet('catalog', key, () => countProducts(ctx, category), {
        tags: [TAGS.counts],
      });
      return { count };
    },
  );

  app.get('/api/v1/products/:id', { schema: { params: idParams } }, async (request) => {
    const id = idOf(request.params);
    const product = await loadProduct(ctx, id);
    if (!product) throw notFound(`product ${id}`);
    return product;
  });

  app.post(
    '/api/v1/products',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['ean', 'name', 'category', 'priceCents', 'stock', 'supplierId'],
          properties: productProperties,
        },
      },
    },
    async (request, reply) => {
      const body = request.body as Required<ProductFields>;
      assertEan(body.ean);
      await assertSupplierExists(ctx, body.supplierId);
      const created = await ctx.db.one<{ id: number }>(sql`
        INSERT INTO products (ean, name, category, price_cents, stock, supplier_id)
        VALUES (${body.ean}, ${body.name}, ${body.category}, ${body.priceCents}, ${body.stock}, ${body.supplierId})
        RETURNING id`);
      await ctx.invalidation.product(created!.id, `product ${created!.id} created`);
      const product = await ctx.db.one<Product>(sql`${SELECT_PRODUCT} WHERE p.id = ${created!.id}`);
      return reply.code(201).send(product);
    },
  );

  app.patch(
    '/api/v1/products/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: productProperties,
        },
      },
    },
    async (request) => {
      const id = idOf(request.params);
      const body = request.body as ProductFields;
      assertEan(body.ean);
      await assertSupplierExists(ctx, body.supplierId);
      const columns = {
        ean: 'ean',
        name: 'name',
        category: 'category',
        priceCents: 'price_cents',
        stock: 'stock',
        supplierId: 'supplier_id',
      } as const;
      // column names come from the fixed map above, never from the request
      const assignments = Object.entries(body).map(
        ([field, value]) =>
          sql`${new Sql(columns[field as keyof typeof columns])} = ${value as string | number}`,
      );
      const updated = await ctx.db.one<{ id: number }>(sql`
        UPDATE products SET ${joinSql(assignments, ', ')}, updated_at = now() WHERE id = ${id} RETURNING id`);
      if (!updated) throw notFound(`product ${id}`);
      await ctx.invalidation.product(id, `product ${id} updated`);
      return ctx.db.one<Product>(sql`${SELECT_PRODUCT} WHERE p.id = ${id}`);
    },
  );

  app.delete('/api/v1/products/:id', { schema: { params: idParams } }, async (request, reply) => {
    const id = idOf(request.params);
    const deleted = await ctx.db.one<{ id: number }>(sql`DELETE FROM products WHERE id = ${id} RETURNING id`);
    if (!deleted) throw notFound(`product ${id}`);
    // its media files went with it (ON DELETE CASCADE)
    await Promise.all([
      ctx.invalidation.product(id, `product ${id} deleted`),
      ctx.invalidation.media(`product ${id} deleted`),
    ]);
    return reply.code(204).send();
  });

  app.get('/api/v1/suppliers', async () =>
    ctx.reads.getOrSet('catalog', 'supplier_list', () => listSuppliers(ctx)),
  );
}
