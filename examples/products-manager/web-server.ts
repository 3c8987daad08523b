import cluster from 'node:cluster';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Settings } from './settings.js';

/**
 * A worker's Fastify instance, the same whatever the worker then serves (the API, or the load
 * script's ceiling), so that a comparison between the two measures what the routes do and nothing
 * else. `requests()`: requests received so far.
 */
export function createWebServer(settings: Settings): { app: FastifyInstance; requests(): number } {
  const app = Fastify({
    logger: { level: settings.logLevel },
    logController: new LogController({ disableRequestLogging: true }),
    // unknown fields are refused with a 400 rather than dropped silently
    ajv: { customOptions: { removeAdditional: false } },
    return503OnClosing: true,
  });
  let requests = 0;
  app.addHook('onRequest', async (_request, reply) => {
    requests++;
    reply.header('x-worker-id', String(cluster.worker?.id ?? 0));
  });
  return { app, requests: () => requests };
}
