import { CacheKeyError, L2UnavailableError } from '../errors.js';
import { describeError, type Logger, RateLimitedLog } from '../logger.js';
import { confinedPattern } from '../values/keys.js';
import type { L2Driver } from './driver.js';

/** Largest page `keys()` returns; larger limits are capped to it. */
export const MAX_KEYS_PAGE = 1000;
/** Page size when the caller gives none. */
export const DEFAULT_KEYS_PAGE = 100;
/** A `keys()` page stops after this many SCAN calls (a sparse pattern in a big keyspace), even if short. */
const MAX_SCAN_CALLS_PER_PAGE = 50;

/** What `cache.keys()` accepts. */
export interface KeyListOptions<D extends string> {
  /** The domain to list; default `default`. */
  dbType?: D;
  /** Redis glob on the part after the domain prefix; default `*`. */
  pattern?: string;
  /** `cursor` of the previous page; absent for the first page. */
  cursor?: string;
  /** Most keys in the page, 1 to 1000 (larger values are capped); default 100. */
  limit?: number;
}

/** One listed key: the cache key (without prefix), the Redis key, the remaining TTL in seconds (`null`: none). */
export interface ListedKey {
  /** The key, without the domain prefix. */
  key: string;
  /** The Redis key: prefix + key. */
  redisKey: string;
  /** Remaining TTL in seconds; `null` for a key without expiry. */
  ttl: number | null;
}

/** One page of `cache.keys()`; `cursor` is `null` when the domain has been walked through. */
export interface KeyPage {
  /** The keys of this page (possibly fewer than the limit while `cursor` is not null). */
  keys: ListedKey[];
  /** Pass it back for the next page; `null` once the whole domain has been listed. */
  cursor: string | null;
}

/** Facts about the Redis server, from one `INFO`. Byte counts in bytes. */
export interface ServerInfo {
  /** `redis_version`. */
  version: string;
  /** Seconds since the server started. */
  uptimeSeconds: number;
  /** `used_memory`. */
  usedMemoryBytes: number;
  /** 0 when Redis has no memory limit. */
  maxMemoryBytes: number;
  /** Successful key lookups since the server started (all clients). */
  keyspaceHits: number;
  /** Failed key lookups since the server started (all clients). */
  keyspaceMisses: number;
  /** Client connections open now. */
  connectedClients: number;
  /** Keys in the database the cache uses (all prefixes, other applications' keys too). */
  keys: number;
}

/** Keys per domain, counted by a SCAN bounded in time; `exact` is false when the count was extrapolated. */
export interface KeyCensus {
  /** Keys per configured domain. */
  domains: Record<string, number>;
  /** Keys that belong to no configured domain. */
  other: number;
  /** Keys in the database (`DBSIZE`). */
  total: number;
  /** Keys the SCAN actually looked at. */
  scanned: number;
  /** `false` when the SCAN stopped early and the counts were extrapolated from what it saw. */
  exact: boolean;
  /** How long the SCAN took, in ms. */
  durationMs: number;
}

/**
 * One page of a domain's keys with their remaining TTL, never their values. SCAN pages may hold
 * more keys than asked for; each batch is sorted so that a page can end inside it and the cursor
 * can resume after the page's last key (`<scan cursor>.<base64url last key>`).
 */
export async function listKeys(
  l2: L2Driver,
  prefix: string,
  options: { pattern?: string; cursor?: string; limit?: number },
): Promise<KeyPage> {
  const match = confinedPattern(prefix, options.pattern ?? '*');
  const limit = pageLimit(options.limit);
  let [scanCursor, after] = decodeCursor(options.cursor);
  const found: string[] = [];
  let next: string | null = null;
  for (let calls = 0; calls < MAX_SCAN_CALLS_PER_PAGE; calls++) {
    // the same COUNT for every page: a cursor resumes inside the batch SCAN returned for it, and
    // SCAN returns that same batch again only when asked with the same COUNT
    const [following, batch] = await l2.scanPage(scanCursor, match, MAX_KEYS_PAGE);
    batch.sort();
    const fresh = after === undefined ? batch : batch.filter((key) => key > after!);
    after = undefined;
    const room = limit - found.length;
    if (fresh.length > room) {
      found.push(...fresh.slice(0, room));
      next = encodeCursor(scanCursor, found.at(-1)!);
      break;
    }
    found.push(...fresh);
    scanCursor = following;
    next = following === '0' ? null : following;
    if (next === null || found.length === limit) break;
  }
  const ttls = await Promise.all(found.map((key) => l2.command<number>(['TTL', key])));
  const keys: ListedKey[] = [];
  found.forEach((redisKey, i) => {
    const ttl = ttls[i]!;
    // -2: expired or deleted since the SCAN saw it
    if (ttl !== -2) keys.push({ key: redisKey.slice(prefix.length), redisKey, ttl: ttl === -1 ? null : ttl });
  });
  return { keys, cursor: next };
}

/** Checks and caps a page size; throws `CacheKeyError` unless it is a whole number >= 1. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_KEYS_PAGE;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new CacheKeyError(`limit must be a whole number >= 1, got ${String(limit)}`);
  }
  return Math.min(limit, MAX_KEYS_PAGE);
}

// a SCAN cursor, on a cluster prefixed with the first slot of the node being walked (`5461-42`)
const CURSOR = /^((?:\d{1,5}-)?\d{1,20})(?:\.([A-Za-z0-9_-]+))?$/;

/** Splits a page cursor into the SCAN cursor and the last key already returned from its batch. */
export function decodeCursor(cursor: string | undefined): [string, string | undefined] {
  if (cursor === undefined || cursor === '') return ['0', undefined];
  const parsed = CURSOR.exec(cursor);
  if (!parsed) throw new CacheKeyError(`cursor ${JSON.stringify(cursor)} is not a cursor returned by keys()`);
  const last = parsed[2] === undefined ? undefined : Buffer.from(parsed[2], 'base64url').toString('utf8');
  return [parsed[1]!, last];
}

function encodeCursor(scanCursor: string, lastKey: string): string {
  return `${scanCursor}.${Buffer.from(lastKey, 'utf8').toString('base64url')}`;
}

/**
 * Reads the server facts from one `INFO` per primary (the default sections, so Redis 6 answers
 * too). On a cluster, counts and sizes are summed over the primaries, the uptime is the shortest
 * and the version the lowest.
 */
export async function readServerInfo(l2: L2Driver, db: number): Promise<ServerInfo> {
  const texts = await l2.commandOnPrimaries<string>(['INFO']);
  const [first, ...others] = texts.map((text) => parseInfo(text, db));
  if (!first) throw new L2UnavailableError('E_L2_UNAVAILABLE', 'no Redis primary answered INFO');
  return others.reduce(
    (sum, info) => ({
      version: compareVersions(info.version, sum.version) < 0 ? info.version : sum.version,
      uptimeSeconds: Math.min(sum.uptimeSeconds, info.uptimeSeconds),
      usedMemoryBytes: sum.usedMemoryBytes + info.usedMemoryBytes,
      maxMemoryBytes: sum.maxMemoryBytes + info.maxMemoryBytes,
      keyspaceHits: sum.keyspaceHits + info.keyspaceHits,
      keyspaceMisses: sum.keyspaceMisses + info.keyspaceMisses,
      connectedClients: sum.connectedClients + info.connectedClients,
      keys: sum.keys + info.keys,
    }),
    first,
  );
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((version) => version.split('.').map((part) => Number(part) || 0));
  for (let i = 0; i < Math.max(x!.length, y!.length); i++) {
    const diff = (x![i] ?? 0) - (y![i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

function parseInfo(text: string, db: number): ServerInfo {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  const num = (name: string) => Number(fields.get(name) ?? 0) || 0;
  const keyspace = /(?:^|,)keys=(\d+)/.exec(fields.get(`db${db}`) ?? '');
  return {
    version: fields.get('redis_version') ?? 'unknown',
    uptimeSeconds: num('uptime_in_seconds'),
    usedMemoryBytes: num('used_memory'),
    maxMemoryBytes: num('maxmemory'),
    keyspaceHits: num('keyspace_hits'),
    keyspaceMisses: num('keyspace_misses'),
    connectedClients: num('connected_clients'),
    keys: keyspace ? Number(keyspace[1]) : 0,
  };
}

/**
 * Counts keys per domain with one SCAN over the database (over every primary of a cluster), stopped after `budgetMs` or `maxCalls`
 * SCAN calls of 1000. When stopped early, the counts are scaled by `DBSIZE / scanned`: SCAN walks
 * the hash table in an order unrelated to key names, so what it saw is a fair sample.
 */
export async function countKeys(
  l2: L2Driver,
  prefixes: Record<string, string>,
  options: { budgetMs: number; maxCalls: number },
): Promise<KeyCensus> {
  const started = performance.now();
  const total = (await l2.commandOnPrimaries<number>(['DBSIZE'])).reduce((sum, size) => sum + size, 0);
  // longest prefix first, so that a key of `cat_x_` is not counted under `cat_`
  const ordered = Object.entries(prefixes).sort(([, a], [, b]) => b.length - a.length);
  const counts: Record<string, number> = Object.fromEntries(ordered.map(([name]) => [name, 0]));
  let other = 0;
  let scanned = 0;
  let cursor = '0';
  let calls = 0;
  do {
    const [next, batch] = await l2.scanPage(cursor, '*', 1000);
    cursor = next;
    calls++;
    scanned += batch.length;
    for (const key of batch) {
      const owner = ordered.find(([, prefix]) => key.startsWith(prefix));
      if (owner) counts[owner[0]]!++;
      else other++;
    }
  } while (cursor !== '0' && calls < options.maxCalls && performance.now() - started < options.budgetMs);
  const exact = cursor === '0';
  const scale = exact || scanned === 0 ? 1 : total / scanned;
  const domains: Record<string, number> = {};
  for (const [name, count] of Object.entries(counts)) domains[name] = Math.round(count * scale);
  return {
    domains,
    other: Math.round(other * scale),
    total,
    scanned,
    exact,
    durationMs: performance.now() - started,
  };
}

/**
 * The admin reads of a cache (`keys`, `serverInfo`, `countKeys`): each answers `false` when Redis
 * failed, logged once per operation, reason and interval (an outage is logged by the driver);
 * bad input still throws `CacheKeyError`.
 */
export class Inspector {
  readonly #l2: L2Driver;
  readonly #log: Logger;
  readonly #problems = new RateLimitedLog();

  constructor(l2: L2Driver, log: Logger) {
    this.#l2 = l2;
    this.#log = log;
  }

  keys(
    prefix: string,
    options: { pattern?: string; cursor?: string; limit?: number },
  ): Promise<KeyPage | false> {
    return this.#run('keys', () => listKeys(this.#l2, prefix, options));
  }

  serverInfo(db: number): Promise<ServerInfo | false> {
    return this.#run('serverInfo', () => readServerInfo(this.#l2, db));
  }

  countKeys(
    prefixes: Record<string, string>,
    options: { budgetMs?: number; maxCalls?: number },
  ): Promise<KeyCensus | false> {
    const limits = { budgetMs: options.budgetMs ?? 50, maxCalls: options.maxCalls ?? 20 };
    return this.#run('countKeys', () => countKeys(this.#l2, prefixes, limits));
  }

  async #run<T>(operation: string, read: () => Promise<T>): Promise<T | false> {
    try {
      return await read();
    } catch (err) {
      if (err instanceof CacheKeyError) throw err;
      if (!(err instanceof L2UnavailableError)) {
        const reason = describeError(err);
        this.#problems.emit(`${operation}:${reason}`, (suppressed) =>
          this.#log.warn({ operation, err: reason, suppressed }, `cachette: ${operation} failed`),
        );
      }
      return false;
    }
  }
}
