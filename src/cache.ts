import { COHERENCE_OFF, type CoherenceStatus, type L1Coherence } from './coherence/coherence.js';
import type { DomainConfig } from './config/domains.js';
import type { ResolvedConfig } from './config/resolve.js';
import { CacheKeyError, CacheValueError } from './errors.js';
import { claimSlot, leaseKey, revokeLeases } from './get-set/lease.js';
import {
  type BatchFactory,
  type Factory,
  Loader,
  type LoadingStats,
  type LoadOptions,
} from './get-set/loader.js';
import {
  attachInvalidationHost,
  buildInvalidator,
  type FlushOptions,
  type InvalidationHost,
  type Invalidator,
} from './invalidation/invalidator.js';
import { tagKeys } from './invalidation/tags.js';
import { FillGuard } from './l1/fill-guard.js';
import { MemoryTier } from './l1/memory.js';
import {
  countKeys,
  type KeyCensus,
  type KeyListOptions,
  type KeyPage,
  listKeys,
  readServerInfo,
  type ServerInfo,
} from './l2/inspect.js';
import { type L2Observer, ObservedL2 } from './l2/observed.js';
import type { BreakerState } from './l2/redis/breaker.js';
import {
  L2BreakerOpenError,
  type L2Driver,
  type L2Entry,
  type L2State,
  L2TimeoutError,
  L2UnavailableError,
} from './l2/redis/driver.js';
import { describeError, type Logger, RateLimitedLog } from './logger.js';
import type { DomainStats } from './stats.js';
import { type DomainCounters, Stats } from './stats.js';
import { unwrap } from './values/envelope.js';
import { globToRegExp } from './values/glob.js';
import { assertValidKey, confinedPattern } from './values/keys.js';
import { jsonSerializer } from './values/serializer.js';

/** Options every call accepts: the domain ("db type") the key belongs to. Default `default`. */
export interface CallOptions<D extends string> {
  dbType?: D;
}

/** Options of `set` / `setMany`: an explicit TTL in seconds instead of the domain's, and tags. */
export interface SetOptions<D extends string> extends CallOptions<D> {
  ttl?: number;
  /** Tags the value carries (see `invalidateTags`): non-empty strings, at most 64 of 256 characters. */
  tags?: readonly string[];
}

/** Options of `getOrSet` / `getOrSetMany`: see `LoadOptions`. */
export interface GetOrSetOptions<D extends string> extends CallOptions<D>, LoadOptions {}

/** One entry of `setMany`. */
export interface SetEntry {
  key: string;
  value: unknown;
  /** TTL in seconds; default the call's `ttl`, else the domain's. */
  ttl?: number;
  /** Tags of this value, in addition to the call's `tags`. */
  tags?: readonly string[];
}

/** What `cache.status()` reports. */
export interface CacheStatus {
  l2: { state: L2State; url: string; breakerOpens: number };
  /** The circuit breaker in front of Redis: `closed` (in use), `open` (skipped), `half-open` (probing). */
  breaker: BreakerState;
  l1: { enabled: boolean; entries: number; bytes: number; maxEntries: number; maxBytes: number; ttl: number };
  domains: Record<string, DomainConfig>;
  /** How L1 is kept coherent with the other processes (README "Coherence"). */
  coherence: CoherenceStatus;
}

/** What `cache.stats()` reports: counters per domain and in total. */
export interface CacheStats {
  domains: Record<string, DomainStats>;
  total: DomainStats;
  /** Factory calls, stale answers, lease waits of `getOrSet` / `getOrSetMany`. */
  loading: LoadingStats;
}

interface Resolved {
  name: string;
  domain: DomainConfig;
  counters: DomainCounters;
  /** Validated keys of the domain and their Redis keys (see `#redisKey`). */
  redisKeys: Map<string, string>;
}

/**
 * Most keys `#redisKey` remembers per domain: a hot set, not every key (about 100 KiB of strings
 * at most, which the long-outage chaos test's bound on heap growth leaves room for).
 */
const REDIS_KEY_MEMO_MAX = 1024;

/**
 * The two-level cache (S1, S2): L1 in process memory in front of L2 in Redis, with domains (S4),
 * the seed's operations (S5), and the non-blocking promise (S6): infrastructure failures become
 * a miss or `false`, never a rejection. Programming errors (bad key, unknown dbType) do reject.
 */
export class Cache<D extends string = string, in G extends string = never> {
  readonly #config: ResolvedConfig;
  readonly #l1: MemoryTier | undefined;
  readonly #l2: ObservedL2;
  readonly #guard = new FillGuard();
  readonly #stats: Stats;
  readonly #log: Logger;
  readonly #problems = new RateLimitedLog();
  readonly #l1TtlMs: number;
  readonly #loader: Loader;
  readonly #resolved = new Map<string, Resolved>();
  readonly #coherence: L1Coherence | undefined;
  readonly #invalidation: Invalidator<D, G>;
  #closed = false;

  constructor(config: ResolvedConfig, l2: L2Driver, coherence?: L1Coherence) {
    this.#config = config;
    this.#l2 = new ObservedL2(l2);
    this.#log = config.logger;
    this.#stats = new Stats(Object.keys(config.domains));
    this.#l1TtlMs = config.l1.ttl * 1000;
    this.#l1 =
      config.l1.enabled && config.l1.ttl > 0
        ? new MemoryTier(config.l1, (text) => config.serializer.deserialize(text))
        : undefined;
    this.#coherence = coherence;
    // invalidations from other processes: the key leaves L1, and a read of it in flight must not refill it
    coherence?.attach({
      evict: (redisKey) => {
        this.#guard.touch(redisKey);
        this.#l1?.delete(redisKey);
        this.#loader.changed(redisKey);
      },
      evictAll: () => {
        this.#guard.touchAll();
        this.#l1?.clear();
        this.#loader.changed();
      },
      capL1Ttl: (ttlMs) => this.#l1?.capTtl(ttlMs),
    });
    this.#loader = new Loader({
      l1: this.#l1,
      l2: this.#l2,
      guard: this.#guard,
      serializer: config.serializer,
      json: config.serializer === jsonSerializer,
      log: this.#log,
      serialize: (value, redisKey, counters) => this.#serialize(value, redisKey, counters),
      fillL1Text: (redisKey, text, ttlMs) => this.#fillL1Text(redisKey, text, ttlMs),
      writeFailed: (redisKey) => this.#ownWriteFailed(redisKey),
      l2Failed: (operation, counters, err) => this.#l2Failed(operation, counters, err),
    });
    const host: InvalidationHost = {
      l1: this.#l1,
      l2: this.#l2,
      guard: this.#guard,
      log: this.#log,
      domains: config.domains,
      groups: config.invalidationGroups,
      prefixOf: (dbType) => this.#resolve(dbType).domain.prefix,
      deletePattern: (pattern, dbType) => this.deletePattern(pattern, { dbType: dbType as D }),
      deleted: (dbType, removed) => {
        this.#resolve(dbType).counters.deletes += removed;
      },
    };
    attachInvalidationHost(this, host);
    this.#invalidation = buildInvalidator<D, G>(host);
  }

  /** The value under `key` (L1, else L2), or `undefined` on a miss or when Redis fails. */
  async get<T = unknown>(key: string, options?: CallOptions<D>): Promise<T | undefined> {
    const resolved = this.#resolve(options?.dbType);
    const { counters } = resolved;
    const redisKey = this.#redisKey(resolved, key);
    const local = this.#l1?.get(redisKey);
    if (local !== undefined) {
      counters.l1Hits++;
      return local as T;
    }
    const ticket = this.#guard.ticket(redisKey);
    try {
      const reply = await this.#l2.get(redisKey);
      // a value past its TTL kept only for getOrSet's grace is a miss here
      const stored = reply.text === null ? undefined : unwrap(reply.text, reply.pttlMs);
      if (stored === undefined || stored.freshMs <= 0) {
        counters.misses++;
        return undefined;
      }
      const { text, freshMs } = stored;
      const value = this.#config.serializer.deserialize(text);
      counters.l2Hits++;
      if (this.#guard.stillValid(redisKey, ticket)) this.#fillL1Text(redisKey, text, freshMs);
      return value as T;
    } catch (err) {
      counters.misses++;
      this.#l2Failed('get', counters, err);
      return undefined;
    }
  }

  /** Stores `value` in L2 (`SET … EX ttl`) and L1; `false` if refused or Redis failed. */
  set(key: string, value: unknown, options?: SetOptions<D>): Promise<boolean> {
    // not `async`: returning #write's promise as is saves a promise and its ticks on the hot path
    let entry: { key: string; value: unknown; ttl: number; tags: string[] };
    let resolved: Resolved;
    try {
      resolved = this.#resolve(options?.dbType);
      assertValidKey(key);
      entry = { key, value, ttl: this.#ttlFor(resolved, options?.ttl), tags: tagKeys(options?.tags) };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#write(resolved, [entry]);
  }

  /** Removes `key` from both tiers; `true` once Redis confirmed (present or not), `false` if it failed. */
  async delete(key: string, options?: CallOptions<D>): Promise<boolean> {
    const { domain, counters } = this.#resolve(options?.dbType);
    assertValidKey(key);
    const redisKey = domain.prefix + key;
    this.#guard.touch(redisKey);
    this.#l1?.delete(redisKey);
    try {
      // removing the key's lease too keeps a getOrSet running anywhere from storing an outdated result
      await this.#l2.delete([redisKey, leaseKey(redisKey, this.#l2.sharded)]);
      counters.deletes++;
      return true;
    } catch (err) {
      this.#l2Failed('delete', counters, err);
      return false;
    }
  }

  /**
   * Removes every key of the domain matching `pattern` (a Redis glob on the part after the prefix),
   * with SCAN + UNLINK in batches. Resolves to the number of keys removed in Redis, `false` if Redis failed.
   */
  async deletePattern(pattern: string, options?: CallOptions<D>): Promise<number | false> {
    const { domain, counters } = this.#resolve(options?.dbType);
    const match = confinedPattern(domain.prefix, pattern);
    this.#evictL1(domain.prefix, pattern);
    let removed = 0;
    try {
      // getOrSet loads already running for matching keys will not store their results (see lease.ts)
      const matcher = globToRegExp(pattern);
      await revokeLeases(this.#l2, domain.prefix, (key) => matcher.test(key.slice(domain.prefix.length)));
      for await (const keys of this.#l2.scan(match)) removed += await this.#l2.delete(keys);
      counters.deletes += removed;
      return removed;
    } catch (err) {
      this.#l2Failed('deletePattern', counters, err);
      return false;
    } finally {
      // keys read from Redis while the scan ran must not come back into L1
      this.#evictL1(domain.prefix, pattern);
    }
  }

  /** The values under `keys`, in order (`undefined` for misses); one Redis round trip for the L1 misses. */
  async getMany<T = unknown>(
    keys: readonly string[],
    options?: CallOptions<D>,
  ): Promise<Array<T | undefined>> {
    const { domain, counters } = this.#resolve(options?.dbType);
    for (const key of keys) assertValidKey(key);
    const results: Array<T | undefined> = new Array(keys.length);
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const local = this.#l1?.get(domain.prefix + keys[i]);
      if (local === undefined) missing.push(i);
      else {
        counters.l1Hits++;
        results[i] = local as T;
      }
    }
    if (missing.length === 0) return results;
    const redisKeys = missing.map((i) => domain.prefix + keys[i]);
    const tickets = redisKeys.map((redisKey) => this.#guard.ticket(redisKey));
    try {
      const replies = await this.#l2.getMany(redisKeys);
      let failure: unknown;
      replies.forEach((reply, j) => {
        if (reply.failed !== undefined) {
          // on a cluster, the server of this key failed while the others answered
          failure ??= reply.failed;
          counters.misses++;
          return;
        }
        const stored = reply.text === null ? undefined : unwrap(reply.text, reply.pttlMs);
        if (stored === undefined || stored.freshMs <= 0) {
          counters.misses++;
          return;
        }
        const { text, freshMs } = stored;
        const value = this.#config.serializer.deserialize(text);
        counters.l2Hits++;
        results[missing[j]!] = value as T;
        const redisKey = redisKeys[j]!;
        if (this.#guard.stillValid(redisKey, tickets[j]!)) this.#fillL1Text(redisKey, text, freshMs);
      });
      if (failure !== undefined) this.#l2Failed('getMany', counters, failure);
    } catch (err) {
      counters.misses += missing.length;
      this.#l2Failed('getMany', counters, err);
    }
    return results;
  }

  /** Stores several values in one round trip; `false` if any was refused or Redis failed. */
  async setMany(entries: readonly SetEntry[], options?: SetOptions<D>): Promise<boolean> {
    const resolved = this.#resolve(options?.dbType);
    const callTags = tagKeys(options?.tags);
    const prepared = entries.map(({ key, value, ttl, tags }) => {
      assertValidKey(key);
      const own = tagKeys(tags);
      return {
        key,
        value,
        ttl: this.#ttlFor(resolved, ttl ?? options?.ttl),
        tags: own.length === 0 ? callTags : [...new Set([...callTags, ...own])],
      };
    });
    return this.#write(resolved, prepared);
  }

  /**
   * The value under `key`, else `factory()`'s result, stored with the call's TTL — one factory call
   * per key at a time across all processes sharing the Redis. Factory errors propagate (unless a
   * stale value is served, see `grace`); a factory result of `undefined` is returned but not stored.
   */
  async getOrSet<T>(key: string, factory: Factory<T>, options?: GetOrSetOptions<D>): Promise<T> {
    const resolved = this.#resolve(options?.dbType);
    const redisKey = this.#redisKey(resolved, key);
    // an L1 hit of a call without load options (nothing to validate) builds no load plan
    if (options === undefined || onlyDbType(options)) {
      const local = this.#l1?.get(redisKey);
      if (local !== undefined) {
        resolved.counters.l1Hits++;
        return local as T;
      }
    }
    return this.#loader.getOrSet(this.#loadTarget(resolved, options), redisKey, factory, options);
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
    const resolved = this.#resolve(options?.dbType);
    for (const key of keys) assertValidKey(key);
    return this.#loader.getOrSetMany(this.#loadTarget(resolved, options), keys, batchFactory, options);
  }

  /**
   * Claims the cluster-wide slot `name` for `ttlMs` ms (`SET __cachette:slot:<name> … NX PX`): `true`
   * if this process got it, `false` if another process holds it, `undefined` when Redis failed.
   * The warming service uses it to run one periodic warming per interval across processes.
   */
  async claim(name: string, ttlMs: number): Promise<boolean | undefined> {
    assertValidKey(name, 'slot name');
    try {
      return await claimSlot(this.#l2, name, ttlMs);
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
    return this.#invalidation.invalidateTags(tags, options?.reason);
  }

  /** `cache.invalidation.flushAll`: `{ scope: 'app' }`, or `{ scope: 'database', confirm: true }`. */
  flushAll(options: FlushOptions): Promise<number | false> {
    return this.#invalidation.flushAll(options);
  }

  /** The invalidation module (S7), with one `invalidate<Group>Cache()` per configured group. */
  get invalidation(): Invalidator<D, G> {
    return this.#invalidation;
  }

  /** The same API with `dbType` bound: `cache.db('catalog').get('products_count')`. */
  db(dbType: D): DomainCache<D> {
    this.#resolve(dbType);
    return new DomainCache(this, dbType);
  }

  /** Waits until Redis is connected; `true` if it is, `false` after `timeoutMs` (default: the connect timeout). */
  ready(timeoutMs: number = this.#config.connectTimeoutMs): Promise<boolean> {
    return this.#l2.ready(timeoutMs);
  }

  /** The state of both tiers, cheap enough to call on every health check. */
  status(): CacheStatus {
    const { l1 } = this.#config;
    return {
      l2: { state: this.#l2.state, url: this.#config.redis.safeUrl, breakerOpens: this.#l2.breakerOpens },
      breaker: this.#l2.breaker,
      l1: {
        enabled: this.#l1 !== undefined,
        entries: this.#l1?.size ?? 0,
        bytes: this.#l1?.bytes ?? 0,
        maxEntries: l1.maxEntries,
        maxBytes: l1.maxBytes,
        ttl: l1.ttl,
      },
      domains: { ...this.#config.domains },
      coherence: this.#coherence?.status() ?? { ...COHERENCE_OFF },
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
  async keys(options: KeyListOptions<D> = {}): Promise<KeyPage | false> {
    const { domain } = this.#resolve(options.dbType);
    return this.#inspect('keys', () => listKeys(this.#l2, domain.prefix, options));
  }

  /** Redis version, memory and keyspace counters from one `INFO`; `false` if Redis failed. */
  serverInfo(): Promise<ServerInfo | false> {
    return this.#inspect('serverInfo', () => readServerInfo(this.#l2, this.#config.redis.db));
  }

  /** Keys per domain, by a SCAN stopped after `budgetMs` (default 50) and extrapolated then; `false` if Redis failed. */
  countKeys(options: { budgetMs?: number; maxCalls?: number } = {}): Promise<KeyCensus | false> {
    const prefixes = Object.fromEntries(Object.entries(this.#config.domains).map(([n, d]) => [n, d.prefix]));
    const limits = { budgetMs: options.budgetMs ?? 50, maxCalls: options.maxCalls ?? 20 };
    return this.#inspect('countKeys', () => countKeys(this.#l2, prefixes, limits));
  }

  /** Calls `observer(operation, durationMs, failed)` after every Redis call (metrics); returns the function that stops it. */
  observeL2(observer: L2Observer): () => void {
    return this.#l2.observe(observer);
  }

  /** Closes the Redis connection; idempotent, resolves within about a second even if Redis hangs. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#l1?.clear();
    this.#coherence?.close();
    await this.#l2.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Serialises and writes entries of one domain: refused values are logged and skipped. */
  async #write(
    resolved: Resolved,
    entries: Array<{ key: string; value: unknown; ttl: number; tags: string[] }>,
  ): Promise<boolean> {
    const { domain, counters } = resolved;
    const writes: L2Entry[] = [];
    const tickets: number[] = [];
    let allAccepted = true;
    for (const { key, value, ttl, tags } of entries) {
      const redisKey = domain.prefix + key;
      this.#guard.touch(redisKey);
      this.#l1?.delete(redisKey);
      const text = this.#serialize(value, redisKey, counters);
      if (text === undefined) {
        allAccepted = false;
        continue;
      }
      writes.push(tags.length > 0 ? { key: redisKey, text, ttl, tags } : { key: redisKey, text, ttl });
      tickets.push(this.#guard.ticket(redisKey));
    }
    if (writes.length === 0) return false;
    try {
      await this.#l2.set(writes);
    } catch (err) {
      for (const { key } of writes) this.#ownWriteFailed(key);
      this.#l2Failed(writes.length === 1 ? 'set' : 'setMany', counters, err);
      return false;
    }
    counters.sets += writes.length;
    for (let i = 0; i < writes.length; i++) {
      const { key, text, ttl } = writes[i]!;
      // another writer's change reported while this write was in flight may have come after it in Redis;
      // L1 keeps the text (parsed on first read), so a caller mutating `value` after set() cannot change it
      if (this.#guard.stillValid(key, tickets[i]!)) this.#fillL1Text(key, text, ttl * 1000);
    }
    return allAccepted;
  }

  #serialize(value: unknown, redisKey: string, counters: DomainCounters): string | undefined {
    let problem: string;
    try {
      const text = this.#config.serializer.serialize(value);
      const max = this.#config.maxValueBytes;
      // a UTF-16 unit is at most 3 UTF-8 bytes: short texts skip the exact count
      if (text.length * 3 <= max || Buffer.byteLength(text) <= max) return text;
      problem = `value is larger than maxValueBytes (${max} bytes)`;
    } catch (err) {
      problem = `value cannot be serialised (${describeError(err)})`;
    }
    counters.refused++;
    const refusal = new CacheValueError(`cachette: refused to cache ${redisKey}: ${problem}`);
    this.#problems.emit(`refused:${redisKey}`, (suppressed) =>
      this.#log.warn({ key: redisKey, reason: problem, suppressed }, refusal.message),
    );
    return undefined;
  }

  /** A write of `redisKey` failed or its outcome is unknown: no copy of it may stay in L1, nor come in from a read in flight. */
  #ownWriteFailed(redisKey: string): void {
    this.#guard.touch(redisKey);
    this.#l1?.delete(redisKey);
  }

  /**
   * Keeps `text` (a value's serialised form) in L1 for at most `ttlMs` (`Infinity`: no Redis expiry),
   * never longer than the L1 TTL, nor than the degraded TTL while coherence is down. L1 parses it on
   * its first read there: a value read or written once and never again here costs no second object
   * graph on the heap, the L1 byte bound counts what is actually held, and a caller mutating the
   * value it got (or set) cannot change the cached one.
   */
  #fillL1Text(redisKey: string, text: string, ttlMs: number): void {
    if (!this.#l1 || this.#closed) return;
    const l1TtlMs = this.#coherence ? Math.min(this.#l1TtlMs, this.#coherence.maxL1TtlMs) : this.#l1TtlMs;
    this.#l1.setText(redisKey, text, Math.min(l1TtlMs, ttlMs));
  }

  #evictL1(prefix: string, pattern: string): void {
    this.#guard.touchAll();
    if (!this.#l1) return;
    const matcher = globToRegExp(pattern);
    this.#l1.deleteWhere((key) => key.startsWith(prefix) && matcher.test(key.slice(prefix.length)));
  }

  #l2Failed(operation: string, counters: DomainCounters, err: unknown): void {
    counters.errors++;
    if (err instanceof L2BreakerOpenError) counters.skipped++;
    // the driver logs outages and slowness (timeouts) once per episode; Redis errors are logged here, rate-limited
    if (err instanceof L2UnavailableError || err instanceof L2TimeoutError) return;
    const reason = describeError(err);
    this.#problems.emit(`${operation}:${reason}`, (suppressed) =>
      this.#log.warn(
        { operation, err: reason, suppressed },
        `cachette: ${operation} failed; answered as a miss`,
      ),
    );
  }

  /** Runs an admin read against Redis; a failure is logged (rate-limited) and answered `false`. */
  async #inspect<T>(operation: string, read: () => Promise<T>): Promise<T | false> {
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

  #loadTarget(resolved: Resolved, options: LoadOptions | undefined) {
    return {
      prefix: resolved.domain.prefix,
      ttl: this.#ttlFor(resolved, options?.ttl),
      counters: resolved.counters,
    };
  }

  #ttlFor(resolved: Resolved, ttl: number | undefined): number {
    if (ttl === undefined) return resolved.domain.ttl;
    if (!Number.isInteger(ttl) || ttl < 1) {
      throw new CacheKeyError(`ttl must be a whole number of seconds >= 1, got ${String(ttl)}`);
    }
    return ttl;
  }

  /**
   * `domain prefix + key`, with `key` validated, remembered for a hot set of keys: an L1 hit
   * then neither re-validates the key nor builds the string again (a fresh concatenation must be
   * flattened and hashed by the L1 lookup: most of an L1 hit's cost over a raw lru-cache get).
   */
  #redisKey(resolved: Resolved, key: string): string {
    const known = resolved.redisKeys.get(key);
    if (known !== undefined) return known;
    assertValidKey(key);
    const redisKey = resolved.domain.prefix + key;
    // bounded: forgetting every key at once is cheaper than an LRU here, and only costs a rebuild
    if (resolved.redisKeys.size >= REDIS_KEY_MEMO_MAX) resolved.redisKeys.clear();
    resolved.redisKeys.set(key, redisKey);
    return redisKey;
  }

  #resolve(dbType: string | undefined): Resolved {
    const name = dbType ?? 'default';
    // resolved once per domain: every call (an L1 hit too) passes here, so it must not allocate
    const known = this.#resolved.get(name);
    if (known !== undefined) return known;
    const domain = this.#config.domains[name];
    const counters = this.#stats.byDomain[name];
    if (domain === undefined || counters === undefined || !Object.hasOwn(this.#config.domains, name)) {
      const names = Object.keys(this.#config.domains).join(', ');
      throw new CacheKeyError(`Unknown dbType ${JSON.stringify(dbType)}; configured domains: ${names}`);
    }
    const resolved = { name, domain, counters, redisKeys: new Map<string, string>() };
    this.#resolved.set(name, resolved);
    return resolved;
  }
}

/** Whether `options` holds nothing but `dbType`. */
function onlyDbType(options: object): boolean {
  for (const name in options) if (name !== 'dbType') return false;
  return true;
}

/** A view of the cache with `dbType` bound; created by `cache.db(name)`. */
export class DomainCache<D extends string = string> {
  readonly #cache: Cache<D>;
  readonly dbType: D;

  constructor(cache: Cache<D>, dbType: D) {
    this.#cache = cache;
    this.dbType = dbType;
  }

  get<T = unknown>(key: string): Promise<T | undefined> {
    return this.#cache.get<T>(key, { dbType: this.dbType });
  }

  set(key: string, value: unknown, options?: { ttl?: number; tags?: readonly string[] }): Promise<boolean> {
    return this.#cache.set(key, value, { ...options, dbType: this.dbType });
  }

  delete(key: string): Promise<boolean> {
    return this.#cache.delete(key, { dbType: this.dbType });
  }

  deletePattern(pattern: string): Promise<number | false> {
    return this.#cache.deletePattern(pattern, { dbType: this.dbType });
  }

  getMany<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    return this.#cache.getMany<T>(keys, { dbType: this.dbType });
  }

  setMany(
    entries: readonly SetEntry[],
    options?: { ttl?: number; tags?: readonly string[] },
  ): Promise<boolean> {
    return this.#cache.setMany(entries, { ...options, dbType: this.dbType });
  }

  getOrSet<T>(key: string, factory: Factory<T>, options?: LoadOptions): Promise<T> {
    return this.#cache.getOrSet<T>(key, factory, { ...options, dbType: this.dbType });
  }

  getOrSetMany<T>(
    keys: readonly string[],
    batchFactory: BatchFactory<T>,
    options?: LoadOptions,
  ): Promise<Array<T | undefined>> {
    return this.#cache.getOrSetMany<T>(keys, batchFactory, { ...options, dbType: this.dbType });
  }
}
