import { CacheConfigError } from '../errors.js';
import { hasControlChars, INTERNAL_NAMESPACE } from '../values/keys.js';
import { pickNumber, TTL } from './numbers.js';

/** A domain ("db type"): a key prefix and a TTL in seconds. */
export interface DomainConfig {
  /** Prepended to every key of the domain; the Redis key is exactly `prefix + key`. */
  prefix: string;
  /** Time to live of the domain's values in Redis, in seconds. */
  ttl: number;
}

/** The six domains of the Products Manager ; `default` takes its TTL from `REDIS_CACHE_TTL`. */
export const BUILTIN_DOMAINS: Readonly<Record<BuiltinDomain, Readonly<DomainConfig>>> = {
  catalog: { prefix: 'catalog_', ttl: 7200 },
  media: { prefix: 'media_', ttl: 3600 },
  imports: { prefix: 'imports_', ttl: 1800 },
  code2asin: { prefix: 'code2asin_', ttl: 86400 },
  analytics: { prefix: 'analytics_', ttl: 3600 },
  default: { prefix: 'default_', ttl: 3600 },
};

/** The names of the built-in domains: `catalog`, `media`, `imports`, `code2asin`, `analytics`, `default`. */
export type BuiltinDomain = 'catalog' | 'media' | 'imports' | 'code2asin' | 'analytics' | 'default';

/**
 * The built-in domains, `default` with `defaultTtl`, and the `extra` ones (which may override the
 * built-in ones); throws `CacheConfigError` for a bad prefix or TTL, or prefixes that overlap.
 */
export function resolveDomains(
  extra: Record<string, DomainConfig> | undefined,
  defaultTtl: number,
): Record<string, DomainConfig> {
  const domains: Record<string, DomainConfig> = {
    ...BUILTIN_DOMAINS,
    default: { prefix: 'default_', ttl: defaultTtl },
  };
  for (const [name, domain] of Object.entries(extra ?? {})) {
    if (!domain || typeof domain.prefix !== 'string') {
      throw new CacheConfigError(`domains.${name}.prefix must be a string such as '${name}_'`);
    }
    if (hasControlChars(domain.prefix)) {
      throw new CacheConfigError(`domains.${name}.prefix must not contain control characters`);
    }
    pickNumber(domain.ttl, {}, undefined, `domains.${name}.ttl`, 0, TTL);
    domains[name] = { prefix: domain.prefix, ttl: domain.ttl };
  }
  checkPrefixesApart(domains);
  return domains;
}

/**
 * Throws `CacheConfigError` unless every prefix keeps its domain's keys apart from the others' and
 * from cachette's own: a prefix that starts another's (an empty one starts every other) would let
 * `deletePattern`, `invalidateDomain` and key counts of one domain reach the other's keys, and one
 * that overlaps the internal namespace would reach leases and tag indexes.
 */
function checkPrefixesApart(domains: Record<string, DomainConfig>): void {
  const entries = Object.entries(domains);
  for (const [name, { prefix }] of entries) {
    for (const [other, { prefix: otherPrefix }] of entries) {
      if (other === name || !otherPrefix.startsWith(prefix)) continue;
      let reason: string;
      if (prefix === otherPrefix) reason = `share the prefix '${prefix}'`;
      else if (prefix === '') {
        reason = `overlap: ${name}'s prefix is empty, so it reaches every key, ${other}'s ('${otherPrefix}') and cachette's own included`;
      } else {
        reason = `overlap: every key of ${other} ('${otherPrefix}') starts with ${name}'s prefix '${prefix}', so clearing ${name} would clear ${other} too`;
      }
      throw new CacheConfigError(
        `domains ${name} and ${other} ${reason}; give each a non-empty prefix that does not start another's`,
      );
    }
    if (prefix.startsWith(INTERNAL_NAMESPACE.slice(0, -1)) || INTERNAL_NAMESPACE.startsWith(prefix)) {
      throw new CacheConfigError(
        `domains.${name}.prefix '${prefix}' overlaps cachette's internal namespace '${INTERNAL_NAMESPACE}' (leases, tag indexes), which its pattern deletes would reach; give it a prefix such as '${name}_'`,
      );
    }
  }
}
