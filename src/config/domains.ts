/** A domain ("db type" in the original document): a key prefix and a TTL in seconds. */
export interface DomainConfig {
  /** Prepended to every key of the domain; the Redis key is exactly `prefix + key`. */
  prefix: string;
  /** Time to live of the domain's values in Redis, in seconds. */
  ttl: number;
}

/** The six domains of the Products Manager (S4); `default` takes its TTL from `REDIS_CACHE_TTL`. */
export const BUILTIN_DOMAINS = {
  catalog: { prefix: 'catalog_', ttl: 7200 },
  media: { prefix: 'media_', ttl: 3600 },
  imports: { prefix: 'imports_', ttl: 1800 },
  code2asin: { prefix: 'code2asin_', ttl: 86400 },
  analytics: { prefix: 'analytics_', ttl: 3600 },
  default: { prefix: 'default_', ttl: 3600 },
} as const satisfies Record<string, DomainConfig>;

export type BuiltinDomain = keyof typeof BUILTIN_DOMAINS;
