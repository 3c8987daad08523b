import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { CacheWarmingService } from 'cachette';
import cacheAdmin from 'cachette/fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import { analyticsRoutes } from './api/analytics.js';
import { catalogRoutes } from './api/catalog.js';
import { code2asinRoutes } from './api/code2asin.js';
import { type ApiContext, HttpError } from './api/context.js';
import { dashboardRoutes } from './api/dashboard.js';
import { importRoutes } from './api/imports.js';
import { mediaRoutes } from './api/media.js';
import { SqlValueError } from './database/sql.js';

/** PostgreSQL error codes a client's input can cause, and how they are answered. */
const CLIENT_SQL_ERRORS: Record<string, { status: number; error: string }> = {
  '23505': { status: 409, error: 'conflict' }, // unique_violation (an EAN that exists)
  '23503': { status: 400, error: 'bad_request' }, // foreign_key_violation
  '23514': { status: 400, error: 'bad_request' }, // check_violation
  '22003': { status: 400, error: 'bad_request' }, // numeric_value_out_of_range
};

const require = createRequire(import.meta.url);

/** The dashboard page and its scripts, read once: no build step, uPlot served from its npm package. */
function staticFiles(): Record<string, { type: string; body: Buffer }> {
  const own = (name: string) => readFileSync(new URL(`./public/${name}`, import.meta.url));
  return {
    '/': { type: 'text/html; charset=utf-8', body: own('index.html') },
    '/assets/dashboard.js': { type: 'text/javascript; charset=utf-8', body: own('dashboard.js') },
    '/assets/dashboard.css': { type: 'text/css; charset=utf-8', body: own('dashboard.css') },
    '/assets/uPlot.iife.min.js': {
      type: 'text/javascript; charset=utf-8',
      body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')),
    },
    '/assets/uPlot.min.css': {
      type: 'text/css; charset=utf-8',
      body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')),
    },
  };
}

/**
 * The field a schema refused and why, said with its name: Ajv's "must NOT have additional
 * properties" names neither the field nor where it was.
 */
function refusedField(error: FastifyError): { message: string; field: string } {
  const problem = error.validation?.[0];
  const where = error.validationContext ?? 'request';
  const params = (problem?.params ?? {}) as { additionalProperty?: string; missingProperty?: string };
  const path = problem?.instancePath.replace(/^\//, '').replaceAll('/', '.') ?? '';
  if (params.additionalProperty !== undefined) {
    const field = path === '' ? params.additionalProperty : `${path}.${params.additionalProperty}`;
    return { field, message: `${where} field ${JSON.stringify(field)} is not accepted here` };
  }
  if (params.missingProperty !== undefined) {
    const field = path === '' ? params.missingProperty : `${path}.${params.missingProperty}`;
    return { field, message: `${where} field ${JSON.stringify(field)} is required` };
  }
  return { field: path || where, message: error.message };
}

/** What the worker adds to the API: its health, the cluster's state and metrics (both from the primary). */
export interface AppHooks {
  health(): Promise<{ healthy: boolean; body: object }>;
  clusterStatus(): Promise<unknown>;
  clusterMetrics(): Promise<string>;
  warming: CacheWarmingService;
  /** Imports read or run at once by this worker (`IMPORT_CONCURRENCY`). */
  importConcurrency: number;
}

/** Registers everything the service answers on `app`; returns what graceful shutdown must wait for. */
export async function buildApp(
  app: FastifyInstance,
  ctx: ApiContext,
  hooks: AppHooks,
): Promise<{ drain(): Promise<void> }> {
  app.setErrorHandler((error: FastifyError & { code?: string }, request, reply) => {
    if (error instanceof HttpError) {
      return reply.code(error.statusCode).send({ error: error.error, message: error.message });
    }
    if (error.validation) {
      return reply.code(400).send({ error: 'bad_request', ...refusedField(error) });
    }
    if (error instanceof SqlValueError) {
      return reply.code(400).send({ error: 'bad_request', message: error.message });
    }
    const sqlError = error.code === undefined ? undefined : CLIENT_SQL_ERRORS[error.code];
    if (sqlError) {
      const detail = (error as { detail?: string }).detail;
      return reply.code(sqlError.status).send({ error: sqlError.error, message: detail ?? error.message });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // malformed JSON, body too large, unsupported content type: what the client sent is wrong
      return reply.code(status).send({ error: 'bad_request', message: error.message });
    }
    request.log.error({ err: error, url: request.url }, 'products-manager: request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  for (const [path, file] of Object.entries(staticFiles())) {
    app.get(path, (_request, reply) =>
      reply.type(file.type).header('cache-control', 'no-cache').send(file.body),
    );
  }

  app.get('/health', async (_request, reply) => {
    const { healthy, body } = await hooks.health();
    return reply.code(healthy ? 200 : 503).send(body);
  });
  app.get('/api/v1/cluster', async () => hooks.clusterStatus());
  app.get('/metrics', async (_request, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(await hooks.clusterMetrics()),
  );
  await app.register(cacheAdmin, { cache: ctx.cache, warming: hooks.warming, logger: ctx.log });

  await catalogRoutes(app, ctx);
  await mediaRoutes(app, ctx);
  const imports = await importRoutes(app, ctx, { concurrency: hooks.importConcurrency });
  await code2asinRoutes(app, ctx);
  await analyticsRoutes(app, ctx);
  await dashboardRoutes(app, ctx);
  return imports;
}
