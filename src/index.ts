import { Cache } from './cache.js';
import { ClusterCoherence } from './coherence/cluster-coherence.js';
import { createCoherence } from './coherence/coherence.js';
import type { BuiltinDomain, DomainConfig } from './config/domains.js';
import { type CacheOptions, resolveConfig } from './config/resolve.js';
import type { InvalidationGroup } from './invalidation/invalidator.js';
import { createL2Driver } from './l2/redis/topology.js';

/**
 * Creates a two-level cache from options, then the environment (`REDIS_URL`, `REDIS_CACHE_TTL`, …),
 * then the seed's defaults. Throws `CacheConfigError` for bad configuration; connects in the
 * background (calls made meanwhile wait for the first attempt, bounded by the connect timeout).
 */
export function createCache<
  X extends Record<string, DomainConfig> = Record<never, DomainConfig>,
  G extends Record<string, InvalidationGroup> = Record<never, InvalidationGroup>,
>(
  options: CacheOptions<X, G> = {},
): Cache<BuiltinDomain | Extract<keyof X, string>, Extract<keyof G, string>> {
  const config = resolveConfig(options);
  const coherence = createCoherence(config);
  const hooks =
    coherence instanceof ClusterCoherence ? { nodeHooks: coherence.forNode } : { connectionHooks: coherence };
  const l2 = createL2Driver(coherence ? { ...config, ...hooks } : config);
  return new Cache(config, l2, coherence);
}

export type { CacheStats, CacheStatus, CallOptions, GetOrSetOptions, SetEntry, SetOptions } from './cache.js';
export { Cache, DomainCache } from './cache.js';
export type { CoherenceStatus } from './coherence/coherence.js';
export type { BuiltinDomain, DomainConfig } from './config/domains.js';
export { BUILTIN_DOMAINS } from './config/domains.js';
export type {
  CacheOptions,
  ClusterOptions,
  CoherenceMode,
  CoherenceOptions,
  L1Options,
  RedisNode,
  SentinelOptions,
} from './config/resolve.js';
export { DEFAULT_REDIS_URL, parseRedisUrl, redactUrl } from './config/resolve.js';
export {
  CacheConfigError,
  CacheError,
  CacheKeyError,
  CacheValueError,
  ConfirmationRequiredError,
  FactoryTimeoutError,
} from './errors.js';
export type { BatchFactory, Factory, LoadingStats, LoadOptions, LockOptions } from './get-set/loader.js';
export type {
  FlushOptions,
  GroupFunctionName,
  InvalidationFunctions,
  InvalidationGroup,
  InvalidationOptions,
  Invalidator,
  NamedInvalidations,
} from './invalidation/invalidator.js';
export { createInvalidator } from './invalidation/invalidator.js';
export { MAX_TAG_LENGTH, MAX_TAGS } from './invalidation/tags.js';
export type { KeyCensus, KeyListOptions, KeyPage, ListedKey, ServerInfo } from './l2/inspect.js';
export type { L2Observer, L2Operation } from './l2/observed.js';
export type { L2State } from './l2/redis/driver.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { DomainStats } from './stats.js';
export { escapeGlob } from './values/keys.js';
export type { Serializer } from './values/serializer.js';
export { jsonSerializer } from './values/serializer.js';
export type {
  WarmingCache,
  WarmingMetrics,
  WarmingOptions,
  WarmingReport,
  WarmingTask,
  WarmingTaskFn,
  WarmingTaskMetrics,
} from './warming/warming.js';
export { CacheWarmingService } from './warming/warming.js';
