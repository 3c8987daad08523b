import type { FastifyInstance } from 'fastify';
import { sql } from '../database/sql.js';
import { type ApiContext, idOf, idParams, notFound } from './context.js';

export interface MediaFile {
  id: number;
  productId: number;
  filename: string;
  mimeType: string;
  sizeBytes: number;
  width: number | null;
  height: number | null;
  createdAt: string;
}

const SELECT_FILE = sql`
  SELECT id, product_id AS "productId", filename, mime_type AS "mimeType", size_bytes AS "sizeBytes",
         width, height, created_at AS "createdAt"
  FROM media_files`;

const attachSchema = {
  params: idParams,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['filename', 'mimeType', 'sizeBytes'],
    properties: {
      filename: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/\\\\]+$' },
      mimeType: { type: 'string', pattern: '^[a-z]+/[a-z0-9.+-]+$', maxLength: 100 },
      sizeBytes: { type: 'integer', minimum: 1, maximum: 2147483647 },
      width: { type: 'integer', minimum: 1, maximum: 100_000 },
      height: { type: 'integer', minimum: 1, maximum: 100_000 },
    },
  },
} as const;

/** Media routes: file metadata, a product's files, attach and remove (→ `invalidateMediaCache()`). */
export async function mediaRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get('/api/v1/media/:id', { schema: { params: idParams } }, async (request) => {
    const id = idOf(request.params);
    const file = await ctx.reads.getOrSet(
      'media',
      `file_${id}`,
      async () => (await ctx.db.one<MediaFile>(sql`${SELECT_FILE} WHERE id = ${id}`)) ?? null,
    );
    if (!file) throw notFound(`media file ${id}`);
    return file;
  });

  app.get('/api/v1/products/:id/media', { schema: { params: idParams } }, async (request) => {
    const id = idOf(request.params);
    const files = await ctx.reads.getOrSet('media', `product_${id}_files`, async () => {
      const product = await ctx.db.one(sql`SELECT 1 FROM products WHERE id = ${id}`);
      if (!product) return null;
      return ctx.db.query<MediaFile>(sql`${SELECT_FILE} WHERE product_id = ${id} ORDER BY id`);
    });
    if (!files) throw notFound(`product ${id}`);
    return { productId: id, files };
  });

  app.post('/api/v1/products/:id/media', { schema: attachSchema }, async (request, reply) => {
    const id = idOf(request.params);
    const body = request.body as Omit<MediaFile, 'id' | 'productId' | 'createdAt'>;
    // INSERT … SELECT inserts nothing when the product does not exist
    const file = await ctx.db.one<MediaFile>(sql`
      WITH inserted AS (
        INSERT INTO media_files (product_id, filename, mime_type, size_bytes, width, height)
        SELECT id, ${body.filename}, ${body.mimeType}, ${body.sizeBytes}, ${body.width ?? null}, ${body.height ?? null}
        FROM products WHERE id = ${id}
        RETURNING *)
      SELECT id, product_id AS "productId", filename, mime_type AS "mimeType", size_bytes AS "sizeBytes",
             width, height, created_at AS "createdAt" FROM inserted`);
    if (!file) throw notFound(`product ${id}`);
    await ctx.invalidation.media(`file ${file.id} attached to product ${id}`);
    return reply.code(201).send(file);
  });

  app.delete('/api/v1/media/:id', { schema: { params: idParams } }, async (request, reply) => {
    const id = idOf(request.params);
    const removed = await ctx.db.one(sql`DELETE FROM media_files WHERE id = ${id} RETURNING id`);
    if (!removed) throw notFound(`media file ${id}`);
    await ctx.invalidation.media(`file ${id} removed`);
    return reply.code(204).send();
  });
}
