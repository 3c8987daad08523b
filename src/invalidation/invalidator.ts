import type { ResolvedGroup } from '../config/invalidation-groups.js';
import { groupFunctionName } from '../config/invalidation-groups.js';
import type { Domains } from '../domains/registry.js';
import type { L2Failures } from '../domains/stats.js';
import { CacheConfigError, CacheKeyError, ConfirmationRequiredError } from '../errors.js';
import { revokeLeases } from '../get-set/lease.js';
import type { L1 } from '../l1/l1.js';
import type { L2Driver } from '../l2/driver.js';
import { removeTagged, tagIndexes } from '../l2/tag-index.js';
import type { Logger } from '../logger.js';
import {
  type DeleteTrace,
  deleteChannel,
  type InvalidateTrace,
  invalidateChannel,
  traced,
  traceRemoval,
} from '../tracing/channels.js';
import { Glob } from '../values/glob.js';
import { assertValidKeys, confinedPattern, escapeGlob } from '../values/keys.js';

/**
 * The invalidation module: the four strategies as named functions — targeted (`invalidate`),
 * pattern (`invalidatePattern`, `invalidateDomain`), groups such as a dashboard's
 * (`invalidateDashboardCache()`, `invalidateGroup(name)`), total (`flushAll`) — plus tags.
 * Each resolves to the number of Redis keys removed, or `false` when Redis failed (never rejects
 * for that), and logs at info what it removed, why and how many. Other workers' L1 copies go through
 * the coherence mechanism, which sees every key removed in Redis.
 *
 * An invalidation Redis did not complete is owed to it (l2/pending/) and applied as soon as it
 * answers; this process's L1 drops what it covers at once. A failure is counted, and the outage it
 * belongs to is logged once by the driver: no line per failed call.
 */

/**
 * `flushAll` options. `app`: every key under every configured prefix (SCAN + UNLINK) and this app's
 * tag index entries; other apps sharing the Redis keep theirs. `database`: `FLUSHDB`, everything in
 * the database, only with `confirm: true`.
 */
export type FlushOptions = FlushApp | FlushDatabase;

/** `flushAll` of every key under the configured prefixes. */
export interface FlushApp {
  /** The application's keys. */
  scope: 'app';
  /** Why, for the log. */
  reason?: string;
}

/** `flushAll` of the whole Redis database. */
export interface FlushDatabase {
  /** Everything in the database, other applications' keys included. */
  scope: 'database';
  /** Required: emptying a shared database is never an accident. */
  confirm: true;
  /** Why, for the log. */
  reason?: string;
}

/** What invalidations work on: both tiers, the domains, and where Redis failures are counted. */
export interface InvalidationParts {
  readonly l1: L1;
  readonly l2: L2Driver;
  readonly domains: Domains;
  readonly failures: L2Failures;
  readonly log: Logger;
}

/** The function a group `name` gets: `dashboard` → `invalidateDashboardCache`. */
export type GroupFunctionName<G extends string> = `invalidate${Capitalize<G>}Cache`;

/** One `invalidate<Name>Cache(reason?)` per configured group. */
export type NamedInvalidations<G extends string> = {
  readonly [K in G as GroupFunctionName<K>]: (reason?: string) => Promise<number | false>;
};

/** The invalidation functions; `G` names the configured groups. */
export interface InvalidationFunctions<D extends string = string, G extends string = never> {
  /** Targeted: removes one key (and its getOrSet lease) from both tiers; 1 or 0, `false` if Redis failed. */
  invalidate(key: string, dbType: D, reason?: string): Promise<number | false>;
  /** Pattern: removes the domain's keys matching the glob (SCAN + UNLINK); how many, `false` if Redis failed. */
  invalidatePattern(pattern: string, dbType: D, reason?: string): Promise<number | false>;
  /** Pattern: removes every key of the domain; how many, `false` if Redis failed. */
  invalidateDomain(dbType: D, reason?: string): Promise<number | false>;
  /** Dashboard and the like: removes what the group names; how many, `false` if any part failed. */
  invalidateGroup(name: G, reason?: string): Promise<number | false>;
  /** Removes every value carrying any of `tags`, in any domain; how many, `false` if Redis failed. */
  invalidateTags(tags: readonly string[], reason?: string): Promise<number | false>;
  /** Total: see `FlushOptions`; how many keys, `false` if Redis failed; rejects without the confirmation. */
  flushAll(options: FlushOptions): Promise<number | false>;
}

/** An invalidator: the general functions and one named function per group. */
export type Invalidator<D extends string = string, G extends string = never> = InvalidationFunctions<D, G> &
  NamedInvalidations<G>;

/** What an invalidation works on, as logged and traced. */
type Invalidation = Omit<InvalidateTrace, 'operation' | 'reason'>;

/** Tag index shards (Redis Cluster) emptied concurrently by `invalidateTags`. */
const SHARDS_AT_ONCE = 64;

/** Builds the invalidator over `parts` with one named function per group of `groups`. */
export function buildInvalidator<D extends string, G extends string>(
  parts: InvalidationParts,
  groups: Readonly<Record<string, ResolvedGroup>>,
): Invalidator<D, G> & Invalidations {
  const invalidator = new Invalidations(parts, groups);
  for (const name of Object.keys(groups)) {
    Object.defineProperty(invalidator, groupFunctionName(name), {
      value: (reason?: string) => invalidator.invalidateGroup(name, reason),
      enumerable: true,
    });
  }
  return invalidator as unknown as Invalidator<D, G> & Invalidations;
}

/** The invalidation functions over one cache's tiers; `buildInvalidator` adds the named group functions. */
export class Invalidations implements InvalidationFunctions<string, string> {
  readonly #parts: InvalidationParts;
  readonly #groups: Readonly<Record<string, ResolvedGroup>>;

  constructor(parts: InvalidationParts, groups: Readonly<Record<string, ResolvedGroup>>) {
    this.#parts = parts;
    this.#groups = groups;
  }

  invalidate(key: string, dbType: string, reason?: string): Promise<number | false> {
    return this.#run('invalidate', { invalidation: 'key', dbType, key }, reason, () =>
      this.#deleteMany([key], dbType, 'invalidate'),
    );
  }

  invalidatePattern(pattern: string, dbType: string, reason?: string): Promise<number | false> {
    return this.#run('invalidatePattern', { invalidation: 'pattern', dbType, pattern }, reason, () =>
      this.deletePattern(pattern, dbType),
    );
  }

  invalidateDomain(dbType: string, reason?: string): Promise<number | false> {
    return this.#run('invalidateDomain', { invalidation: 'domain', dbType }, reason, () =>
      this.deletePattern('*', dbType),
    );
  }

  invalidateTags(tags: readonly string[], reason?: string): Promise<number | false> {
    return this.#run('invalidateTags', { invalidation: 'tags', tags }, reason, () => this.#removeTags(tags));
  }

  invalidateGroup(name: string, reason?: string): Promise<number | false> {
    return this.#run('invalidateGroup', { invalidation: 'group', group: name }, reason, async () => {
      const group = Object.hasOwn(this.#groups, name) ? this.#groups[name] : undefined;
      if (group === undefined) {
        const names = Object.keys(this.#groups);
        throw new CacheKeyError(
          `Unknown invalidation group ${JSON.stringify(name)}; configured groups: ${names.join(', ') || 'none'}`,
        );
      }
      // every part runs even when one fails, so a Redis hiccup removes as much as it can
      const parts = await Promise.allSettled([
        group.tags.length > 0 ? this.#removeTags(group.tags) : 0,
        ...group.keys.map(({ key, dbType }) => this.#deleteMany([key], dbType)),
        ...group.patterns.map(({ pattern, dbType }) => this.deletePattern(pattern, dbType)),
      ]);
      let removed = 0;
      let reported = false;
      for (const part of parts) {
        if (part.status === 'rejected') throw part.reason;
        if (part.value === false) reported = true;
        else removed += part.value;
      }
      return reported ? false : removed;
    });
  }

  async flushAll(options: FlushOptions): Promise<number | false> {
    const scope = (options as { scope?: unknown } | undefined)?.scope;
    if (scope === 'database') {
      if ((options as { confirm?: unknown }).confirm !== true) {
        throw new ConfirmationRequiredError(
          "flushAll({ scope: 'database' }) empties the whole Redis database, other apps' keys included; pass confirm: true to mean it, or use scope: 'app'",
        );
      }
      return this.#run('flushAll', { invalidation: 'flush', scope }, options.reason, () =>
        this.#flushDatabase(),
      );
    }
    if (scope !== 'app') {
      throw new CacheKeyError(`flushAll scope must be 'app' or 'database', got ${JSON.stringify(scope)}`);
    }
    return this.#run('flushAll', { invalidation: 'flush', scope }, options.reason, () => this.#flushApp());
  }

  /**
   * Removes every key of the domain matching `pattern` (a Redis glob on the part after the prefix),
   * with SCAN + UNLINK in batches, from Redis and L1, and stops getOrSet loads of matching keys from
   * storing. Resolves to the number of keys removed in Redis, `false` if Redis failed (counted and
   * logged); a bad pattern or dbType throws `CacheKeyError`.
   */
  async deletePattern(pattern: string, dbType: string | undefined): Promise<number | false> {
    const { l1, l2, domains, failures } = this.#parts;
    const { config, counters } = domains.resolve(dbType);
    const { prefix } = config;
    const match = confinedPattern(prefix, pattern);
    // L1 and the lease registry select what SCAN selects in Redis: the same pattern, the same rules
    const glob = new Glob(match);
    const matches = (redisKey: string) => glob.matches(redisKey);
    l1.evictWhere(prefix, matches);
    let removed = 0;
    try {
      // getOrSet loads already running for matching keys will not store their results (see get-set/lease.ts)
      await revokeLeases(l2, prefix, matches);
      for await (const keys of l2.scan(match)) removed += await l2.delete(keys);
      counters.deletes += removed;
      return removed;
    } catch (err) {
      l2.owe({ kind: 'pattern', prefix, pattern });
      failures.report('deletePattern', counters, err);
      return false;
    } finally {
      // keys read from Redis while the scan ran must not come back into L1
      l1.evictWhere(prefix, matches);
    }
  }

  /**
   * Removes `keys` of one domain from both tiers, with their getOrSet leases (so no load running
   * anywhere stores an outdated value). Resolves to how many of them existed in Redis, `false` if
   * Redis failed (counted and logged); a bad key or dbType throws `CacheKeyError`.
   */
  deleteMany(keys: readonly string[], dbType: string | undefined): Promise<number | false> {
    if (!traced(deleteChannel)) return this.#deleteMany(keys, dbType);
    const context: DeleteTrace = { operation: 'deleteMany', keys, dbType: dbType ?? 'default' };
    return traceRemoval(deleteChannel, context, () => this.#deleteMany(keys, dbType));
  }

  /** `operation`: the call whose failure this is, as counted and logged. */
  async #deleteMany(
    keys: readonly string[],
    dbType: string | undefined,
    operation = 'deleteMany',
  ): Promise<number | false> {
    const { l1, l2, domains, failures } = this.#parts;
    const domain = domains.resolve(dbType);
    const { prefix } = domain.config;
    assertValidKeys(keys);
    const redisKeys = keys.map((key) => prefix + key);
    for (const redisKey of redisKeys) l1.evict(redisKey);
    if (redisKeys.length === 0) return 0;
    try {
      // the leases go first, in the same round trip: a getOrSet store landing between the two finds
      // no lease and writes nothing, and the second UNLINK counts the keys alone
      const [, removed] = await Promise.all([
        l2.delete(redisKeys.map((redisKey) => l2.keyspace.leaseKey(redisKey, l2.sharded))),
        l2.delete(redisKeys),
      ]);
      domain.counters.deletes += removed;
      return removed;
    } catch (err) {
      l2.owe({ kind: 'keys', prefix, keys: redisKeys });
      failures.report(operation, domain.counters, err);
      return false;
    }
  }

  /**
   * Runs `work`, logs its outcome at info (or warn on failure; `false` is a failure already
   * reported), traced on `cachette:invalidate` when anyone listens; programming errors reject.
   */
  #run(
    operation: string,
    what: Invalidation,
    reason: string | undefined,
    work: () => Promise<number | false>,
  ) {
    if (!traced(invalidateChannel)) return this.#logged(operation, what, reason, work);
    const context: InvalidateTrace = { operation: 'invalidate', ...what, reason };
    return traceRemoval(invalidateChannel, context, () => this.#logged(operation, what, reason, work));
  }

  async #logged(
    operation: string,
    what: Invalidation,
    reason: string | undefined,
    work: () => Promise<number | false>,
  ): Promise<number | false> {
    try {
      const removed = await work();
      if (removed !== false)
        this.#parts.log.info({ ...what, reason, removed }, 'cachette: cache invalidated');
      return removed;
    } catch (err) {
      if (err instanceof CacheKeyError || err instanceof CacheConfigError) throw err;
      this.#parts.failures.report(operation, undefined, err);
      return false;
    }
  }

  async #removeTags(tags: readonly string[]): Promise<number> {
    const indexes = this.#parts.l2.keyspace.tagKeys(tags);
    if (indexes.length === 0) throw new CacheKeyError('invalidateTags needs at least one tag');
    try {
      return await this.#removeIndexes(indexes);
    } catch (err) {
      // L1 does not know which of its copies carry the tags: none may stay
      this.#parts.l1.evictAll();
      this.#parts.l2.owe({ kind: 'tags', indexes });
      throw err;
    }
  }

  async #removeIndexes(indexes: readonly string[]): Promise<number> {
    let removed = 0;
    for (const index of indexes) {
      // one server: the index itself; a cluster: its shards, up to one per hash slot, on every
      // primary, mostly small: emptied a few at a time rather than one round trip after the other
      for await (const sets of tagIndexes(this.#parts.l2, index)) {
        for (let i = 0; i < sets.length; i += SHARDS_AT_ONCE) {
          const counts = await Promise.all(
            sets.slice(i, i + SHARDS_AT_ONCE).map((set) => this.#removeIndexed(set)),
          );
          for (const count of counts) removed += count;
        }
      }
    }
    return removed;
  }

  /** Removes the values listed in one tag index (or shard), evicting them from this process's L1 batch by batch. */
  #removeIndexed(index: string): Promise<number> {
    const { l1, l2, domains } = this.#parts;
    return removeTagged(l2, index, domains.prefixes, (member, existed) => {
      l1.evict(member);
      if (!existed) return;
      const domain = domains.owning(member);
      if (domain !== undefined) domain.counters.deletes++;
    });
  }

  async #flushApp(): Promise<number> {
    const { l1, l2 } = this.#parts;
    l1.evictAll();
    try {
      return await this.#removeApp();
    } catch (err) {
      l2.owe({ kind: 'flush' });
      throw err;
    } finally {
      // values read from Redis while the scan ran must not come back into L1
      l1.evictAll();
    }
  }

  async #removeApp(): Promise<number> {
    const { l2, domains } = this.#parts;
    let removed = 0;
    for (const name of Object.keys(domains.configs)) {
      const domain = domains.resolve(name);
      const { prefix } = domain.config;
      await revokeLeases(l2, prefix, () => true);
      let inDomain = 0;
      for await (const keys of l2.scan(`${escapeGlob(prefix)}*`)) inDomain += await l2.delete(keys);
      domain.counters.deletes += inDomain;
      removed += inDomain;
    }
    // the app's entries in every tag index or shard (other apps' entries stay), and values written meanwhile
    for await (const indexes of l2.scan(l2.keyspace.tagIndexPattern(l2.sharded))) {
      for (const index of indexes) removed += await this.#removeIndexed(index);
    }
    return removed;
  }

  async #flushDatabase(): Promise<number> {
    const { l1, l2 } = this.#parts;
    l1.evictAll();
    try {
      // every primary of a cluster (one server: just it)
      const sizes = await l2.commandOnPrimaries<number>(['DBSIZE']);
      // ASYNC: keys are gone at once, their memory is freed in the background (no long block)
      await l2.commandOnPrimaries(['FLUSHDB', 'ASYNC']);
      return sizes.reduce((sum, size) => sum + size, 0);
    } catch (err) {
      // replaying a FLUSHDB later could remove what others wrote since: what is owed is the app's keys
      l2.owe({ kind: 'flush' });
      throw err;
    } finally {
      l1.evictAll();
    }
  }
}
