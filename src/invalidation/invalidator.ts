import type { Cache } from '../cache.js';
import type { DomainConfig } from '../config/domains.js';
import { CacheConfigError, CacheKeyError, ConfirmationRequiredError } from '../errors.js';
import { leaseKey, revokeLeases } from '../get-set/lease.js';
import type { FillGuard } from '../l1/fill-guard.js';
import type { MemoryTier } from '../l1/memory.js';
import type { L2Driver } from '../l2/redis/driver.js';
import { describeError, type Logger } from '../logger.js';
import { assertValidKey, escapeGlob } from '../values/keys.js';
import { removeTagged, tagIndexes, tagIndexPattern, tagKeys } from './tags.js';

/**
 * The invalidation module (S7): the seed's four strategies as named functions — targeted
 * (`invalidate`), pattern (`invalidatePattern`, `invalidateDomain`), dashboard (configured groups:
 * `invalidateDashboardCache()`, `invalidateGroup(name)`), total (`flushAll`) — plus tags (G3).
 * Each resolves to the number of Redis keys removed, or `false` when Redis failed (never rejects
 * for that), and logs at info what it removed, why and how many. Other workers' L1 copies go through
 * the coherence mechanism, which sees every key removed in Redis.
 */

/** What one group removes: values carrying any of `tags`, the `keys`, and the keys matching the `patterns`. */
export interface InvalidationGroup<D extends string = string> {
  tags?: readonly string[];
  keys?: ReadonlyArray<{ key: string; dbType: D }>;
  patterns?: ReadonlyArray<{ pattern: string; dbType: D }>;
}

/** `invalidation` option of `createCache()`: groups by name; each name `x` gets `invalidateXCache()`. */
export interface InvalidationOptions<
  G extends Record<string, InvalidationGroup> = Record<string, InvalidationGroup>,
> {
  groups?: G;
}

/**
 * `flushAll` options. `app`: every key under every configured prefix (SCAN + UNLINK) and this app's
 * tag index entries; other apps sharing the Redis keep theirs. `database`: `FLUSHDB`, everything in
 * the database, only with `confirm: true`.
 */
export type FlushOptions =
  | { scope: 'app'; reason?: string }
  | { scope: 'database'; confirm: true; reason?: string };

/** A validated group. */
export interface ResolvedGroup {
  tags: string[];
  keys: Array<{ key: string; dbType: string }>;
  patterns: Array<{ pattern: string; dbType: string }>;
}

/** What the invalidator needs from the cache that owns it. */
export interface InvalidationHost {
  readonly l1: MemoryTier | undefined;
  readonly l2: L2Driver;
  readonly guard: FillGuard;
  readonly log: Logger;
  readonly domains: Readonly<Record<string, DomainConfig>>;
  readonly groups: Readonly<Record<string, ResolvedGroup>>;
  /** The prefix of `dbType`; throws `CacheKeyError` for an unknown one. */
  prefixOf(dbType: string): string;
  /** `cache.deletePattern`: never rejects for Redis failures (`false`). */
  deletePattern(pattern: string, dbType: string): Promise<number | false>;
  /** Counts `removed` deletes in the domain's statistics. */
  deleted(dbType: string, removed: number): void;
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

const GROUP_NAME = /^[A-Za-z][A-Za-z0-9]*$/;
/** Tag index shards (Redis Cluster) emptied concurrently by `invalidateTags`. */
const SHARDS_AT_ONCE = 64;

/** The function name of group `name`. */
export function groupFunctionName(name: string): string {
  return `invalidate${name[0]!.toUpperCase()}${name.slice(1)}Cache`;
}

/** Validates the `invalidation.groups` option against the configured domains; throws `CacheConfigError`. */
export function resolveGroups(
  groups: unknown,
  domains: Readonly<Record<string, DomainConfig>>,
  source = 'invalidation.groups',
): Record<string, ResolvedGroup> {
  if (groups === undefined) return {};
  if (groups === null || typeof groups !== 'object' || Array.isArray(groups)) {
    throw new CacheConfigError(
      `${source} must be an object of groups: { dashboard: { tags: ['dashboard'] } }`,
    );
  }
  const resolved: Record<string, ResolvedGroup> = {};
  const functionNames = new Map<string, string>();
  for (const [name, group] of Object.entries(groups)) {
    const at = `${source}.${name}`;
    if (!GROUP_NAME.test(name)) {
      throw new CacheConfigError(
        `${at}: a group name must be letters and digits starting with a letter (it becomes ${groupFunctionName('name')})`,
      );
    }
    const fn = groupFunctionName(name);
    const clash = functionNames.get(fn);
    if (clash !== undefined)
      throw new CacheConfigError(`${source}: groups ${clash} and ${name} both give ${fn}()`);
    functionNames.set(fn, name);
    resolved[name] = resolveGroup(group, domains, at);
  }
  return resolved;
}

function resolveGroup(
  group: unknown,
  domains: Readonly<Record<string, DomainConfig>>,
  at: string,
): ResolvedGroup {
  if (group === null || typeof group !== 'object' || Array.isArray(group)) {
    throw new CacheConfigError(`${at} must be an object { tags?, keys?, patterns? }`);
  }
  const { tags, keys, patterns, ...rest } = group as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) {
    throw new CacheConfigError(`${at}.${unknown} is not a group field; use tags, keys and patterns`);
  }
  const checked = <T>(field: string, check: () => T): T => {
    try {
      return check();
    } catch (err) {
      if (err instanceof CacheKeyError) throw new CacheConfigError(`${at}.${field}: ${err.message}`);
      throw err;
    }
  };
  const list = (field: string, value: unknown): unknown[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw new CacheConfigError(`${at}.${field} must be an array`);
    return value;
  };
  const domain = (field: string, dbType: unknown): string => {
    if (typeof dbType !== 'string' || !Object.hasOwn(domains, dbType)) {
      throw new CacheConfigError(
        `${at}.${field}.dbType must be one of ${Object.keys(domains).join(', ')}, got ${JSON.stringify(dbType)}`,
      );
    }
    return dbType;
  };
  checked('tags', () => tagKeys(tags));
  const resolved: ResolvedGroup = {
    tags: [...new Set(list('tags', tags) as string[])],
    keys: list('keys', keys).map((entry, i) => {
      const { key, dbType } = (entry ?? {}) as { key?: unknown; dbType?: unknown };
      checked(`keys[${i}].key`, () => assertValidKey(key));
      return { key: key as string, dbType: domain(`keys[${i}]`, dbType) };
    }),
    patterns: list('patterns', patterns).map((entry, i) => {
      const { pattern, dbType } = (entry ?? {}) as { pattern?: unknown; dbType?: unknown };
      checked(`patterns[${i}].pattern`, () => assertValidKey(pattern, 'pattern'));
      return { pattern: pattern as string, dbType: domain(`patterns[${i}]`, dbType) };
    }),
  };
  if (resolved.tags.length + resolved.keys.length + resolved.patterns.length === 0) {
    throw new CacheConfigError(`${at} is empty; give it tags, keys or patterns`);
  }
  return resolved;
}

/** A Redis failure inside an invalidation that already reported itself (deletePattern's `false`). */
class AlreadyReported extends Error {}

const hosts = new WeakMap<object, InvalidationHost>();

/** Lets `createInvalidator(cache, …)` reach the internals of `cache`; called by the cache itself. */
export function attachInvalidationHost(cache: object, host: InvalidationHost): void {
  hosts.set(cache, host);
}

/**
 * An invalidator over `cache` with its own `groups` (validated like the `invalidation.groups`
 * option; throws `CacheConfigError`). `cache.invalidation` is the one built from the cache's options.
 */
export function createInvalidator<
  D extends string,
  G extends Record<string, InvalidationGroup<NoInfer<D>>> = Record<never, InvalidationGroup>,
>(cache: Cache<D>, groups?: G): Invalidator<D, Extract<keyof G, string>> {
  const host = hosts.get(cache);
  if (host === undefined) throw new CacheConfigError('createInvalidator needs a cache made by createCache()');
  const own = resolveGroups(groups, host.domains, 'groups');
  return buildInvalidator<D, Extract<keyof G, string>>({ ...host, groups: own });
}

/** Builds the invalidator of `host` with one named function per group of `host.groups`. */
export function buildInvalidator<D extends string, G extends string>(
  host: InvalidationHost,
): Invalidator<D, G> {
  const invalidator = new InvalidationService(host);
  for (const name of Object.keys(host.groups)) {
    Object.defineProperty(invalidator, groupFunctionName(name), {
      value: (reason?: string) => invalidator.invalidateGroup(name, reason),
      enumerable: true,
    });
  }
  return invalidator as unknown as Invalidator<D, G>;
}

class InvalidationService implements InvalidationFunctions<string, string> {
  readonly #host: InvalidationHost;
  /** [prefix, dbType] of every domain, longest prefix first. */
  readonly #prefixes: Array<[string, string]>;

  constructor(host: InvalidationHost) {
    this.#host = host;
    this.#prefixes = Object.entries(host.domains)
      .map(([dbType, { prefix }]): [string, string] => [prefix, dbType])
      .sort(([a], [b]) => b.length - a.length);
  }

  invalidate(key: string, dbType: string, reason?: string): Promise<number | false> {
    return this.#run({ invalidation: 'key', dbType, key }, reason, () => this.#removeKey(key, dbType));
  }

  invalidatePattern(pattern: string, dbType: string, reason?: string): Promise<number | false> {
    return this.#run({ invalidation: 'pattern', dbType, pattern }, reason, () =>
      this.#deletePattern(pattern, dbType),
    );
  }

  invalidateDomain(dbType: string, reason?: string): Promise<number | false> {
    return this.#run({ invalidation: 'domain', dbType }, reason, () => this.#deletePattern('*', dbType));
  }

  invalidateTags(tags: readonly string[], reason?: string): Promise<number | false> {
    return this.#run({ invalidation: 'tags', tags }, reason, () => this.#removeTags(tags));
  }

  invalidateGroup(name: string, reason?: string): Promise<number | false> {
    return this.#run({ invalidation: 'group', group: name }, reason, async () => {
      const group = Object.hasOwn(this.#host.groups, name) ? this.#host.groups[name] : undefined;
      if (group === undefined) {
        const names = Object.keys(this.#host.groups);
        throw new CacheKeyError(
          `Unknown invalidation group ${JSON.stringify(name)}; configured groups: ${names.join(', ') || 'none'}`,
        );
      }
      // every part runs even when one fails, so a Redis hiccup removes as much as it can
      const parts = await Promise.allSettled([
        group.tags.length > 0 ? this.#removeTags(group.tags) : 0,
        ...group.keys.map(({ key, dbType }) => this.#removeKey(key, dbType)),
        ...group.patterns.map(({ pattern, dbType }) => this.#deletePattern(pattern, dbType)),
      ]);
      const failure = parts.find((part) => part.status === 'rejected');
      if (failure) throw failure.reason;
      return parts.reduce((sum, part) => sum + (part.status === 'fulfilled' ? part.value : 0), 0);
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
      return this.#run({ invalidation: 'flush', scope }, options.reason, () => this.#flushDatabase());
    }
    if (scope !== 'app') {
      throw new CacheKeyError(`flushAll scope must be 'app' or 'database', got ${JSON.stringify(scope)}`);
    }
    return this.#run({ invalidation: 'flush', scope }, options.reason, () => this.#flushApp());
  }

  /** Runs `work`, logs its outcome at info (or warn on failure); programming errors reject. */
  async #run(
    what: Record<string, unknown>,
    reason: string | undefined,
    work: () => Promise<number>,
  ): Promise<number | false> {
    const log = this.#host.log;
    try {
      const removed = await work();
      log.info({ ...what, reason, removed }, 'cachette: cache invalidated');
      return removed;
    } catch (err) {
      if (err instanceof CacheKeyError || err instanceof CacheConfigError) throw err;
      const cause = err instanceof AlreadyReported ? 'see the previous warning' : describeError(err);
      log.warn({ ...what, reason, err: cause }, 'cachette: invalidation failed; Redis did not complete it');
      return false;
    }
  }

  async #removeKey(key: string, dbType: string): Promise<number> {
    const host = this.#host;
    assertValidKey(key);
    const redisKey = host.prefixOf(dbType) + key;
    host.guard.touch(redisKey);
    host.l1?.delete(redisKey);
    // the lease goes first, in the same round trip: a getOrSet store landing between the two finds
    // no lease and writes nothing (the single UNLINK of `delete` cannot tell which key existed)
    const [, removed] = await Promise.all([
      host.l2.delete([leaseKey(redisKey, host.l2.sharded)]),
      host.l2.delete([redisKey]),
    ]);
    host.deleted(dbType, removed);
    return removed;
  }

  async #deletePattern(pattern: string, dbType: string): Promise<number> {
    const removed = await this.#host.deletePattern(pattern, dbType);
    if (removed === false) throw new AlreadyReported();
    return removed;
  }

  async #removeTags(tags: readonly string[]): Promise<number> {
    const indexes = tagKeys(tags);
    if (indexes.length === 0) throw new CacheKeyError('invalidateTags needs at least one tag');
    let removed = 0;
    for (const index of indexes) {
      // one server: the index itself; a cluster: its shards, up to one per hash slot, on every
      // primary, mostly small: emptied a few at a time rather than one round trip after the other
      for await (const sets of tagIndexes(this.#host.l2, index)) {
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
    const host = this.#host;
    return removeTagged(
      host.l2,
      index,
      this.#prefixes.map(([prefix]) => prefix),
      (member, existed) => {
        host.guard.touch(member);
        host.l1?.delete(member);
        if (!existed) return;
        // the longest matching prefix names the domain (prefixes may nest: `cat_`, `cat_x_`)
        const domain = this.#prefixes.find(([prefix]) => member.startsWith(prefix));
        if (domain !== undefined) host.deleted(domain[1], 1);
      },
    );
  }

  async #flushApp(): Promise<number> {
    const host = this.#host;
    this.#forgetLocal();
    try {
      let removed = 0;
      for (const [dbType, { prefix }] of Object.entries(host.domains)) {
        await revokeLeases(host.l2, prefix, () => true);
        let inDomain = 0;
        for await (const keys of host.l2.scan(`${escapeGlob(prefix)}*`))
          inDomain += await host.l2.delete(keys);
        host.deleted(dbType, inDomain);
        removed += inDomain;
      }
      // the app's entries in every tag index or shard (other apps' entries stay), and values written meanwhile
      for await (const indexes of host.l2.scan(tagIndexPattern(host.l2.sharded))) {
        for (const index of indexes) removed += await this.#removeIndexed(index);
      }
      return removed;
    } finally {
      // values read from Redis while the scan ran must not come back into L1
      this.#forgetLocal();
    }
  }

  async #flushDatabase(): Promise<number> {
    const host = this.#host;
    this.#forgetLocal();
    try {
      // every primary of a cluster (one server: just it)
      const sizes = await host.l2.commandOnPrimaries<number>(['DBSIZE']);
      // ASYNC: keys are gone at once, their memory is freed in the background (no long block)
      await host.l2.commandOnPrimaries(['FLUSHDB', 'ASYNC']);
      return sizes.reduce((sum, size) => sum + size, 0);
    } finally {
      this.#forgetLocal();
    }
  }

  #forgetLocal(): void {
    this.#host.guard.touchAll();
    this.#host.l1?.clear();
  }
}
