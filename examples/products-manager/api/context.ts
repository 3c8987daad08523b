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

const MAX_ID = 2147483647;

/**
 * JSON schema of an `:id` path parameter, as digits: Ajv's number coercion would turn `1e309` into
 * `Infinity` and let it through; `idOf` then bounds it to the `serial` columns' range.
 */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } },
} as const;

/** The request's `:id` (validated by `idParams`); a 400 beyond the 32-bit range. */
export function idOf(params: unknown): number {
  const id = Number((params as { id: string }).id);
  if (id > MAX_ID) throw badRequest(`params/id must be at most ${MAX_ID}, got ${id}`);
  return id;
}
