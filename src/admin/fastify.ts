import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import fp from 'fastify-plugin';
import {
  type AdminHandlers,
  type AdminOptions,
  type AdminRequest,
  type AdminResponse,
  createAdminHandlers,
  DEFAULT_ADMIN_PREFIX,
} from './handlers.js';
import { clearSchema, keysSchema, statsSchema } from './schemas.js';

/** Options of the Fastify plugin; `prefix` defaults to `/api/v1/cache`. */
export interface CacheAdminPluginOptions extends AdminOptions<FastifyRequest> {
  /** Path the routes are mounted under; default `/api/v1/cache`. */
  prefix?: string;
}

function adminRequest(request: FastifyRequest): AdminRequest<FastifyRequest> {
  return {
    headers: request.headers,
    query: (request.query ?? {}) as Record<string, unknown>,
    body: request.body,
    ip: request.ip,
    native: request,
  };
}

function send(reply: FastifyReply, answer: AdminResponse): FastifyReply {
  if (answer.headers) reply.headers(answer.headers);
  return reply.code(answer.status).send(answer.body);
}

/** The field a schema violation is about: the missing or unknown property, else the path. */
function fieldOf(error: FastifyError): string {
  for (const problem of error.validation ?? []) {
    const params = problem.params as { missingProperty?: string; propertyName?: string };
    const named =
      params.missingProperty ?? params.propertyName ?? (problem as { propertyName?: string }).propertyName;
    if (named !== undefined) return named;
  }
  const path = error.validation?.[0]?.instancePath.replace(/^\//, '').replaceAll('/', '.');
  return path || (error.validationContext ?? 'body');
}

async function routes(app: FastifyInstance, handlers: AdminHandlers<FastifyRequest>): Promise<void> {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      return reply.code(400).send({ error: 'bad_request', message: error.message, field: fieldOf(error) });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // malformed JSON, empty JSON body, wrong content type: the body is what is wrong
      return reply.code(status).send({ error: 'bad_request', message: error.message, field: 'body' });
    }
    request.log.error({ err: error }, 'cachette admin: request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
  app.get('/stats', { schema: statsSchema }, async (request, reply) =>
    send(reply, await handlers.stats(adminRequest(request))),
  );
  app.get('/keys', { schema: keysSchema }, async (request, reply) =>
    send(reply, await handlers.keys(adminRequest(request))),
  );
  app.post('/clear', { schema: clearSchema }, async (request, reply) =>
    send(reply, await handlers.clear(adminRequest(request))),
  );
}

const plugin: FastifyPluginAsync<CacheAdminPluginOptions> = async (app, options) => {
  const handlers = createAdminHandlers<FastifyRequest>({ logger: app.log, ...options });
  // Fastify applies a `prefix` registration option by itself; without one, mount at the default
  await app.register((scope) => routes(scope, handlers), {
    prefix: options.prefix === undefined ? DEFAULT_ADMIN_PREFIX : '',
  });
};

/**
 * The cache admin API as a Fastify plugin: `app.register(cacheAdmin, { cache })` serves
 * `GET /api/v1/cache/stats`, `GET /api/v1/cache/keys` and `POST /api/v1/cache/clear`. The default
 * export, also named so that CommonJS code can write `const { cacheAdmin } = require('cachette/fastify')`.
 */
export const cacheAdmin = fp(plugin, { name: 'cachette-admin', fastify: '>=5', encapsulate: true });
export default cacheAdmin;

export type { AdminAction, AuthAllowed, AuthDecision, AuthorizeHook, AuthRefused } from './auth.js';
export type { ClearResult } from './handlers.js';
export type { CountedAt, DomainReport, L2Failures, StatsReport, TierReads } from './stats-report.js';
