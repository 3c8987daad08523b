import { CacheConfigError } from '../errors.js';
import type { Duration } from '../values/durations.js';
import { hasControlChars, INTERNAL_NAMESPACE } from '../values/keys.js';
import { checkNumber, TTL } from './numbers.js';

/** A domain ("db type") as `createCache({ domains })` takes it. */
export interface DomainOptions {
  /** Prepended to every key of the domain (after the app's `keyPrefix`): the Redis key is `keyPrefix + prefix + key`. */
  prefix: string;
  /** Time to live of the domain's values in Redis: seconds, or a string such as `'10m'`. Default `defaultTtl`. */
  ttl?: Duration;
  /** Spread of the domain's expiries, a fraction of the TTL (see the `ttlJitter` option). Default the cache's. */
  ttlJitter?: number;
}

/** A configured domain: its full Redis key prefix and its TTL in seconds. */
export interface DomainConfig {
  /** The Redis key of a value is exactly `prefix + key`; this prefix includes the app's `keyPrefix`. */
  prefix: string;
  /** Time to live of the domain's values in Redis, in seconds. */
  ttl: number;
  /** The domain's own `ttlJitter`, when it has one. */
  ttlJitter?: number;
}

/**
 * The six domains of the Products Manager, on by default (`builtinDomains: false` leaves them out);
 * `default` takes its TTL from `defaultTtl` (`REDIS_CACHE_TTL`).
 */
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

/** Longest `keyPrefix` accepted, in UTF-16 code units. */
export const MAX_KEY_PREFIX_LENGTH = 256;

/**
 * Checks the app's key prefix (`keyPrefix` option or `CACHE_KEY_PREFIX`): a string without control
 * characters, and, if it holds a `{`, a complete non-empty Redis Cluster hash tag, since a lone
 * brace would put a key and its lease in different slots. Throws `CacheConfigError`.
 */
export function checkKeyPrefix(keyPrefix: unknown, source: string): string {
  if (typeof keyPrefix !== 'string') {
    throw new CacheConfigError(`${source} must be a string such as 'reports:', got ${typeof keyPrefix}`);
  }
  if (keyPrefix.length > MAX_KEY_PREFIX_LENGTH) {
    throw new CacheConfigError(
      `${source} is ${keyPrefix.length} characters long; the limit is ${MAX_KEY_PREFIX_LENGTH}`,
    );
  }
  if (hasControlChars(keyPrefix)) throw new CacheConfigError(`${source} must not contain control characters`);
  const open = keyPrefix.indexOf('{');
  if (open !== -1 && keyPrefix.indexOf('}', open + 1) <= open + 1) {
    throw new CacheConfigError(
      `${source} ${JSON.stringify(keyPrefix)} opens a Redis Cluster hash tag it does not close: use a complete tag such as '{app}:' (every key of the app in one slot) or no brace`,
    );
  }
  return keyPrefix;
}

/** What `resolveDomains` builds on. */
export interface DomainSettings {
  /** Whether the Products Manager's six domains are there (default `true`). */
  builtin: boolean;
  /** TTL of the `default` domain, and of domains that give none, in seconds. */
  defaultTtl: number;
  /** The app's key prefix, in front of every domain's prefix. */
  keyPrefix: string;
}

/**
 * The built-in domains (unless `settings.builtin` is false), `default` with `defaultTtl`, and the
 * `extra` ones (which may override the built-in ones), each prefix preceded by the app's key
 * prefix. Throws `CacheConfigError` for a bad prefix, TTL or jitter, prefixes that overlap,
 * or no domain at all.
 */
export function resolveDomains(
  extra: Record<string, DomainOptions> | undefined,
  settings: DomainSettings,
): Record<string, DomainConfig> {
  const { builtin, defaultTtl, keyPrefix } = settings;
  const own: Record<string, DomainConfig> = builtin
    ? { ...BUILTIN_DOMAINS, default: { prefix: 'default_', ttl: defaultTtl } }
    : {};
  if (extra !== undefined && (extra === null || typeof extra !== 'object' || Array.isArray(extra))) {
    throw new CacheConfigError(
      `domains must be an object such as { reports: { prefix: 'reports_', ttl: '10m' } }`,
    );
  }
  for (const [name, domain] of Object.entries(extra ?? {})) {
    own[name] = resolveDomain(name, domain, defaultTtl);
  }
  if (Object.keys(own).length === 0) {
    throw new CacheConfigError(
      `builtinDomains is false and no domain is configured; add your own: { domains: { reports: { prefix: 'reports_', ttl: '10m' } } }`,
    );
  }
  checkPrefixesApart(own);
  const domains: Record<string, DomainConfig> = {};
  for (const [name, domain] of Object.entries(own))
    domains[name] = { ...domain, prefix: keyPrefix + domain.prefix };
  return domains;
}

const DOMAIN_FIELDS: readonly string[] = ['prefix', 'ttl', 'ttlJitter'];

function resolveDomain(name: string, domain: DomainOptions, defaultTtl: number): DomainConfig {
  if (!domain || typeof domain.prefix !== 'string') {
    throw new CacheConfigError(`domains.${name}.prefix must be a string such as '${name}_'`);
  }
  const { prefix } = domain;
  const stray = Object.keys(domain).find((field) => !DOMAIN_FIELDS.includes(field));
  if (stray !== undefined) {
    throw new CacheConfigError(
      `domains.${name}.${stray} is not a domain field; use prefix, ttl and ttlJitter`,
    );
  }
  if (hasControlChars(prefix)) {
    throw new CacheConfigError(`domains.${name}.prefix must not contain control characters`);
  }
  const ttl = domain.ttl === undefined ? defaultTtl : checkNumber(domain.ttl, `domains.${name}.ttl`, TTL);
  const resolved: DomainConfig = { prefix, ttl };
  if (domain.ttlJitter !== undefined)
    resolved.ttlJitter = checkJitter(domain.ttlJitter, `domains.${name}.ttlJitter`);
  return resolved;
}

/** A `ttlJitter`: a fraction from 0 (none) up to, not including, 1. Throws `CacheConfigError`. */
export function checkJitter(value: unknown, source: string): number {
  const jitter = checkNumber(value, source, { min: 0 });
  if (jitter >= 1) {
    throw new CacheConfigError(
      `${source} is a fraction of the TTL from 0 to below 1 (0.1: up to 10% shorter), got ${jitter}`,
    );
  }
  return jitter;
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
