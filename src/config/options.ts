import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { Logger } from '../logger.js';
import type { Duration } from '../values/durations.js';
import type { Serializer } from '../values/serializer.js';
import type { DomainConfig, DomainOptions } from './domains.js';
import type { InvalidationGroup, InvalidationOptions, ResolvedGroup } from './invalidation-groups.js';

/**
 * The options `createCache()` takes, and the complete configuration they resolve into (resolve.ts):
 * data only. Runtime behaviour (coherence's connection hooks) is handed to the drivers' constructors.
 */

/** The circuit breaker's settings (l2/redis/breaker.ts). */
export interface BreakerSettings {
  /** Consecutive failed or timed-out L2 operations that open the breaker. */
  failureThreshold: number;
  /** While open, the pause between two probes, in ms. */
  probeIntervalMs: number;
}

/** L1 (in-process memory tier) options. */
export interface L1Options {
  /** Turn the memory tier off entirely (every read goes to Redis). Default `true` (on). */
  enabled?: boolean;
  /** L1 time to live in seconds (or a string such as `'500ms'`), capped by the value's remaining Redis TTL. Default 5 (`CACHE_L1_TTL`). */
  ttl?: Duration;
  /** Most entries kept. Default 10 000 (`CACHE_L1_MAX_ENTRIES`). */
  maxEntries?: number;
  /** Most bytes kept, counted as the JSON text length of each value. Default 64 MiB (`CACHE_L1_MAX_BYTES`). */
  maxBytes?: number;
  /** Return a structured clone on every L1 hit instead of the shared object. Default `false`. */
  clone?: boolean;
}

/** How the L1 copies of the processes sharing a Redis are kept coherent (docs/coherence.md). */
export type CoherenceMode = 'tracking' | 'pubsub' | 'none';

/** Coherence options; every field is optional. */
export interface CoherenceOptions {
  /** Default `'tracking'` (`CACHE_COHERENCE`). */
  mode?: CoherenceMode;
  /** Longest L1 TTL while the invalidation connection is down, in ms. Default 1000 (`CACHE_COHERENCE_DEGRADED_L1_TTL_MS`). */
  degradedL1TtlMs?: Duration;
  /** The pub/sub channel of `'pubsub'` coherence, used as given. Default `<keyPrefix>__cachette:invalidate`. */
  channel?: string;
}

/** A Redis server (or Sentinel) address. */
export interface RedisNode {
  /** Host name or IP address. */
  host: string;
  /** TCP port. */
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
  /** See `username`. */
  password?: string;
}

/** Redis Cluster: a few of its nodes; the rest of the topology is discovered from them. */
export interface ClusterOptions {
  /** Some nodes of the cluster, primaries or replicas; the slot map is read from them. */
  nodes: RedisNode[];
}

/** Everything `createCache()` accepts; every field is optional and falls back to the environment, then the documented default. */
export interface CacheOptions<
  D extends Record<string, DomainOptions> = Record<never, DomainOptions>,
  G extends Record<string, InvalidationGroup> = Record<never, InvalidationGroup>,
> {
  /** `redis://[user:password@]host:port/db` or `rediss://…`. Default `REDIS_URL`, else `redis://127.0.0.1:6379/0`. */
  redisUrl?: string;
  /**
   * In front of every Redis key cachette reads or writes, its own included (leases, tag indexes,
   * claims, the pub/sub channel): two applications with different prefixes share a Redis without
   * seeing each other's keys. Default `CACHE_KEY_PREFIX`, else `''` (keys are `domain prefix + key`).
   */
  keyPrefix?: string;
  /** TTL of the `default` domain (and of your domains without one): seconds or a string such as `'1h'`. Default `REDIS_CACHE_TTL`, else 3600. */
  defaultTtl?: Duration;
  /** Extra domains, or overrides of the built-in ones: `{ reports: { prefix: 'reports_', ttl: '10m' } }`. */
  domains?: D;
  /**
   * Whether the Products Manager's six domains (`catalog`, `media`, `imports`, `code2asin`,
   * `analytics`, `default`) are configured. Default `true`; `false` keeps only `domains`.
   */
  builtinDomains?: boolean;
  /**
   * Spreads the expiries of keys written together: each write's TTL is shortened by a random part
   * of up to this fraction (0.1: a 1 h TTL becomes 54 to 60 min), so that they do not all expire,
   * and reload, at once. Default 0 (`CACHE_TTL_JITTER`); a domain or a call may set its own.
   */
  ttlJitter?: number;
  /** The memory tier (L1): TTL, bounds, copies on read; see `L1Options`. */
  l1?: L1Options;
  /** Longest wait for a TCP (and TLS) connection, in ms (or a string such as `'5s'`). Default 5000 (`REDIS_CONNECT_TIMEOUT_MS`). */
  connectTimeoutMs?: Duration;
  /** Longest wait for any Redis reply, in ms; an upper bound for `operationTimeoutMs`. Default 5000 (`REDIS_SOCKET_TIMEOUT_MS`). */
  socketTimeoutMs?: Duration;
  /** Deadline of one cache operation against Redis, in ms; past it the call is a miss or `false`. Default 250 (`CACHE_OPERATION_TIMEOUT_MS`). */
  operationTimeoutMs?: Duration;
  /** Interval of the PING health check, in ms. Default 30 000 (`REDIS_HEALTH_CHECK_INTERVAL_MS`). */
  healthCheckIntervalMs?: Duration;
  /** Replace the connection after consecutive timeouts (redis-py's `retry_on_timeout`). Default `true`. */
  retryOnTimeout?: boolean;
  /**
   * Reconnection backoff bounds in ms (exponential with jitter, forever). Default 50 → 500, so that
   * the cache is back within about a second of Redis.
   */
  reconnect?: {
    /** First pause before reconnecting, in ms (or a duration string). */
    minDelayMs?: Duration;
    /** Longest pause between two attempts, in ms (or a duration string). */
    maxDelayMs?: Duration;
  };
  /**
   * The circuit breaker in front of Redis. `failureThreshold`: consecutive failed or timed-out
   * operations that open it, default 5 (`CACHE_BREAKER_FAILURE_THRESHOLD`); while open, calls skip
   * Redis at once. `probeIntervalMs`: pause between background probes while open, default 250
   * (`CACHE_BREAKER_PROBE_INTERVAL_MS`); a probe that Redis answers within `operationTimeoutMs`
   * closes it.
   */
  breaker?: {
    /** Consecutive failed or timed-out operations that open the breaker. */
    failureThreshold?: number;
    /** Pause between two probes while the breaker is open, in ms (or a duration string). */
    probeIntervalMs?: Duration;
  };
  /** Largest serialised value accepted, in bytes; larger values are refused with a log line. Default 1 MiB (`CACHE_MAX_VALUE_BYTES`). */
  maxValueBytes?: number;
  /**
   * Most pending deletes kept while Redis does not answer (write-side calls that failed, made good
   * when it answers again); past it they widen: a domain's keys to one delete of the whole domain,
   * then one flush of the app's keys. Default 10 000 (`CACHE_MAX_PENDING`).
   */
  maxPending?: number;
  /** How values become Redis text. Default JSON (readable by the original Python service). */
  serializer?: Serializer;
  /**
   * Keeps every process's L1 coherent (docs/coherence.md): `'tracking'` (default, `CACHE_COHERENCE`)
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
  /** `rediss://`: TLS. */
  tls: boolean;
  /** Host name or IP address. */
  host: string;
  /** TCP port (default 6379). */
  port: number;
  /** Database number (default 0). */
  db: number;
  /** ACL user, if the URL names one. */
  username: string | undefined;
  /** The password, decoded; never logged. */
  password: string | undefined;
  /** The URL with the password replaced by `***`, safe for logs and errors. */
  safeUrl: string;
}

/** L1 options resolved: every field set, the TTL in seconds. */
export type ResolvedL1 = Required<Omit<L1Options, 'ttl'>> & { ttl: number };

/** The fully resolved configuration; everything downstream trusts it. */
export interface ResolvedConfig {
  /** The app's key prefix, in front of every Redis key (domain prefixes below include it). */
  keyPrefix: string;
  /** The cache-wide `ttlJitter` (0: none). */
  ttlJitter: number;
  redis: RedisTarget;
  topology: Topology;
  tlsOptions: TlsOptions | undefined;
  domains: Record<string, DomainConfig>;
  l1: ResolvedL1;
  connectTimeoutMs: number;
  socketTimeoutMs: number;
  operationTimeoutMs: number;
  healthCheckIntervalMs: number;
  retryOnTimeout: boolean;
  reconnect: { minDelayMs: number; maxDelayMs: number };
  breaker: BreakerSettings;
  maxValueBytes: number;
  maxPending: number;
  serializer: Serializer;
  logger: Logger;
  coherence: { mode: CoherenceMode; degradedL1TtlMs: number; channel: string };
  invalidationGroups: Record<string, ResolvedGroup>;
}
