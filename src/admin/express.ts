import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import {
  type AdminOptions,
  type AdminRequest,
  type AdminResponse,
  createAdminHandlers,
  DEFAULT_ADMIN_PREFIX,
} from './handlers.js';

/** Options of the Express router; `prefix` defaults to `/api/v1/cache` (`''` to mount it yourself). */
export interface CacheRouterOptions extends AdminOptions<Request> {
  /** Path the routes are mounted under; default `/api/v1/cache`, `''` to mount them yourself. */
  prefix?: string;
}

function adminRequest(request: Request): AdminRequest<Request> {
  return {
    headers: request.headers,
    query: request.query as Record<string, unknown>,
    body: request.body,
    ip: request.ip,
    native: request,
  };
}

function send(response: Response, answer: AdminResponse): void {
  if (answer.headers) response.set(answer.headers);
  response.status(answer.status).json(answer.body);
}

/**
 * The cache admin API as an Express router: `app.use(createCacheRouter({ cache }))` serves
 * `GET /api/v1/cache/stats`, `GET /api/v1/cache/keys` and `POST /api/v1/cache/clear`.
 */
export function createCacheRouter(options: CacheRouterOptions): Router {
  const handlers = createAdminHandlers<Request>(options);
  const prefix = options.prefix ?? DEFAULT_ADMIN_PREFIX;
  // every failure goes to `next`: Express 4 does not catch a rejected handler (Express 5 does)
  const serve =
    (handler: (request: AdminRequest<Request>) => Promise<AdminResponse>) =>
    (request: Request, response: Response, next: NextFunction): void => {
      handler(adminRequest(request))
        .then((answer) => send(response, answer))
        .catch(next);
    };
  // on each route rather than the router, so that errors of the application's other routes pass by
  const onError = (
    error: Error & { status?: number },
    _request: Request,
    response: Response,
    _next: NextFunction,
  ) => {
    const status = error.status ?? 500;
    if (status >= 400 && status < 500) {
      // body-parser errors (malformed JSON, too large) carry their status
      response.status(status).json({ error: 'bad_request', message: error.message, field: 'body' });
    } else {
      options.logger?.error({ err: error.message }, 'cachette admin: request failed');
      response.status(500).json({ error: 'internal', message: 'internal error' });
    }
  };
  const router = express.Router();
  router.get(`${prefix}/stats`, serve(handlers.stats), onError);
  router.get(`${prefix}/keys`, serve(handlers.keys), onError);
  router.post(
    `${prefix}/clear`,
    express.json({ limit: '16kb', strict: false }),
    serve(handlers.clear),
    onError,
  );
  return router;
}

export type { AdminAction, AuthAllowed, AuthDecision, AuthorizeHook, AuthRefused } from './auth.js';
export type { ClearResult } from './handlers.js';
export type { CountedAt, DomainReport, L2Failures, StatsReport, TierReads } from './stats-report.js';
