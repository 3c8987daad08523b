// LOAD_CEILING=1: the most the web stack alone serves on this machine, for `npm run load` to measure
// the cached endpoints against. The workers are the service's own (same Fastify construction, same
// hooks, same cluster); only the product route's work is gone: no database, no cache.
import type { Product } from './api/catalog.js';
import { idOf, idParams } from './api/context.js';
import { serveThePrimary } from './cluster-ipc.js';
import type { Settings } from './settings.js';
import { createWebServer } from './web-server.js';

/** Product 500 of a freshly created catalog, as `GET /api/v1/products/500` returns it (same fields, same size). */
const PRODUCT: Product = {
  id: 500,
  ean: '3760000005005',
  name: 'Bamboo Ball #500',
  category: 'tools',
  priceCents: 25499,
  stock: 0,
  supplierId: 101,
  supplierName: 'Supplier 101',
  updatedAt: '2026-01-01T08:20:00.000Z',
};

/**
 * A ceiling worker: `GET /api/v1/products/:id` with the API's route options, answered with
 * `PRODUCT` (serialised by Fastify as the API's answer is); stops on SIGTERM/SIGINT or when the
 * primary is gone.
 */
export async function runCeilingWorker(settings: Settings): Promise<void> {
  const { app } = createWebServer(settings);
  app.get('/api/v1/products/:id', { schema: { params: idParams } }, async (request) => {
    idOf(request.params);
    return PRODUCT;
  });
  // the primary samples every worker's status; a ceiling worker has none to give
  serveThePrimary(async () => null);
  await app.listen({ host: settings.host, port: settings.port });

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('disconnect', shutdown);
}
