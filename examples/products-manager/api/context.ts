import type { FastifyBaseLogger } from 'fastify';
import type { AppCache, CachedReads } from '../app-cache.js';
import type { Database } from '../database/sql.js';
import type { Invalidation } from '../invalidation.js';

/** What every API module needs: the database, the cache (reads and invalidation), a logger. */
export interface ApiContext {
  db: Database;
  cache: AppCache;
  reads: CachedReads;
  invalidation: Invalidation;
  log: FastifyBaseLogger;
}

/** An answer other than 200 that a handler decides on (404, 409…), sent as `{ error, message }`. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

export function notFound(what: string): HttpError {
  return new HttpError(404, 'not_found', `${what} does not exist`);
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, 'bad_request', message);
}

/** JSON schema of an `:id` path parameter: a positive 32-bit integer (the `serial` columns). */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const;
