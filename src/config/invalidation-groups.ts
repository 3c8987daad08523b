import { CacheConfigError, CacheKeyError } from '../errors.js';
import { assertValidKey } from '../values/keys.js';
import { checkTags } from '../values/tags.js';
import type { DomainConfig } from './domains.js';

/**
 * The invalidation module's groups (`invalidation.groups` of `createCache()`, or the groups of
 * `createInvalidator()`): named sets of tags, keys and patterns, each removed by one call such as
 * `invalidateDashboardCache()`. Validated here against the configured domains.
 */

/** What one group removes: values carrying any of `tags`, the `keys`, and the keys matching the `patterns`. */
export interface InvalidationGroup<D extends string = string> {
  /** Every value carrying any of these tags, in any domain. */
  tags?: readonly string[];
  /** Single keys, each in its domain. */
  keys?: ReadonlyArray<GroupKey<D>>;
  /** Globs on the part after the prefix, each confined to its domain (as `deletePattern`). */
  patterns?: ReadonlyArray<GroupPattern<D>>;
}

/** One key of an invalidation group. */
export interface GroupKey<D extends string = string> {
  /** The key, without the domain prefix. */
  key: string;
  /** Its domain. */
  dbType: D;
}

/** One pattern of an invalidation group. */
export interface GroupPattern<D extends string = string> {
  /** A Redis glob on the part of keys after the prefix. */
  pattern: string;
  /** The domain it is confined to. */
  dbType: D;
}

/** `invalidation` option of `createCache()`: groups by name; each name `x` gets `invalidateXCache()`. */
export interface InvalidationOptions<
  G extends Record<string, InvalidationGroup> = Record<string, InvalidationGroup>,
> {
  /** The groups by name (letters and digits). */
  groups?: G;
}

/** A validated group. */
export interface ResolvedGroup {
  tags: string[];
  keys: Array<{ key: string; dbType: string }>;
  patterns: Array<{ pattern: string; dbType: string }>;
}

const GROUP_NAME = /^[A-Za-z][A-Za-z0-9]*$/;
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
  checked('tags', () => checkTags(tags));
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
