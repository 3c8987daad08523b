import type { DomainConfig } from '../config/domains.js';
import { CacheKeyError } from '../errors.js';
import { assertValidKey } from '../values/keys.js';
import type { DomainCounters, Stats } from './stats.js';

/** A configured domain, resolved once: its name, prefix and TTL, counters, and a memo of its Redis keys. */
export interface Domain {
  name: string;
  config: DomainConfig;
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
  readonly #resolved = new Map<string, Domain>();
  /** [prefix, name] of every domain, longest prefix first. */
  readonly #byPrefix: Array<[string, string]>;

  constructor(configs: Readonly<Record<string, DomainConfig>>, stats: Stats) {
    this.#configs = configs;
    this.#stats = stats;
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
    const name = dbType ?? 'default';
    // resolved once per domain: every call (an L1 hit too) passes here, so it must not allocate
    const known = this.#resolved.get(name);
    if (known !== undefined) return known;
    if (typeof name !== 'string') {
      throw new CacheKeyError(`dbType must be the name of a domain, got ${typeof name}`);
    }
    const config = this.#configs[name];
    const counters = this.#stats.byDomain[name];
    if (config === undefined || counters === undefined || !Object.hasOwn(this.#configs, name)) {
      const names = Object.keys(this.#configs).join(', ');
      throw new CacheKeyError(`Unknown dbType ${JSON.stringify(dbType)}; configured domains: ${names}`);
    }
    const domain = { name, config, counters, redisKeys: new Map<string, string>() };
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
   * keys: an L1 hit then neither re-validates the key nor builds the string again (a fresh
   * concatenation must be flattened and hashed by the L1 lookup: most of an L1 hit's cost over a raw
   * lru-cache get).
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

  /** The TTL of a value of `domain` in seconds: `ttl` if given (a whole number >= 1, else `CacheKeyError`), else the domain's. */
  ttlFor(domain: Domain, ttl: number | undefined): number {
    if (ttl === undefined) return domain.config.ttl;
    if (!Number.isInteger(ttl) || ttl < 1) {
      throw new CacheKeyError(`ttl must be a whole number of seconds >= 1, got ${String(ttl)}`);
    }
    return ttl;
  }

  /** What a getOrSet load of `domain` works with: prefix, TTL (`ttlFor`), counters. */
  loadTarget(
    domain: Domain,
    ttl: number | undefined,
  ): { prefix: string; ttl: number; counters: DomainCounters } {
    return { prefix: domain.config.prefix, ttl: this.ttlFor(domain, ttl), counters: domain.counters };
  }
}
