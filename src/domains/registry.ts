import type { DomainConfig } from '../config/domains.js';
import { CacheKeyError } from '../errors.js';
import type { L1Space } from '../l1/l1.js';
import { callDuration, describeValue, spreadTtl } from '../values/durations.js';
import { assertValidKey } from '../values/keys.js';
import type { DomainCounters, Stats } from './stats.js';

/** A configured domain, resolved once: its name, prefix and TTL, counters, its part of L1, and a memo of its Redis keys. */
export interface Domain {
  name: string;
  config: DomainConfig;
  /** The domain's part of L1, where its keys are looked up as the caller gives them (`undefined`: L1 off). */
  l1: L1Space | undefined;
  /** The domain's `ttlJitter`, else the cache's (0: none). */
  ttlJitter: number;
  counters: DomainCounters;
  /** Validated keys of the domain and their Redis keys (see `Domains.redisKey`). */
  redisKeys: Map<string, string>;
}

/**
 * Most keys `redisKey` remembers per domain: a hot set, not every key (about 100 KiB of strings at
 * most, which the long-outage chaos test's bound on heap growth leaves room for).
 */
const REDIS_KEY_MEMO_MAX = 1024;

/** The configured domains at run time: `dbType` → prefix, TTL and counters, and Redis key → domain. */
export class Domains {
  readonly #configs: Readonly<Record<string, DomainConfig>>;
  readonly #stats: Stats;
  readonly #ttlJitter: number;
  readonly #spaceOf: (prefix: string) => L1Space | undefined;
  readonly #resolved = new Map<string, Domain>();
  /** The `dbType` of the last call resolved, and its domain. */
  #lastName: string | undefined;
  #last: Domain | undefined;
  /** [prefix, name] of every domain, longest prefix first. */
  readonly #byPrefix: Array<[string, string]>;

  /** `ttlJitter`: the cache's, for domains without their own; `spaceOf(prefix)`: a domain's part of L1. */
  constructor(
    configs: Readonly<Record<string, DomainConfig>>,
    stats: Stats,
    ttlJitter = 0,
    spaceOf: (prefix: string) => L1Space | undefined = () => undefined,
  ) {
    this.#configs = configs;
    this.#stats = stats;
    this.#ttlJitter = ttlJitter;
    this.#spaceOf = spaceOf;
    this.#byPrefix = Object.entries(configs)
      .map(([name, { prefix }]): [string, string] => [prefix, name])
      .sort(([a], [b]) => b.length - a.length);
  }

  /** Every domain's configuration, by name. */
  get configs(): Readonly<Record<string, DomainConfig>> {
    return this.#configs;
  }

  /** Every domain's prefix, longest first. */
  get prefixes(): string[] {
    return this.#byPrefix.map(([prefix]) => prefix);
  }

  /** The domain `dbType` (`default` when undefined); throws `CacheKeyError` for an unknown one. */
  resolve(dbType: string | undefined): Domain {
    // every call (an L1 hit too) passes here: the domain of the call before costs one comparison
    if (dbType === this.#lastName && this.#last !== undefined) return this.#last;
    const name = dbType ?? 'default';
    // resolved once per domain, so that no call allocates
    const known = this.#resolved.get(name);
    if (known !== undefined) {
      this.#lastName = dbType;
      this.#last = known;
      return known;
    }
    if (typeof name !== 'string') {
      throw new CacheKeyError(`dbType must be the name of a domain, got ${typeof name}`);
    }
    const config = this.#configs[name];
    const counters = this.#stats.byDomain[name];
    if (config === undefined || counters === undefined || !Object.hasOwn(this.#configs, name)) {
      const names = Object.keys(this.#configs).join(', ');
      if (dbType === undefined) {
        throw new CacheKeyError(
          `No dbType given and no domain is named 'default'; pass { dbType } (one of ${names}), use cache.db(name), or configure a 'default' domain`,
        );
      }
      throw new CacheKeyError(`Unknown dbType ${JSON.stringify(dbType)}; configured domains: ${names}`);
    }
    const ttlJitter = config.ttlJitter ?? this.#ttlJitter;
    const l1 = this.#spaceOf(config.prefix);
    const domain = { name, config, l1, ttlJitter, counters, redisKeys: new Map<string, string>() };
    this.#resolved.set(name, domain);
    return domain;
  }

  /** The domain whose prefix `redisKey` starts with (prefixes never overlap: see config/domains.ts), if any. */
  owning(redisKey: string): Domain | undefined {
    const found = this.#byPrefix.find(([prefix]) => redisKey.startsWith(prefix));
    return found === undefined ? undefined : this.resolve(found[1]);
  }

  /**
   * `domain prefix + key`, with `key` validated (throws `CacheKeyError`), remembered for a hot set of
   * keys: a key read from Redis or written again and again is neither re-validated nor built again
   * (a fresh concatenation must also be flattened and hashed by each lookup of it). An L1 hit needs
   * no Redis key: L1 holds each domain's keys as the caller gives them.
   */
  redisKey(domain: Domain, key: string): string {
    const known = domain.redisKeys.get(key);
    if (known !== undefined) return known;
    assertValidKey(key);
    const redisKey = domain.config.prefix + key;
    // bounded: forgetting every key at once is cheaper than an LRU here, and only costs a rebuild
    if (domain.redisKeys.size >= REDIS_KEY_MEMO_MAX) domain.redisKeys.clear();
    domain.redisKeys.set(key, redisKey);
    return redisKey;
  }

  /**
   * The TTL of a value of `domain` in seconds: `ttl` if given (whole seconds >= 1, or a string such
   * as `'10m'`; else `CacheKeyError`), else the domain's.
   */
  ttlFor(domain: Domain, ttl: unknown): number {
    if (ttl === undefined) return domain.config.ttl;
    if (typeof ttl === 'number' && Number.isInteger(ttl) && ttl >= 1) return ttl;
    return callDuration('ttl', ttl, 's', { min: 1, integer: true });
  }

  /** The jitter of a write of `domain`: `ttlJitter` if given (a fraction from 0 to below 1, else `CacheKeyError`), else the domain's. */
  jitterFor(domain: Domain, ttlJitter: unknown): number {
    if (ttlJitter === undefined) return domain.ttlJitter;
    if (typeof ttlJitter !== 'number' || !(ttlJitter >= 0 && ttlJitter < 1)) {
      throw new CacheKeyError(
        `ttlJitter is a fraction of the TTL from 0 to below 1, got ${describeValue(ttlJitter)}`,
      );
    }
    return ttlJitter;
  }

  /**
   * The TTL a write of `domain` stores with: `ttlFor(ttl)` shortened at random within
   * `jitterFor(ttlJitter)`. Each call draws its own: that is what spreads keys written together.
   */
  writeTtl(domain: Domain, ttl: unknown, ttlJitter: unknown): number {
    return spreadTtl(this.ttlFor(domain, ttl), this.jitterFor(domain, ttlJitter));
  }

  /** What a getOrSet load of `domain` works with: prefix, TTL (`ttlFor`) and jitter (`jitterFor`), counters. */
  loadTarget(
    domain: Domain,
    options: { ttl?: unknown; ttlJitter?: unknown } | undefined,
  ): { prefix: string; ttl: number; ttlJitter: number; counters: DomainCounters } {
    return {
      prefix: domain.config.prefix,
      ttl: this.ttlFor(domain, options?.ttl),
      ttlJitter: this.jitterFor(domain, options?.ttlJitter),
      counters: domain.counters,
    };
  }
}
