import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { CacheConfigError } from '../errors.js';
import {
  type InvalidationGroup,
  type InvalidationOptions,
  type ResolvedGroup,
  resolveGroups,
} from '../invalidation/invalidator.js';
import type { BreakerSettings } from '../l2/redis/breaker.js';
import type { ConnectionHooks, NodeConnectionHooks } from '../l2/redis/driver.js';
import { defaultLogger, type Logger } from '../logger.js';
import { jsonSerializer, type Serializer } from '../values/serializer.js';
import { BUILTIN_DOMAINS, type BuiltinDomain, type DomainConfig } from './domains.js';

/** L1 (in-process memory tier) options. */
export interface L1Options {
  /** Turn the memory tier off entirely (every read goes to Redis). Default `true` (on). */
  enabled?: boolean;
  /** L1 time to live in seconds, capped by the value's remaining Redis TTL. Default 5 (`CACHE_L1_TTL`). */
  ttl?: number;
  /** Most entries kept. Default 10 000 (`CACHE_L1_MAX_ENTRIES`). */
  maxEntries?: number;
  /** Most bytes kept, counted as the JSON text length of each value. Default 64 MiB (`CACHE_L1_MAX_BYTES`). */
  maxBytes?: number;
  /** Return a structured clone on every L1 hit instead of the shared object. Default `false`. */
  clone?: boolean;
}

/** How the L1 copies of the processes sharing a Redis are kept coherent (README "Coherence"). */
export type CoherenceMode = 'tracking' | 'pubsub' | 'none';

/** Coherence options; every field is optional. */
export interface CoherenceOptions {
  /** Default `'tracking'` (`CACHE_COHERENCE`). */
  mode?: CoherenceMode;
  /** Longest L1 TTL while the invalidation connection is down, in ms. Default 1000 (`CACHE_COHERENCE_DEGRADED_L1_TTL_MS`). */
  degradedL1TtlMs?: number;
  /** The pub/sub channel of `'pubsub'` coherence. Default `__cachette:invalidate`. */
  channel?: string;
}

/** A Redis server (or Sentinel) address. */
export interface RedisNode {
  host: string;
  port: number;
}

/** Sentinel-managed primary/replica set: the Sentinels to ask and the name of the monitored primary. */
export interface SentinelOptions {
  /** Some of the Sentinels (three is plenty); they tell where the current primary is. */
  sentinels: RedisNode[];
  /** The name the Sentinels monitor the primary under (`sentinel monitor <name> …`). */
  name: string;
  /**
   * The Sentinels' own credentials, when they require them (`requirepass`, or an ACL user on the
   * Sentinels): `REDIS_SENTINEL_USERNAME`, `REDIS_SENTINEL_PASSWORD`. The data nodes use those of
   * `redisUrl`. The password never appears in logs, errors or `status()`.
   */
  username?: string;
  password?: string;
}

/** Redis Cluster: a few of its nodes; the rest of the topology is discovered from them. */
export interface ClusterOptions {
  nodes: RedisNode[];
}

/** Everything `createCache()` accepts; every field is optional and falls back to the environment, then the seed's default. */
export interface CacheOptions<
  D extends Record<string, DomainConfig> = Record<never, DomainConfig>,
  G extends Record<string, InvalidationGroup> = Record<never, InvalidationGroup>,
> {
  /** `redis://[user:password@]host:port/db` or `rediss://…`. Default `REDIS_URL`, else `redis://127.0.0.1:6379/0`. */
  redisUrl?: string;
  /** TTL of the `default` domain in seconds. Default `REDIS_CACHE_TTL`, else 3600. */
  defaultTtl?: number;
  /** Extra domains, or overrides of the built-in ones: `{ reports: { prefix: 'reports_', ttl: 600 } }`. */
  domains?: D;
  l1?: L1Options;
  /** Longest wait for a TCP (and TLS) connection, in ms. Default 5000 (`REDIS_CONNECT_TIMEOUT_MS`). */
  connectTimeoutMs?: number;
  /** Longest wait for any Redis reply, in ms; an upper bound for `operationTimeoutMs`. Default 5000 (`REDIS_SOCKET_TIMEOUT_MS`). */
  socketTimeoutMs?: number;
  /** Deadline of one cache operation against Redis, in ms; past it the call is a miss or `false`. Default 250 (`CACHE_OPERATION_TIMEOUT_MS`). */
  operationTimeoutMs?: number;
  /** Interval of the PING health check, in ms. Default 30 000 (`REDIS_HEALTH_CHECK_INTERVAL_MS`). */
  healthCheckIntervalMs?: number;
  /** Replace the connection after consecutive timeouts (redis-py's `retry_on_timeout`). Default `true`. */
  retryOnTimeout?: boolean;
  /**
   * Reconnection backoff bounds in ms (exponential with jitter, forever). Default 50 → 500, so that
   * the cache is back within about a second of Redis.
   */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
  /**
   * The circuit breaker in front of Redis. `failureThreshold`: consecutive failed or timed-out
   * operations that open it, default 5 (`CACHE_BREAKER_FAILURE_THRESHOLD`); while open, calls skip
   * Redis at once. `probeIntervalMs`: pause between background probes while open, default 250
   * (`CACHE_BREAKER_PROBE_INTERVAL_MS`); a probe that Redis answers within `operationTimeoutMs`
   * closes it.
   */
  breaker?: { failureThreshold?: number; probeIntervalMs?: number };
  /** Largest serialised value accepted, in bytes; larger values are refused with a log line. Default 1 MiB (`CACHE_MAX_VALUE_BYTES`). */
  maxValueBytes?: number;
  /** How values become Redis text. Default JSON (readable by the original Python service). */
  serializer?: Serializer;
  /**
   * Keeps every process's L1 coherent (README "Coherence"): `'tracking'` (default, `CACHE_COHERENCE`)
   * uses Redis client-side caching invalidations and sees every write, whoever makes it; `'pubsub'`
   * sees writes made through cachette; `'none'` leaves L1 copies to expire after `l1.ttl`. An object
   * sets `mode`, `degradedL1TtlMs` and `channel` too.
   */
  coherence?: CoherenceMode | CoherenceOptions;
  /** A pino-compatible logger. Default: warnings and errors on stderr. */
  logger?: Logger;
  /**
   * Extra Node TLS options for `rediss://` (`ca`, `cert`, `key`, `servername`…); they win over the
   * files named by `REDIS_TLS_CA_FILE`, `REDIS_TLS_CERT_FILE` and `REDIS_TLS_KEY_FILE`.
   */
  tls?: TlsOptions;
  /**
   * Connect through Redis Sentinel (`REDIS_SENTINELS=h1:p1,h2:p2` + `REDIS_SENTINEL_MASTER=name`).
   * `redisUrl` then only gives the scheme (TLS), user, password and database; its host is ignored.
   */
  sentinel?: SentinelOptions;
  /**
   * Connect to a Redis Cluster (`REDIS_CLUSTER_NODES=h1:p1,h2:p2`). `redisUrl` then only gives the
   * scheme (TLS), user and password; its host is ignored and the database must be 0.
   */
  cluster?: ClusterOptions;
  /**
   * The invalidation module's groups: `{ groups: { dashboard: { tags: ['dashboard'], keys: [{ key,
   * dbType }], patterns: [{ pattern, dbType }] } } }` gives `cache.invalidation.invalidateDashboardCache()`.
   */
  invalidation?: InvalidationOptions<G>;
  /** Environment to read instead of `process.env` (tests, embedding). */
  env?: NodeJS.ProcessEnv;
}

/** How Redis is deployed: one server, a Sentinel-managed primary, or a cluster. */
export type Topology =
  | { kind: 'standalone' }
  | { kind: 'sentinel'; sentinels: RedisNode[]; name: string; auth?: { username?: string; password: string } }
  | { kind: 'cluster'; nodes: RedisNode[] };

/** Where Redis is, parsed from the URL. `password` never leaves this object. */
export interface RedisTarget {
  tls: boolean;
  host: string;
  port: number;
  db: number;
  username: string | undefined;
  password: string | undefined;
  /** The URL with the password replaced by `***`, safe for logs and errors. */
  safeUrl: string;
}

/** The fully resolved configuration; everything downstream trusts it. */
export interface ResolvedConfig {
  redis: RedisTarget;
  topology: Topology;
  tlsOptions: TlsOptions | undefined;
  domains: Record<string, DomainConfig>;
  l1: Required<L1Options>;
  connectTimeoutMs: number;
  socketTimeoutMs: number;
  operationTimeoutMs: number;
  healthCheckIntervalMs: number;
  retryOnTimeout: boolean;
  reconnect: { minDelayMs: number; maxDelayMs: number };
  breaker: BreakerSettings;
  maxValueBytes: number;
  serializer: Serializer;
  logger: Logger;
  coherence: Required<CoherenceOptions>;
  /** Set by `createCache()` when coherence is on: what each command connection must do before it is ready. */
  connectionHooks?: ConnectionHooks;
  invalidationGroups: Record<string, ResolvedGroup>;
  /** Set by `createCache()` on a cluster with coherence on: the hooks of each primary (at `host:port`). */
  nodeHooks?: (address: string) => NodeConnectionHooks;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0';

/** Replaces the password of a Redis URL with `***`; returns a placeholder if the text is not a URL. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable URL>';
  }
}

/** Parses a Redis URL; throws `CacheConfigError` naming `source` and never echoing the password. */
export function parseRedisUrl(url: string, source = 'REDIS_URL'): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CacheConfigError(
      `${source} is not a valid URL (${redactUrl(url)}); expected redis://[user:password@]host:port/db`,
    );
  }
  const safeUrl = redactUrl(url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new CacheConfigError(`${source} must start with redis:// or rediss://, got ${safeUrl}`);
  }
  if (!parsed.hostname) throw new CacheConfigError(`${source} has no host: ${safeUrl}`);
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path)) {
    throw new CacheConfigError(`${source} database must be a number (redis://host:port/0), got ${safeUrl}`);
  }
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    tls: parsed.protocol === 'rediss:',
    host: hostname,
    port,
    db: path === '' ? 0 : Number(path),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    safeUrl,
  };
}

/** The environment variables naming TLS files, and the Node TLS option each one fills. */
const TLS_FILES = [
  ['REDIS_TLS_CA_FILE', 'ca'],
  ['REDIS_TLS_CERT_FILE', 'cert'],
  ['REDIS_TLS_KEY_FILE', 'key'],
] as const;

/**
 * The TLS options: the PEM files named in the environment, read once here, overridden by the `tls`
 * option. `undefined` when neither is set. A file that cannot be read is a `CacheConfigError`
 * naming the variable and the path (a path is not a secret; the file's content never appears).
 */
function resolveTls(option: TlsOptions | undefined, env: NodeJS.ProcessEnv): TlsOptions | undefined {
  const fromFiles: TlsOptions = {};
  for (const [envName, field] of TLS_FILES) {
    const path = env[envName]?.trim();
    if (!path) continue;
    try {
      fromFiles[field] = readFileSync(path);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new CacheConfigError(`${envName} names a file that cannot be read (${path}: ${reason})`);
    }
  }
  const tls = { ...fromFiles, ...option };
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new CacheConfigError(
      'a TLS client certificate needs both a certificate and its key (REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE, or tls.cert and tls.key)',
    );
  }
  return Object.keys(tls).length > 0 ? tls : undefined;
}

/** Parses `h1:p1,h2:p2` (IPv6 as `[::1]:p`) into nodes; throws `CacheConfigError` naming `source`. */
export function parseNodeList(text: string, source: string): RedisNode[] {
  const nodes = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(part);
      const port = Number(match?.[3]);
      if (!match || port < 1 || port > 65535) {
        throw new CacheConfigError(
          `${source} must list host:port pairs separated by commas, got ${JSON.stringify(part)}`,
        );
      }
      return { host: (match[1] ?? match[2])!, port };
    });
  if (nodes.length === 0) throw new CacheConfigError(`${source} lists no host:port`);
  return nodes;
}

function checkNodes(nodes: unknown, source: string): RedisNode[] {
  const valid =
    Array.isArray(nodes) &&
    nodes.length > 0 &&
    nodes.every(
      (n) =>
        typeof n?.host === 'string' &&
        n.host !== '' &&
        Number.isInteger(n.port) &&
        n.port > 0 &&
        n.port < 65536,
    );
  if (!valid) throw new CacheConfigError(`${source} must be a non-empty array of { host, port }`);
  return (nodes as RedisNode[]).map(({ host, port }) => ({ host, port }));
}

/** The Sentinels' credentials, checked: a username needs a password; neither may be an empty or non-string value. */
function sentinelAuth(
  username: unknown,
  password: unknown,
  usernameSource: string,
  passwordSource: string,
): { auth?: { username?: string; password: string } } {
  if (username !== undefined && (typeof username !== 'string' || username === '')) {
    throw new CacheConfigError(`${usernameSource} must be a non-empty string`);
  }
  if (password === undefined) {
    if (username !== undefined)
      throw new CacheConfigError(`${usernameSource} is set but ${passwordSource} is not`);
    return {};
  }
  // the value is never echoed: it is a secret
  if (typeof password !== 'string' || password === '') {
    throw new CacheConfigError(`${passwordSource} must be a non-empty string`);
  }
  return { auth: username === undefined ? { password } : { username, password } };
}

/** Sentinel or cluster from the options, else from the environment; standalone when neither is set. */
function resolveTopology(
  options: CacheOptions<Record<string, DomainConfig>>,
  env: NodeJS.ProcessEnv,
): Topology {
  let sentinel: Topology | undefined;
  let cluster: Topology | undefined;
  if (options.sentinel) {
    const { name } = options.sentinel;
    if (typeof name !== 'string' || name === '') {
      throw new CacheConfigError('sentinel.name must be the name the Sentinels monitor the primary under');
    }
    sentinel = {
      kind: 'sentinel',
      sentinels: checkNodes(options.sentinel.sentinels, 'sentinel.sentinels'),
      name,
      ...sentinelAuth(
        options.sentinel.username,
        options.sentinel.password,
        'sentinel.username',
        'sentinel.password',
      ),
    };
  } else if (!options.cluster && env.REDIS_SENTINELS?.trim()) {
    const name = env.REDIS_SENTINEL_MASTER?.trim();
    if (!name)
      throw new CacheConfigError(
        'REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER (the primary name) is not',
      );
    sentinel = {
      kind: 'sentinel',
      sentinels: parseNodeList(env.REDIS_SENTINELS, 'REDIS_SENTINELS'),
      name,
      ...sentinelAuth(
        env.REDIS_SENTINEL_USERNAME || undefined,
        env.REDIS_SENTINEL_PASSWORD || undefined,
        'REDIS_SENTINEL_USERNAME',
        'REDIS_SENTINEL_PASSWORD',
      ),
    };
  }
  if (options.cluster) {
    cluster = { kind: 'cluster', nodes: checkNodes(options.cluster.nodes, 'cluster.nodes') };
  } else if (!options.sentinel && env.REDIS_CLUSTER_NODES?.trim()) {
    cluster = { kind: 'cluster', nodes: parseNodeList(env.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES') };
  }
  if (sentinel && cluster) {
    throw new CacheConfigError(
      'choose Sentinel or Cluster, not both (sentinel/REDIS_SENTINELS and cluster/REDIS_CLUSTER_NODES)',
    );
  }
  return sentinel ?? cluster ?? { kind: 'standalone' };
}

/** How the deployment appears in logs and `status()`: the nodes to start from, credentials redacted. */
function describeTopology(topology: Topology, redis: RedisTarget): string {
  if (topology.kind === 'standalone') return redis.safeUrl;
  const scheme = redis.tls ? 'rediss' : 'redis';
  const user =
    redis.username || redis.password ? `${redis.username ?? ''}${redis.password ? ':***' : ''}@` : '';
  const list = (nodes: RedisNode[]) =>
    nodes.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',');
  return topology.kind === 'sentinel'
    ? `${scheme}+sentinel://${user}${list(topology.sentinels)}/${topology.name}/${redis.db}`
    : `${scheme}+cluster://${user}${list(topology.nodes)}`;
}

type NumberRule = { min: number; integer?: boolean };

function pickNumber(
  optionValue: number | undefined,
  env: NodeJS.ProcessEnv,
  envName: string | undefined,
  optionName: string,
  fallback: number,
  rule: NumberRule,
): number {
  let value = optionValue;
  let source = `option ${optionName}`;
  if (value === undefined && envName !== undefined) {
    const raw = env[envName];
    if (raw !== undefined && raw.trim() !== '') {
      value = Number(raw);
      source = `environment variable ${envName}`;
      if (!Number.isFinite(value)) {
        throw new CacheConfigError(`${envName} must be a number, got ${JSON.stringify(raw)}`);
      }
    }
  }
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < rule.min) {
    throw new CacheConfigError(`${source} must be a number >= ${rule.min}, got ${String(value)}`);
  }
  if (rule.integer && !Number.isInteger(value)) {
    throw new CacheConfigError(`${source} must be an integer, got ${value}`);
  }
  return value;
}

const TTL: NumberRule = { min: 1, integer: true };
const POSITIVE_INT: NumberRule = { min: 1, integer: true };

function resolveDomains(
  extra: Record<string, DomainConfig> | undefined,
  defaultTtl: number,
): Record<string, DomainConfig> {
  const domains: Record<string, DomainConfig> = {
    ...BUILTIN_DOMAINS,
    default: { prefix: 'default_', ttl: defaultTtl },
  };
  for (const [name, domain] of Object.entries(extra ?? {})) {
    if (!domain || typeof domain.prefix !== 'string') {
      throw new CacheConfigError(`domains.${name}.prefix must be a string such as '${name}_'`);
    }
    if (/[\x00-\x1f\x7f]/.test(domain.prefix)) {
      throw new CacheConfigError(`domains.${name}.prefix must not contain control characters`);
    }
    pickNumber(domain.ttl, {}, undefined, `domains.${name}.ttl`, 0, TTL);
    domains[name] = { prefix: domain.prefix, ttl: domain.ttl };
  }
  const byPrefix = new Map<string, string>();
  for (const [name, { prefix }] of Object.entries(domains)) {
    const other = byPrefix.get(prefix);
    if (other !== undefined) {
      throw new CacheConfigError(
        `domains ${other} and ${name} share the prefix '${prefix}'; give each its own`,
      );
    }
    byPrefix.set(prefix, name);
  }
  return domains;
}

/** Resolves options + environment into a complete configuration; throws `CacheConfigError` on bad input. */
export function resolveConfig(
  options: CacheOptions<Record<string, DomainConfig>, Record<string, InvalidationGroup>> = {},
): ResolvedConfig {
  const env = options.env ?? process.env;
  const url = options.redisUrl ?? (env.REDIS_URL?.trim() || DEFAULT_REDIS_URL);
  const redis = parseRedisUrl(url, options.redisUrl === undefined ? 'REDIS_URL' : 'option redisUrl');
  const defaultTtl = pickNumber(options.defaultTtl, env, 'REDIS_CACHE_TTL', 'defaultTtl', 3600, TTL);
  const socketTimeoutMs = pickNumber(
    options.socketTimeoutMs,
    env,
    'REDIS_SOCKET_TIMEOUT_MS',
    'socketTimeoutMs',
    5000,
    POSITIVE_INT,
  );
  const operationTimeoutMs = Math.min(
    socketTimeoutMs,
    pickNumber(
      options.operationTimeoutMs,
      env,
      'CACHE_OPERATION_TIMEOUT_MS',
      'operationTimeoutMs',
      250,
      POSITIVE_INT,
    ),
  );
  const l1 = options.l1 ?? {};
  const minDelayMs = pickNumber(
    options.reconnect?.minDelayMs,
    env,
    undefined,
    'reconnect.minDelayMs',
    50,
    POSITIVE_INT,
  );
  const maxDelayMs = pickNumber(
    options.reconnect?.maxDelayMs,
    env,
    undefined,
    'reconnect.maxDelayMs',
    500,
    POSITIVE_INT,
  );
  const tlsOptions = resolveTls(options.tls, env);
  const tlsFromEnv = TLS_FILES.find(([envName]) => env[envName]?.trim())?.[0];
  const topology = resolveTopology(options, env);
  if (topology.kind !== 'standalone') {
    // the URL's host is not used: TLS is on when the URL says rediss:// or TLS material is given
    redis.tls ||= tlsOptions !== undefined;
    if (topology.kind === 'cluster' && redis.db !== 0) {
      throw new CacheConfigError(`Redis Cluster has only database 0; the Redis URL names ${redis.db}`);
    }
    redis.safeUrl = describeTopology(topology, redis);
  } else if (tlsFromEnv && !redis.tls) {
    // a CA file silently ignored would mean an unencrypted connection the operator believes is TLS
    throw new CacheConfigError(
      `${tlsFromEnv} is set but the Redis URL is ${redis.safeUrl}; use rediss:// to connect with TLS`,
    );
  }
  const domains = resolveDomains(options.domains, defaultTtl);
  return {
    redis,
    topology,
    tlsOptions,
    domains,
    l1: {
      enabled: l1.enabled ?? env.CACHE_L1_DISABLED !== '1',
      ttl: pickNumber(l1.ttl, env, 'CACHE_L1_TTL', 'l1.ttl', 5, { min: 0 }),
      maxEntries: pickNumber(
        l1.maxEntries,
        env,
        'CACHE_L1_MAX_ENTRIES',
        'l1.maxEntries',
        10_000,
        POSITIVE_INT,
      ),
      maxBytes: pickNumber(
        l1.maxBytes,
        env,
        'CACHE_L1_MAX_BYTES',
        'l1.maxBytes',
        64 * 1024 * 1024,
        POSITIVE_INT,
      ),
      clone: l1.clone ?? false,
    },
    connectTimeoutMs: pickNumber(
      options.connectTimeoutMs,
      env,
      'REDIS_CONNECT_TIMEOUT_MS',
      'connectTimeoutMs',
      5000,
      POSITIVE_INT,
    ),
    socketTimeoutMs,
    operationTimeoutMs,
    healthCheckIntervalMs: pickNumber(
      options.healthCheckIntervalMs,
      env,
      'REDIS_HEALTH_CHECK_INTERVAL_MS',
      'healthCheckIntervalMs',
      30_000,
      POSITIVE_INT,
    ),
    retryOnTimeout: options.retryOnTimeout ?? true,
    reconnect: { minDelayMs, maxDelayMs: Math.max(minDelayMs, maxDelayMs) },
    breaker: {
      failureThreshold: pickNumber(
        options.breaker?.failureThreshold,
        env,
        'CACHE_BREAKER_FAILURE_THRESHOLD',
        'breaker.failureThreshold',
        5,
        POSITIVE_INT,
      ),
      probeIntervalMs: pickNumber(
        options.breaker?.probeIntervalMs,
        env,
        'CACHE_BREAKER_PROBE_INTERVAL_MS',
        'breaker.probeIntervalMs',
        250,
        POSITIVE_INT,
      ),
    },
    maxValueBytes: pickNumber(
      options.maxValueBytes,
      env,
      'CACHE_MAX_VALUE_BYTES',
      'maxValueBytes',
      1024 * 1024,
      POSITIVE_INT,
    ),
    serializer: options.serializer ?? jsonSerializer,
    logger: options.logger ?? defaultLogger,
    invalidationGroups: resolveGroups(options.invalidation?.groups, domains),
    coherence: resolveCoherence(options.coherence, env),
  };
}

const COHERENCE_MODES: readonly CoherenceMode[] = ['tracking', 'pubsub', 'none'];

function resolveCoherence(
  option: CoherenceMode | CoherenceOptions | undefined,
  env: NodeJS.ProcessEnv,
): Required<CoherenceOptions> {
  const options = typeof option === 'string' ? { mode: option } : (option ?? {});
  if (typeof options !== 'object') {
    throw new CacheConfigError(`option coherence must be 'tracking', 'pubsub', 'none' or an object`);
  }
  const fromEnv = env.CACHE_COHERENCE?.trim();
  const mode = options.mode ?? (fromEnv || 'tracking');
  if (!COHERENCE_MODES.includes(mode as CoherenceMode)) {
    const source = options.mode === undefined ? 'CACHE_COHERENCE' : 'option coherence';
    throw new CacheConfigError(
      `${source} must be 'tracking', 'pubsub' or 'none', got ${JSON.stringify(String(mode))}`,
    );
  }
  const channel = options.channel ?? '__cachette:invalidate';
  if (typeof channel !== 'string' || !/^[\x21-\x7e]+$/.test(channel)) {
    throw new CacheConfigError('coherence.channel must be a non-empty channel name without spaces');
  }
  return {
    mode: mode as CoherenceMode,
    degradedL1TtlMs: pickNumber(
      options.degradedL1TtlMs,
      env,
      'CACHE_COHERENCE_DEGRADED_L1_TTL_MS',
      'coherence.degradedL1TtlMs',
      1000,
      POSITIVE_INT,
    ),
    channel,
  };
}

export type { BuiltinDomain, DomainConfig };
