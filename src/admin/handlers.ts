import type { Cache } from '../cache.js';
import { AdminInputError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { Duration } from '../values/durations.js';
import type { WarmingSource } from '../warming/warming.js';
import { type AdminAction, type AuthorizeHook, bearerTokenPolicy, toVerdict, type Verdict } from './auth.js';
import { type ClearRequest, parseClearBody, parseKeysQuery } from './input.js';
import { StatsReporter } from './stats-report.js';

/** Where the admin routes live unless told otherwise. */
export const DEFAULT_ADMIN_PREFIX = '/api/v1/cache';

/** A request as the handlers see it, whatever the framework; `native` is the framework's own request. */
export interface AdminRequest<R> {
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, unknown>;
  body: unknown;
  /** The caller's address, for the clear log. */
  ip: string | undefined;
  native: R;
}

/** An answer for the adapter to send as JSON. */
export interface AdminResponse {
  status: number;
  body: object;
  headers?: Record<string, string>;
}

/** The options both adapters take. */
export interface AdminOptions<R> {
  /** The cache the endpoints report on and clear. */
  cache: Cache;
  /** Decides per request and action; default: `/stats` open, the rest behind `adminToken`. */
  authorize?: AuthorizeHook<R>;
  /** Bearer token of the default policy; default env `CACHE_ADMIN_TOKEN`. Unset: `/keys` and `/clear` answer 403. */
  adminToken?: string;
  /** Where each clear is logged (who, what, how many); default: the framework's logger, else none. */
  logger?: Logger;
  /** How long the per-domain key count of `/stats` is reused, in ms (or a string such as `'30s'`). Default 10 000. */
  keyCountTtlMs?: Duration;
  /** How long the server facts (`INFO`) of `/stats` are reused across callers, in ms (or `'5s'`). Default 5000. */
  serverInfoTtlMs?: Duration;
  /** A `CacheWarmingService` whose state and metrics `/stats` shows. */
  warming?: WarmingSource;
}

/** What a clear removed: `removed` counts Redis keys, `null` for a single key (its delete is not counted). */
export interface ClearResult {
  /** What was cleared: `key`, `pattern`, `domain`, `tags` or `all`. */
  scope: ClearRequest['scope'];
  /** The domain, for `key`, `pattern` and `domain`. */
  dbType?: string;
  /** The key, for `key`. */
  key?: string;
  /** The glob, for `pattern`. */
  pattern?: string;
  /** The tags, for `tags`. */
  tags?: string[];
  /** Redis keys removed; `null` for a single key. */
  removed: number | null;
}

/** The three endpoints, framework-neutral. */
export interface AdminHandlers<R> {
  stats(request: AdminRequest<R>): Promise<AdminResponse>;
  keys(request: AdminRequest<R>): Promise<AdminResponse>;
  clear(request: AdminRequest<R>): Promise<AdminResponse>;
}

function failure(status: number, error: string, message: string, field?: string): AdminResponse {
  return { status, body: field === undefined ? { error, message } : { error, message, field } };
}

function redisUnavailable(cache: Cache): AdminResponse {
  const { state, url } = cache.status().l2;
  return failure(
    503,
    'redis_unavailable',
    `Redis at ${url} is not available (state: ${state}); try again later`,
  );
}

/** Builds the admin handlers for one cache; the adapters only translate requests and answers. */
export function createAdminHandlers<R>(options: AdminOptions<R>): AdminHandlers<R> {
  const { cache } = options;
  const log = options.logger ?? silentLogger;
  const tokenPolicy = bearerTokenPolicy(options.adminToken ?? process.env.CACHE_ADMIN_TOKEN);
  const reporter = new StatsReporter(cache, {
    keyCountTtlMs: options.keyCountTtlMs,
    serverInfoTtlMs: options.serverInfoTtlMs,
    warming: options.warming,
  });
  const domains = () => Object.keys(cache.status().domains);

  async function verdict(request: AdminRequest<R>, action: AdminAction): Promise<Verdict> {
    if (options.authorize) return toVerdict(await options.authorize(request.native, action));
    const header = request.headers.authorization;
    return tokenPolicy(Array.isArray(header) ? header[0] : header, action);
  }

  /** Authorizes, then runs `work`; bad input becomes a 400 naming the field. */
  function guarded(
    action: AdminAction,
    work: (request: AdminRequest<R>, who: string) => Promise<AdminResponse>,
  ): (request: AdminRequest<R>) => Promise<AdminResponse> {
    return async (request) => {
      const decision = await verdict(request, action);
      if (!decision.allow) {
        const answer = failure(
          decision.status,
          decision.status === 401 ? 'unauthorized' : 'forbidden',
          decision.message,
        );
        if (decision.challenge) answer.headers = { 'www-authenticate': 'Bearer realm="cachette"' };
        return answer;
      }
      try {
        return await work(request, decision.who);
      } catch (err) {
        if (err instanceof AdminInputError) return failure(400, 'bad_request', err.message, err.field);
        throw err;
      }
    };
  }

  return {
    stats: guarded('read-stats', async (request) => {
      const details = (await verdict(request, 'read-server')).allow;
      return { status: 200, body: await reporter.report({ details }) };
    }),

    keys: guarded('read-keys', async (request) => {
      const { dbType, ...page } = parseKeysQuery(request.query, domains());
      if (cache.status().l2.state !== 'ready') return redisUnavailable(cache);
      const result = await cache.keys({ dbType, ...page });
      if (result === false) return redisUnavailable(cache);
      return { status: 200, body: { dbType, ...result } };
    }),

    clear: guarded('clear', async (request, who) => {
      const target = parseClearBody(request.body, domains());
      if (cache.status().l2.state !== 'ready') return redisUnavailable(cache);
      const removed = await runClear(cache, target, `admin /clear by ${who}`);
      const what = { ...target, who, ip: request.ip };
      if (removed === false) {
        log.warn(what, 'cachette: cache clear failed, Redis did not answer');
        return redisUnavailable(cache);
      }
      log.info({ ...what, removed }, 'cachette: cache cleared');
      const result: ClearResult = { ...target, removed };
      return { status: 200, body: result };
    }),
  };
}

/** Runs one parsed clear: keys removed, `null` for a single key (not counted), `false` if Redis failed. */
export async function runClear(
  cache: Cache,
  target: ClearRequest,
  reason: string,
): Promise<number | null | false> {
  switch (target.scope) {
    case 'key':
      return (await cache.delete(target.key, { dbType: target.dbType })) ? null : false;
    case 'pattern':
      return cache.deletePattern(target.pattern, { dbType: target.dbType });
    case 'domain':
      return cache.deletePattern('*', { dbType: target.dbType });
    case 'tags':
      return cache.invalidateTags(target.tags, { reason });
    case 'all':
      return cache.flushAll({ scope: 'app', reason });
  }
}
