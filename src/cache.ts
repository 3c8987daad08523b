import type { L1Coherence } from './coherence/l1-coherence.js';
import { COHERENCE_OFF } from './coherence/l1-coherence.js';
import { type InvalidationGroup, resolveGroups } from './config/invalidation-groups.js';
import type { ResolvedConfig } from './config/options.js';
import type { CallOptions, GetOrSetOptions, SetEntry, SetOptions } from './domains/domain-cache.js';
import { DomainCache } from './domains/domain-cache.js';
import { type Domain, Domains } from './domains/registry.js';
import { L2Failures, Stats } from './domains/stats.js';
import type { BatchFactory, Factory } from './get-set/factory-context.js';
import { claimPeriod } from './get-set/lease.js';
import { Loader } from './get-set/loader.js';
import { checkLoadOptions } from './get-set/plan.js';
import { Reader } from './get-set/reader.js';
import { type WriteEntry, Writer } from './get-set/writer.js';
import {
  buildInvalidator,
  type FlushOptions,
  type InvalidationParts,
  type Invalidations,
  type Invalidator,
} from './invalidation/invalidator.js';
import { L1 } from './l1/l1.js';
import type { L2Driver } from './l2/driver.js';
import {
  Inspector,
  type KeyCensus,
  type KeyListOptions,
  type KeyPage,
  type ServerInfo,
} from './l2/inspect.js';
import { type L2Observer, ObservedL2 } from './l2/observed.js';
import { withTimeout } from './l2/redis/outcome.js';
import type { CacheStats, CacheStatus } from './status.js';
import {
  type DeleteTrace,
  deleteChannel,
  type GetOrSetTrace,
  type GetTrace,
  getChannel,
  getOrSetChannel,
  type SetTrace,
  setChannel,
  traceCall,
  traced,
  traceLoadMany,
  traceReadMany,
  traceRemoval,
} from './tracing/channels.js';
import { Codec } from './values/codec.js';
import { callDuration, type Duration } from './values/durations.js';
import { assertObjects, assertValidKey, assertValidKeys } from './values/keys.js';

export type { CacheStats, CacheStatus } from './status.js';

/** The longest `close()` waits for the leases of abandoned loads to be given back, in ms. */
const LEASE_RETURN_MS = 250;

/**
 * The two-level cache: L1 in process memory in front of L2 in Redis, with domains, and the
 * fail-safe promise: infrastructure failures become a miss or `false`, never a rejection.
 * Programming errors (bad key, unknown dbType) do reject.
 */
export class Cache<D extends string = string, in G extends string = never> {
  readonly #config: ResolvedConfig;
  readonly #l1: L1;
  readonly #l2: ObservedL2;
  readonly #stats: Stats;
  readonly #domains: Domains;
  readonly #codec: Codec;
  readonly #failures: L2Failures;
  readonly #loader: Loader;
  readonly #coherence: L1Coherence | undefined;
  readonly #parts: InvalidationParts;
  readonly #invalidations: Invalidations;
  readonly #invalidator: Invalidator<D, G>;
  readonly #inspector: Inspector;
  readonly #reader: Reader;
  readonly #writer: Writer;
  #closed = false;

  /** @internal Made by `createCache()`. */
  constructor(config: ResolvedConfig, l2: L2Driver, coherence?: L1Coherence) {
    const log = config.logger;
    this.#config = config;
    this.#l2 = new ObservedL2(l2);
    this.#stats = new Stats(Object.keys(config.domains));
    const prefixes = Object.values(config.domains).map(({ prefix }) => prefix);
    this.#l1 = new L1(config.l1, (text) => config.serializer.deserialize(text), prefixes);
    this.#domains = new Domains(config.domains, this.#stats, config.ttlJitter, (prefix) =>
      this.#l1.space(prefix),
    );
    this.#codec = new Codec(config.serializer, config.maxValueBytes, log, this.#l1);
    this.#failures = new L2Failures(log, this.#l2.failedCalls);
    this.#inspector = new Inspector(this.#l2, log);
    const tiers = { l1: this.#l1, l2: this.#l2, codec: this.#codec, failures: this.#failures, log };
    this.#reader = new Reader(tiers);
    this.#writer = new Writer(tiers);
    this.#loader = new Loader(tiers);
    this.#coherence = coherence;
    // another process changed a key: callers waiting for another process to store it read it again
    if (coherence) this.#l1.follow(coherence, (redisKey) => this.#loader.wakeWaiters(redisKey));
    this.#parts = { ...tiers, domains: this.#domains };
    this.#invalidations = buildInvalidator<D, G>(this.#parts, config.invalidationGroups);
    this.#invalidator = this.#invalidations as unknown as Invalidator<D, G>;
  }

  /** The value under `key` (L1, else L2), or `undefined` on a miss or when Redis fails. */
  get<T = unknown>(key: string, options?: CallOptions<D>): Promise<T | undefined> {
    if (!traced(getChannel)) return this.#get(key, options, undefined);
    const context: GetTrace = { operation: 'get', key, dbType: options?.dbType ?? 'default' };
    return traceCall(getChannel, context, () => this.#get<T>(key, options, context));
  }

  /**
   * Not `async`: an L1 hit, the hottest path, looks the key up as given in its domain's part of L1
   * (only a miss builds, and validates, the Redis key: a bad key is never in L1), answers the entry's
   * own settled promise and runs no async function.
   */
  #get<T>(
    key: string,
    options: CallOptions<D> | undefined,
    trace: GetTrace | undefined,
  ): Promise<T | undefined> {
    let domain: Domain;
    let redisKey: string;
    try {
      domain = this.#domains.resolve(options?.dbType);
      const local = this.#l1.hitIn(domain.l1, key);
      if (local !== undefined) {
        domain.counters.l1Hits++;
        if (trace) trace.outcome = 'l1';
        return local as Promise<T>;
      }
      redisKey = this.#domains.redisKey(domain, key);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#reader.read<T>(domain, redisKey, trace);
  }

  /** Stores `value` in L2 (`SET … EX ttl`) and L1; `false` if refused or Redis failed (then the key is owed a delete). */
  set(key: string, value: unknown, options?: SetOptions<D>): Promise<boolean> {
    if (!traced(setChannel)) return this.#set(key, value, options, undefined);
    const context: SetTrace = { operation: 'set', key, dbType: options?.dbType ?? 'default' };
    return traceCall(setChannel, context, () => this.#set(key, value, options, context));
  }

  #set(key: string, value: unknown, options: SetOptions<D> | undefined, trace: SetTrace | undefined) {
    // not `async`: returning the writer's promise as is saves a promise and its ticks on the hot path
    let entry: WriteEntry;
    let domain: Domain;
    try {
      domain = this.#domains.resolve(options?.dbType);
      assertValidKey(key);
      const ttl = this.#domains.writeTtl(domain, options?.ttl, options?.ttlJitter);
      entry = { key, value, ttl, tags: this.#l2.keyspace.tagKeys(options?.tags) };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#writer.write(domain, [entry], trace);
  }

  /** Removes `key` from both tiers; `true` once Redis confirmed (present or not), `false` if it failed. */
  delete(key: string, options?: CallOptions<D>): Promise<boolean> {
    if (!traced(deleteChannel)) return this.#delete(key, options);
    const context: DeleteTrace = { operation: 'delete', key, dbType: options?.dbType ?? 'default' };
    return traceRemoval(deleteChannel, context, () => this.#delete(key, options));
  }

  async #delete(key: string, options: CallOptions<D> | undefined): Promise<boolean> {
    const domain = this.#domains.resolve(options?.dbType);
    const redisKey = this.#domains.redisKey(domain, key);
    this.#l1.evict(redisKey);
    try {
      // removing the key's lease too keeps a getOrSet running anywhere from storing an outdated result
      await this.#l2.delete([redisKey, this.#l2.keyspace.leaseKey(redisKey, this.#l2.sharded)]);
      domain.counters.deletes++;
      return true;
    } catch (err) {
      this.#l2.owe({ kind: 'keys', prefix: domain.config.prefix, keys: [redisKey] });
      this.#failures.report('delete', domain.counters, err);
      return false;
    }
  }

  /**
   * Removes every key of the domain matching `pattern` (a Redis glob on the part after the prefix),
   * with SCAN + UNLINK in batches. Resolves to the number of keys removed in Redis, `false` if Redis failed.
   */
  deletePattern(pattern: string, options?: CallOptions<D>): Promise<number | false> {
    const deleting = () => this.#invalidations.deletePattern(pattern, options?.dbType);
    if (!traced(deleteChannel)) return deleting();
    const context: DeleteTrace = {
      operation: 'deletePattern',
      pattern,
      dbType: options?.dbType ?? 'default',
    };
    return traceRemoval(deleteChannel, context, deleting);
  }

  /** Removes `keys` from both tiers; how many existed in Redis, `false` if Redis failed. */
  deleteMany(keys: readonly string[], options?: CallOptions<D>): Promise<number | false> {
    return this.#invalidations.deleteMany(keys, options?.dbType);
  }

  /** The values under `keys`, in order (`undefined` for misses); one Redis round trip for the L1 misses. */
  async getMany<T = unknown>(
    keys: readonly string[],
    options?: CallOptions<D>,
  ): Promise<Array<T | undefined>> {
    if (!traced(getChannel)) return this.#reader.readMany<T>(this.#domains.resolve(options?.dbType), keys);
    const context: GetTrace = { operation: 'getMany', keys, dbType: options?.dbType ?? 'default' };
    return traceReadMany(context, () =>
      this.#reader.readMany<T>(this.#domains.resolve(options?.dbType), keys, context),
    );
  }

  /** Stores several values in one round trip; `false` if any was refused or Redis failed. */
  setMany(entries: readonly SetEntry[], options?: SetOptions<D>): Promise<boolean> {
    if (!traced(setChannel)) return this.#setMany(entries, options, undefined);
    // before validation: hostile entries must reach #setMany's CacheKeyError, not fail here
    const keys = Array.isArray(entries)
      ? entries.map((entry: SetEntry | undefined) => String(entry?.key))
      : undefined;
    const context: SetTrace = { operation: 'setMany', keys, dbType: options?.dbType ?? 'default' };
    return traceCall(setChannel, context, () => this.#setMany(entries, options, context));
  }

  async #setMany(entries: readonly SetEntry[], options: SetOptions<D> | undefined, trace?: SetTrace) {
    const domain = this.#domains.resolve(options?.dbType);
    const callTags = this.#l2.keyspace.tagKeys(options?.tags);
    assertObjects(entries, 'setMany entries');
    const prepared = entries.map(({ key, value, ttl, tags }): WriteEntry => {
      assertValidKey(key);
      const own = this.#l2.keyspace.tagKeys(tags);
      return {
        key,
        value,
        ttl: this.#domains.writeTtl(domain, ttl ?? options?.ttl, options?.ttlJitter),
        tags: own.length === 0 ? callTags : [...new Set([...callTags, ...own])],
      };
    });
    return this.#writer.write(domain, prepared, trace);
  }

  /**
   * The value under `key`, else `factory()`'s result, stored with the call's TTL — one factory call
   * per key at a time across all processes sharing the Redis. Factory errors propagate (unless a
   * stale value is served, see `grace`); a factory result of `undefined` is returned but not stored.
   */
  getOrSet<T>(key: string, factory: Factory<T>, options?: GetOrSetOptions<D>): Promise<T> {
    if (!traced(getOrSetChannel)) return this.#getOrSet(key, factory, options, undefined);
    const context: GetOrSetTrace = { operation: 'getOrSet', key, dbType: options?.dbType ?? 'default' };
    return traceCall(getOrSetChannel, context, () => this.#getOrSet(key, factory, options, context));
  }

  /** Not `async`, as `#get`. */
  #getOrSet<T>(
    key: string,
    factory: Factory<T>,
    options?: GetOrSetOptions<D>,
    trace?: GetOrSetTrace,
  ): Promise<T> {
    try {
      const domain = this.#domains.resolve(options?.dbType);
      const local = options?.forceFresh === true ? undefined : this.#l1.hitIn(domain.l1, key);
      if (local === undefined) {
        const redisKey = this.#domains.redisKey(domain, key);
        const target = this.#domains.loadTarget(domain, options);
        return this.#loader.getOrSet(target, redisKey, factory, options, trace);
      }
      // an L1 hit builds no load plan, but a bad option throws whatever the cache holds
      if (options !== undefined) checkLoadOptions(options, this.#domains, domain);
      domain.counters.l1Hits++;
      if (trace) trace.outcome = 'l1';
      return local as Promise<T>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The values under `keys`, in order: L1, then one Redis round trip for the rest, then one call of
   * `batchFactory(missingKeys)` (a `Map` from key to value) for what is still missing, stored with
   * the same guarantees as `getOrSet`. Keys the map lacks (or maps to `undefined`) stay `undefined`.
   */
  async getOrSetMany<T>(
    keys: readonly string[],
    batchFactory: BatchFactory<T>,
    options?: GetOrSetOptions<D>,
  ): Promise<Array<T | undefined>> {
    const loading = async (factory: BatchFactory<T>) => {
      const domain = this.#domains.resolve(options?.dbType);
      assertValidKeys(keys);
      return this.#loader.getOrSetMany(this.#domains.loadTarget(domain, options), keys, factory, options);
    };
    if (!traced(getOrSetChannel)) return loading(batchFactory);
    const context: GetOrSetTrace = { operation: 'getOrSetMany', keys, dbType: options?.dbType ?? 'default' };
    return traceLoadMany(context, batchFactory, loading);
  }

  /**
   * Claims the period `name` for `ttlMs` ms across the processes sharing the Redis (`SET … NX PX`):
   * `true` if this process got it, `false` if another holds it, `undefined` when Redis failed.
   */
  async claim(name: string, ttlMs: number): Promise<boolean | undefined> {
    assertValidKey(name, 'claim name');
    try {
      return await claimPeriod(this.#l2, name, ttlMs);
    } catch {
      return undefined;
    }
  }

  /**
   * Removes every value carrying any of `tags`, in every domain, from Redis and this process's L1
   * (other processes' through coherence), and stops getOrSet loads of those keys from storing.
   * Resolves to the number of keys removed, `false` if Redis failed; bad tags throw `CacheKeyError`.
   */
  invalidateTags(tags: readonly string[], options?: { reason?: string }): Promise<number | false> {
    return this.#invalidations.invalidateTags(tags, options?.reason);
  }

  /** `cache.invalidation.flushAll`: `{ scope: 'app' }`, or `{ scope: 'database', confirm: true }`. */
  flushAll(options: FlushOptions): Promise<number | false> {
    return this.#invalidations.flushAll(options);
  }

  /** The invalidation module, with one `invalidate<Group>Cache()` per configured group. */
  get invalidation(): Invalidator<D, G> {
    return this.#invalidator;
  }

  /**
   * An invalidator over this cache with its own `groups` (validated like the `invalidation.groups`
   * option; throws `CacheConfigError`). `createInvalidator(cache, groups)` calls this.
   */
  invalidator<H extends string>(groups: Record<H, InvalidationGroup<D>> | undefined): Invalidator<D, H> {
    return buildInvalidator<D, H>(this.#parts, resolveGroups(groups, this.#config.domains, 'groups'));
  }

  /** The same API with `dbType` bound: `cache.db('catalog').get('products_count')`. */
  db(dbType: D): DomainCache<D> {
    this.#domains.resolve(dbType);
    return new DomainCache(this, dbType);
  }

  /** Waits until Redis is connected: `true`, or `false` after `timeoutMs` (ms or `'2s'`; default the connect timeout). */
  async ready(timeoutMs: Duration = this.#config.connectTimeoutMs): Promise<boolean> {
    return this.#l2.ready(callDuration('timeoutMs', timeoutMs, 'ms', { min: 0 }));
  }

  /** The state of both tiers, cheap enough to call on every health check. */
  status(): CacheStatus {
    return {
      keyPrefix: this.#config.keyPrefix,
      l2: { state: this.#l2.state, url: this.#config.redis.safeUrl, breakerOpens: this.#l2.breakerOpens },
      breaker: this.#l2.breaker,
      l1: this.#l1.status(),
      domains: { ...this.#config.domains },
      coherence: this.#coherence?.status() ?? { ...COHERENCE_OFF },
      pending: this.#l2.pending,
    };
  }

  /** Hits, misses, writes and errors per domain and in total, with hit rates. */
  stats(): CacheStats {
    return { ...this.#stats.snapshot(), loading: this.#loader.stats() };
  }

  /**
   * One page of a domain's key names with their remaining TTL in seconds (SCAN confined to the
   * prefix like `deletePattern`; never values); `false` if Redis failed. Throws `CacheKeyError` on bad input.
   */
  keys(options: KeyListOptions<D> = {}): Promise<KeyPage | false> {
    return this.#inspector.keys(this.#domains.resolve(options?.dbType).config.prefix, options ?? {});
  }

  /** Redis version, memory and keyspace counters from one `INFO`; `false` if Redis failed. */
  serverInfo(): Promise<ServerInfo | false> {
    return this.#inspector.serverInfo(this.#config.redis.db);
  }

  /** Keys per domain, by a SCAN stopped after `budgetMs` (default 50) and extrapolated then; `false` if Redis failed. */
  countKeys(options: { budgetMs?: number; maxCalls?: number } = {}): Promise<KeyCensus | false> {
    const prefixes = Object.fromEntries(Object.entries(this.#config.domains).map(([n, d]) => [n, d.prefix]));
    return this.#inspector.countKeys(prefixes, options ?? {});
  }

  /** Calls `observer(operation, durationMs, failed)` after every Redis call (metrics); returns the function that stops it. */
  observeL2(observer: L2Observer): () => void {
    return this.#l2.observe(observer);
  }

  /**
   * Closes the Redis connection; idempotent, resolves within about a second even if Redis hangs.
   * Factories still running are abandoned: their callers get their results, which are not stored,
   * and their leases are given back so that another process loads those keys at once.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const releasing = this.#loader.close();
    this.#l1.close();
    this.#coherence?.close();
    // the leases of abandoned loads go back first, so other processes load those keys at once; a
    // Redis that does not answer gets a quarter of a second (the leases then expire by themselves)
    await withTimeout(releasing, LEASE_RETURN_MS).catch(() => {});
    await this.#l2.close();
  }

  /** `true` once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }
}
