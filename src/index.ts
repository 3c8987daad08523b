import { Cache } from './cache.js';
import { createCoherence } from './coherence/create.js';
import type { BuiltinDomain, DomainOptions } from './config/domains.js';
import type { InvalidationGroup } from './config/invalidation-groups.js';
import type { CacheOptions } from './config/options.js';
import { resolveConfig } from './config/resolve.js';
import { CacheConfigError } from './errors.js';
import type { Invalidator } from './invalidation/invalidator.js';
import { createL2Driver } from './l2/redis/topology.js';

/**
 * The `dbType` names of a cache: its own domains `X`, and the built-in ones unless `builtinDomains`
 * is `false` (`B`).
 */
export type DomainNames<X, B extends boolean = boolean> =
  | (B extends false ? never : BuiltinDomain)
  | Extract<keyof X, string>;

/**
 * Creates a two-level cache from options, then the environment (`REDIS_URL`, `REDIS_CACHE_TTL`, …),
 * then the documented defaults. Throws `CacheConfigError` for bad configuration; connects in the
 * background (calls made meanwhile wait for the first attempt, bounded by the connect timeout).
 */
export function createCache<
  X extends Record<string, DomainOptions> = Record<never, DomainOptions>,
  G extends Record<string, InvalidationGroup> = Record<never, InvalidationGroup>,
  B extends boolean = boolean,
>(
  options: CacheOptions<X, G> & { builtinDomains?: B } = {},
): Cache<DomainNames<X, B>, Extract<keyof G, string>> {
  const config = resolveConfig(options);
  const coherence = createCoherence(config);
  const l2 = createL2Driver(config, coherence?.hooksFor);
  return new Cache(config, l2, coherence);
}

/**
 * An invalidator over `cache` with its own `groups` (validated like the `invalidation.groups`
 * option; throws `CacheConfigError`). `cache.invalidation` is the one built from the cache's options.
 */
export function createInvalidator<
  D extends string,
  G extends Record<string, InvalidationGroup<NoInfer<D>>> = Record<never, InvalidationGroup>,
>(cache: Cache<D>, groups?: G): Invalidator<D, Extract<keyof G, string>> {
  if (!(cache instanceof Cache))
    throw new CacheConfigError('createInvalidator needs a cache made by createCache()');
  return cache.invalidator<Extract<keyof G, string>>(
    groups as Record<Extract<keyof G, string>, InvalidationGroup<D>>,
  );
}

export { Cache } from './cache.js';
export type { CoherenceStatus } from './coherence/l1-coherence.js';
export type { BuiltinDomain, DomainConfig, DomainOptions } from './config/domains.js';
export { BUILTIN_DOMAINS } from './config/domains.js';
export type {
  GroupKey,
  GroupPattern,
  InvalidationGroup,
  InvalidationOptions,
} from './config/invalidation-groups.js';
export type {
  CacheOptions,
  ClusterOptions,
  CoherenceMode,
  CoherenceOptions,
  L1Options,
  RedisNode,
  RedisTarget,
  SentinelOptions,
} from './config/options.js';
export { DEFAULT_REDIS_URL, parseRedisUrl, redactUrl } from './config/redis-target.js';
export type { CallOptions, GetOrSetOptions, SetEntry, SetOptions } from './domains/domain-cache.js';
export { DomainCache } from './domains/domain-cache.js';
export type { DomainStats } from './domains/stats.js';
export {
  CacheConfigError,
  CacheError,
  CacheKeyError,
  CacheValueError,
  ConfirmationRequiredError,
  FactoryTimeoutError,
} from './errors.js';
export type {
  BatchFactory,
  BatchFactoryContext,
  Factory,
  FactoryContext,
} from './get-set/factory-context.js';
export type { LoadingStats, LoadOptions, LockOptions } from './get-set/plan.js';
export type {
  FlushApp,
  FlushDatabase,
  FlushOptions,
  GroupFunctionName,
  InvalidationFunctions,
  Invalidator,
  NamedInvalidations,
} from './invalidation/invalidator.js';
export type { BreakerState, L2State, PendingStatus } from './l2/driver.js';
export type { KeyCensus, KeyListOptions, KeyPage, ListedKey, ServerInfo } from './l2/inspect.js';
export type { L2Observer, L2Operation } from './l2/observed.js';
export type { LogFn, Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { CacheStats, CacheStatus, L1Status } from './status.js';
export type {
  DeleteTrace,
  GetOrSetTrace,
  GetTrace,
  InvalidateTrace,
  SetTrace,
  TraceContext,
  TraceOutcome,
} from './tracing/channels.js';
export { CHANNEL_NAMES } from './tracing/channels.js';
export type { Duration, DurationUnit } from './values/durations.js';
export { escapeGlob } from './values/keys.js';
export type { Serializer } from './values/serializer.js';
export { jsonSerializer } from './values/serializer.js';
export { MAX_TAG_LENGTH, MAX_TAGS } from './values/tags.js';
export type {
  WarmingCache,
  WarmingCriticality,
  WarmingMetrics,
  WarmingOptions,
  WarmingReport,
  WarmingSource,
  WarmingTask,
  WarmingTaskFn,
  WarmingTaskMetrics,
} from './warming/warming.js';
export { CacheWarmingService } from './warming/warming.js';
