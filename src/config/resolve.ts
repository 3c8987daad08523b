import { CacheConfigError } from '../errors.js';
import { defaultLogger } from '../logger.js';
import { INTERNAL_NAMESPACE } from '../values/keys.js';
import { jsonSerializer } from '../values/serializer.js';
import { checkJitter, checkKeyPrefix, type DomainOptions, resolveDomains } from './domains.js';
import { type InvalidationGroup, resolveGroups } from './invalidation-groups.js';
import { MS, POSITIVE_INT, pickNumber, TTL } from './numbers.js';
import type { CacheOptions, CoherenceMode, CoherenceOptions, ResolvedConfig } from './options.js';
import {
  DEFAULT_REDIS_URL,
  describeTopology,
  parseRedisUrl,
  resolveTls,
  resolveTopology,
  TLS_FILES,
} from './redis-target.js';

/** Resolves options + environment into a complete configuration; throws `CacheConfigError` on bad input. */
export function resolveConfig(
  options: CacheOptions<Record<string, DomainOptions>, Record<string, InvalidationGroup>> = {},
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
    MS,
  );
  const operationTimeoutMs = Math.min(
    socketTimeoutMs,
    pickNumber(options.operationTimeoutMs, env, 'CACHE_OPERATION_TIMEOUT_MS', 'operationTimeoutMs', 250, MS),
  );
  const l1 = options.l1 ?? {};
  const minDelayMs = pickNumber(
    options.reconnect?.minDelayMs,
    env,
    undefined,
    'reconnect.minDelayMs',
    50,
    MS,
  );
  const maxDelayMs = pickNumber(
    options.reconnect?.maxDelayMs,
    env,
    undefined,
    'reconnect.maxDelayMs',
    500,
    MS,
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
  const keyPrefix =
    options.keyPrefix !== undefined
      ? checkKeyPrefix(options.keyPrefix, 'option keyPrefix')
      : checkKeyPrefix(env.CACHE_KEY_PREFIX ?? '', 'environment variable CACHE_KEY_PREFIX');
  const builtin = options.builtinDomains ?? true;
  if (typeof builtin !== 'boolean') throw new CacheConfigError('option builtinDomains must be true or false');
  const domains = resolveDomains(options.domains, { builtin, defaultTtl, keyPrefix });
  const rawJitter = options.ttlJitter ?? (env.CACHE_TTL_JITTER?.trim() || undefined);
  return {
    keyPrefix,
    ttlJitter:
      rawJitter === undefined
        ? 0
        : checkJitter(
            rawJitter,
            options.ttlJitter === undefined ? 'environment variable CACHE_TTL_JITTER' : 'option ttlJitter',
          ),
    redis,
    topology,
    tlsOptions,
    domains,
    l1: {
      enabled: l1.enabled ?? env.CACHE_L1_DISABLED !== '1',
      ttl: pickNumber(l1.ttl, env, 'CACHE_L1_TTL', 'l1.ttl', 5, { min: 0, unit: 's' }),
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
      MS,
    ),
    socketTimeoutMs,
    operationTimeoutMs,
    healthCheckIntervalMs: pickNumber(
      options.healthCheckIntervalMs,
      env,
      'REDIS_HEALTH_CHECK_INTERVAL_MS',
      'healthCheckIntervalMs',
      30_000,
      MS,
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
        MS,
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
    maxPending: pickNumber(options.maxPending, env, 'CACHE_MAX_PENDING', 'maxPending', 10_000, POSITIVE_INT),
    serializer: options.serializer ?? jsonSerializer,
    logger: options.logger ?? defaultLogger,
    invalidationGroups: resolveGroups(options.invalidation?.groups, domains),
    coherence: resolveCoherence(options.coherence, env, keyPrefix),
  };
}

const COHERENCE_MODES: readonly CoherenceMode[] = ['tracking', 'pubsub', 'none'];

function resolveCoherence(
  option: CoherenceMode | CoherenceOptions | undefined,
  env: NodeJS.ProcessEnv,
  keyPrefix: string,
): ResolvedConfig['coherence'] {
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
  const { channel = `${keyPrefix}${INTERNAL_NAMESPACE}invalidate` } = options;
  // the default follows the key prefix: apps with different prefixes announce on channels of their own
  if (options.channel !== undefined && (typeof channel !== 'string' || !/^[\x21-\x7e]+$/.test(channel))) {
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
      MS,
    ),
    channel,
  };
}
