import { CacheConfigError } from '../errors.js';
import { hasControlChars } from '../values/keys.js';
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
 * built-in ones); throws `CacheConfigError` for a bad prefix or TTL, or two domains sharing a prefix.
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
  const byPrefix = new Map<string, string>();
  for (const [name, { prefix }] of Object.entries(domains)) {
    const other = byPrefix.get(prefix);
    if (other !== undefined) {
      throw new CacheConfigError(
        `domains ${other} and ${name} share the prefix '${prefix}'; give each its own`,
      );
    }
    byPrefix.set(prefix, name);
  }
  return domains;
}
