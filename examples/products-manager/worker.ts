import cluster from 'node:cluster';
import { registerCacheMetrics } from 'cachette/prometheus';
import type { ApiContext } from './api/context.js';
import { buildApp } from './app.js';
import { CachedReads, createAppCache } from './app-cache.js';
import { askThePrimary, serveThePrimary } from './cluster-ipc.js';
import { Database } from './database/sql.js';
import { Invalidation } from './invalidation.js';
import type { Settings } from './settings.js';
import { createWarming } from './warming.js';
import { createWebServer } from './web-server.js';

/** What a worker tells the primary about itself (the dashboard's per-worker cards). */
export interface WorkerStatus {
  workerId: number;
  pid: number;
  uptimeSeconds: number;
  requests: number;
  cacheDisabled: boolean;
  database: 'up' | 'down';
  cache: ReturnType<ApiContext['cache']['status']>;
  stats: ReturnType<ApiContext['cache']['stats']>;
  warming: ReturnType<ReturnType<typeof createWarming>['getMetrics']>;
}

/**
 * One worker process: its own cache (L1 in its memory, L2 the shared Redis), a small pool to the
 * database, the Fastify API. Stops gracefully on SIGTERM/SIGINT: stops accepting, finishes the
 * requests and imports in flight, closes the cache and the pool.
 */
export async function runWorker(settings: Settings, databaseUrl: string): Promise<void> {
  const { app, requests } = createWebServer(settings);
  const cache = createAppCache(settings.redisUrl, app.log);
  const db = new Database(databaseUrl, {
    onError: (err) => app.log.warn({ err: err.message }, 'products-manager: idle database connection failed'),
  });
  const ctx: ApiContext = {
    db,
    cache,
    reads: new CachedReads(cache, settings.cacheDisabled),
    invalidation: new Invalidation(cache),
    log: app.log,
  };
  const warming = createWarming(ctx, settings.warmingIntervalMs);
  registerCacheMetrics(cache, { warming });

  const status = async (): Promise<WorkerStatus> => ({
    workerId: cluster.worker?.id ?? 0,
    pid: process.pid,
    uptimeSeconds: Math.round(process.uptime()),
    requests: requests(),
    cacheDisabled: settings.cacheDisabled,
    database: (await db.ping(1000)) ? 'up' : 'down',
    cache: cache.status(),
    stats: cache.stats(),
    warming: warming.getMetrics(),
  });

  const work = await buildApp(app, ctx, {
    warming,
    importConcurrency: settings.importConcurrency,
    async health() {
      const databaseUp = await db.ping();
      const { l2, breaker } = cache.status();
      return {
        healthy: databaseUp,
        body: {
          status: !databaseUp ? 'down' : l2.state === 'ready' ? 'ok' : 'degraded',
          database: databaseUp ? 'up' : 'down',
          redis: { state: l2.state, breaker },
          cache: settings.cacheDisabled ? 'disabled' : 'enabled',
          worker: cluster.worker?.id ?? 0,
        },
      };
    },
    clusterStatus: () => askThePrimary('status'),
    clusterMetrics: async () => String(await askThePrimary('metrics')),
  });
  serveThePrimary(async (question) => (question === 'status' ? status() : null));

  await app.listen({ host: settings.host, port: settings.port });
  if (!settings.cacheDisabled) {
    void warming.warmCriticalCaches();
    warming.startPeriodicWarming();
  }

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await warming.close();
    await app.close();
    await work.drain();
    await cache.close();
    await db.close();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // the primary's IPC channel closing means it is gone: nothing would restart this worker
  process.on('disconnect', shutdown);
}
