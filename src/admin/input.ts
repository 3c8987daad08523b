import { AdminInputError, CacheKeyError } from '../errors.js';
import { decodeCursor, pageLimit } from '../l2/inspect.js';
import { assertValidKey } from '../values/keys.js';
import { checkTags } from '../values/tags.js';

/** A parsed `GET /keys` query. */
export interface KeysQuery {
  dbType: string;
  pattern: string | undefined;
  cursor: string | undefined;
  limit: number | undefined;
}

/** A parsed `POST /clear` body: exactly one of the accepted shapes. */
export type ClearRequest =
  | { scope: 'key'; dbType: string; key: string }
  | { scope: 'pattern'; dbType: string; pattern: string }
  | { scope: 'domain'; dbType: string }
  | { scope: 'tags'; tags: string[] }
  | { scope: 'all' };

const CLEAR_SHAPES =
  '{ "dbType" }, { "dbType", "pattern" }, { "dbType", "key" }, { "tags": [...] } or { "all": true }';
const CLEAR_FIELDS = ['dbType', 'key', 'pattern', 'tags', 'all'];

function single(query: Record<string, unknown>, field: string): string | undefined {
  const value = query[field];
  if (value === undefined) return undefined;
  // Fastify has already turned numeric query values into numbers
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') throw new AdminInputError(field, `${field} must be given once, as text`);
  return value;
}

function knownDomain(value: unknown, domains: readonly string[]): string {
  if (value === undefined || value === '') {
    throw new AdminInputError('dbType', `dbType is required; one of ${domains.join(', ')}`);
  }
  if (typeof value !== 'string' || !domains.includes(value)) {
    throw new AdminInputError(
      'dbType',
      `dbType must be one of ${domains.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Runs a core check and reports its `CacheKeyError` against `field`. */
function checked<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof CacheKeyError) throw new AdminInputError(field, err.message);
    throw err;
  }
}

/** Parses `dbType`, `pattern`, `cursor`, `limit` of `GET /keys`; throws `AdminInputError`. */
export function parseKeysQuery(query: Record<string, unknown>, domains: readonly string[]): KeysQuery {
  const dbType = knownDomain(single(query, 'dbType'), domains);
  const pattern = single(query, 'pattern');
  if (pattern !== undefined) checked('pattern', () => assertValidKey(pattern, 'pattern'));
  const cursor = single(query, 'cursor');
  checked('cursor', () => decodeCursor(cursor));
  const rawLimit = single(query, 'limit');
  let limit: number | undefined;
  if (rawLimit !== undefined) {
    limit = /^\d+$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
    checked('limit', () => pageLimit(limit));
  }
  return { dbType, pattern, cursor, limit };
}

/** Parses the body of `POST /clear`; an empty body is refused, never read as "everything". */
export function parseClearBody(body: unknown, domains: readonly string[]): ClearRequest {
  if (body === undefined || body === null || body === '') {
    throw new AdminInputError(
      'body',
      `the body is empty: send JSON ${CLEAR_SHAPES} with Content-Type: application/json`,
    );
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new AdminInputError('body', `the body must be a JSON object: ${CLEAR_SHAPES}`);
  }
  const fields = body as Record<string, unknown>;
  const names = Object.keys(fields);
  if (names.length === 0) {
    throw new AdminInputError('body', `the body is empty: say what to clear with ${CLEAR_SHAPES}`);
  }
  const unknown = names.find((name) => !CLEAR_FIELDS.includes(name));
  if (unknown !== undefined) {
    throw new AdminInputError(
      unknown,
      `unknown field ${JSON.stringify(unknown)}; the body is ${CLEAR_SHAPES}`,
    );
  }
  if (fields.all !== undefined) {
    // { all: false } or { all: true, dbType } is a confused request, not a smaller flush
    if (fields.all !== true)
      throw new AdminInputError('all', 'all must be true (it removes every key of the app)');
    if (names.length > 1)
      throw new AdminInputError('all', `all: true stands alone; the body is ${CLEAR_SHAPES}`);
    return { scope: 'all' };
  }
  if (fields.tags !== undefined) {
    const other = names.find((name) => name !== 'tags');
    if (other !== undefined) {
      throw new AdminInputError(other, 'tags reach every domain and stand alone: send { "tags": [...] }');
    }
    checked('tags', () => {
      if (checkTags(fields.tags).length === 0) throw new CacheKeyError('tags must name at least one tag');
    });
    return { scope: 'tags', tags: [...new Set(fields.tags as string[])] };
  }
  const dbType = knownDomain(fields.dbType, domains);
  const { key, pattern } = fields;
  if (key !== undefined && pattern !== undefined) {
    throw new AdminInputError('pattern', 'give either key or pattern, not both');
  }
  if (key !== undefined) {
    checked('key', () => assertValidKey(key));
    return { scope: 'key', dbType, key: key as string };
  }
  if (pattern !== undefined) {
    checked('pattern', () => assertValidKey(pattern, 'pattern'));
    return { scope: 'pattern', dbType, pattern: pattern as string };
  }
  return { scope: 'domain', dbType };
}
