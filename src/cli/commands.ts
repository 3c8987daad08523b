import { runClear } from '../admin/handlers.js';
import { parseClearBody, parseKeysQuery } from '../admin/input.js';
import { StatsReporter } from '../admin/stats-report.js';
import type { Cache } from '../cache.js';
import { AdminInputError } from '../errors.js';
import type { ListedKey } from '../l2/inspect.js';
import { redisFailure, usage } from './failure.js';

/** What a command produced: text for a person, a document for `--json`. */
export interface Outcome {
  text: string;
  json: object;
}

/** The options a command may receive (already checked against the command's list). */
export interface CommandOptions {
  db?: string;
  pattern?: string;
  key?: string;
  tag?: string[];
  limit?: string;
  cursor?: string;
  scope?: string;
  yes?: boolean;
}

/** Why the cache logs the invalidations the CLI makes. */
const CLI_REASON = 'cachette CLI';

function keyCount(n: number | null): string {
  return n === 1 ? '1 key' : `${n} keys`;
}

/** Largest page asked of `cache.keys()` at once; `--limit` above it takes several pages. */
const PAGE = 1000;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${seconds % 60}s`;
}

/** Checks `--db` against the configured domains. */
function domainOf(cache: Cache, db: string | undefined): string {
  const domains = Object.keys(cache.status().domains);
  if (db === undefined || db === '') throw usage(`--db is required; one of ${domains.join(', ')}`);
  if (!domains.includes(db)) {
    throw usage(`--db must be one of ${domains.join(', ')}, got ${JSON.stringify(db)}`);
  }
  return db;
}

/** The CLI option of each field of the admin API's input. */
const FLAGS: Record<string, string> = { dbType: 'db', tags: 'tag' };

/** Runs an admin input parser, reporting its complaints against the CLI's option names. */
function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof AdminInputError) throw usage(`--${FLAGS[err.field] ?? err.field}: ${err.message}`);
    throw err;
  }
}

function failed(cache: Cache, what: string): never {
  const { url, state } = cache.status().l2;
  throw redisFailure(`${what} failed: Redis at ${url} did not answer (state: ${state})`);
}

/** `cachette stats`: the Redis side of the admin `/stats` report. */
export async function stats(cache: Cache): Promise<Outcome> {
  // the CLI holds the Redis credentials already: its report has the details
  const report = await new StatsReporter(cache).report({ details: true });
  const { redis, keys: census, url } = report.l2;
  if (!redis) failed(cache, 'stats');
  const domains = Object.fromEntries(
    Object.entries(report.domains).map(([name, d]) => [name, { prefix: d.prefix, ttl: d.ttl, keys: d.keys }]),
  );
  const counted = census
    ? `${census.exact ? 'counted' : 'estimated from a sample'} in ${census.durationMs.toFixed(0)} ms`
    : 'not counted';
  const limit = redis.maxMemoryBytes === 0 ? 'no limit' : `limit ${bytes(redis.maxMemoryBytes)}`;
  const lines = [
    table([
      ['Redis', `${url} (Redis ${redis.version}, up ${duration(redis.uptimeSeconds)})`],
      ['Memory', `${bytes(redis.usedMemoryBytes)} used, ${limit}`],
      ['Keys', `${redis.keys} in the database (${counted})`],
      ['Clients', `${redis.connectedClients} connected`],
      ['Keyspace', `${redis.keyspaceHits} hits, ${redis.keyspaceMisses} misses since Redis started`],
    ]),
    '',
    table([
      ['domain', 'prefix', 'ttl', 'keys'],
      ...Object.entries(domains).map(([name, d]) => [name, d.prefix, `${d.ttl} s`, String(d.keys ?? '?')]),
      ...(census ? [['(other)', '', '', String(census.other)]] : []),
    ]),
  ];
  return { text: lines.join('\n'), json: { url, redis, keys: census, domains } };
}

/** `cachette keys`: up to `--limit` keys of a domain, in SCAN pages. */
export async function keys(cache: Cache, options: CommandOptions): Promise<Outcome> {
  const dbType = domainOf(cache, options.db);
  const query = parsed(() =>
    parseKeysQuery({ dbType, pattern: options.pattern, cursor: options.cursor, limit: options.limit }, [
      dbType,
    ]),
  );
  const wanted = query.limit ?? 100;
  const found: ListedKey[] = [];
  let cursor = query.cursor ?? null;
  do {
    const page = await cache.keys({
      dbType,
      pattern: query.pattern,
      cursor: cursor ?? undefined,
      limit: Math.min(PAGE, wanted - found.length),
    });
    if (page === false) failed(cache, 'keys');
    found.push(...page.keys);
    cursor = page.cursor;
  } while (cursor !== null && found.length < wanted);
  const rows = found.map((k) => [k.key, k.ttl === null ? 'no TTL' : `${k.ttl} s`]);
  const more = cursor === null ? '' : `; more with --cursor ${cursor}`;
  const summary = `${found.length} key${found.length === 1 ? '' : 's'} in ${dbType}${more}`;
  return {
    text: rows.length === 0 ? summary : `${table(rows)}\n${summary}`,
    json: { dbType, keys: found, cursor },
  };
}

/** `cachette clear`: one key, a pattern, or a whole domain. */
export async function clear(cache: Cache, options: CommandOptions): Promise<Outcome> {
  const { tag, key, pattern } = options;
  if (tag !== undefined && (options.db ?? key ?? pattern) !== undefined) {
    throw usage('--tag reaches every domain: give it without --db, --key or --pattern');
  }
  const target = parsed(() =>
    tag !== undefined
      ? parseClearBody({ tags: tag }, [])
      : parseClearBody({ dbType: domainOf(cache, options.db), key, pattern }, [options.db!]),
  );
  const removed = await runClear(cache, target, CLI_REASON);
  if (removed === false) failed(cache, 'clear');
  let text: string;
  switch (target.scope) {
    case 'key':
      text = `deleted ${target.dbType} key ${target.key} (if it existed)`;
      break;
    case 'tags':
      text = `removed ${keyCount(removed)} tagged ${target.tags.join(', ')}`;
      break;
    case 'pattern':
      text = `removed ${keyCount(removed)} from ${target.dbType} matching ${target.pattern}`;
      break;
    default:
      text = `removed ${keyCount(removed)} from ${'dbType' in target ? target.dbType : 'every domain'}`;
  }
  return { text, json: { ...target, removed } };
}

/** `cachette flush`: every key of the app's domains, or FLUSHDB; only with `--yes`. */
export async function flush(cache: Cache, options: CommandOptions): Promise<Outcome> {
  const { scope } = options;
  if (scope !== 'app' && scope !== 'database') {
    throw usage(
      `--scope must be app (every key of every domain) or database (FLUSHDB), got ${JSON.stringify(scope ?? '')}`,
    );
  }
  if (options.yes !== true) {
    throw usage(
      scope === 'database'
        ? "flush --scope database empties the whole Redis database, other applications' keys too; add --yes to mean it"
        : 'flush --scope app removes every key of every domain; add --yes to mean it',
    );
  }
  const removed = await cache.flushAll(
    scope === 'database' ? { scope, confirm: true, reason: CLI_REASON } : { scope, reason: CLI_REASON },
  );
  if (removed === false) failed(cache, 'flush');
  const { url } = cache.status().l2;
  const what = scope === 'database' ? `the database of ${url}` : `every domain at ${url}`;
  return { text: `flushed ${what}: ${keyCount(removed)} removed`, json: { scope, removed } };
}

/** `cachette ping`: Redis answers INFO; its version and the round trip. */
export async function ping(cache: Cache): Promise<Outcome> {
  const started = performance.now();
  const info = await cache.serverInfo();
  const latencyMs = Math.round((performance.now() - started) * 100) / 100;
  if (info === false) failed(cache, 'ping');
  const { url } = cache.status().l2;
  return {
    text: `PONG from ${url} (Redis ${info.version}) in ${latencyMs} ms`,
    json: { ok: true, url, version: info.version, latencyMs },
  };
}
