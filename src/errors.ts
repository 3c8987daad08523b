/** Base class of every error cachette throws; `code` is stable and safe to match on. */
export class CacheError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A key, pattern or dbType the caller passed is unusable: a programming error, always thrown. */
export class CacheKeyError extends CacheError {
  constructor(message: string) {
    super('E_CACHE_KEY', message);
  }
}

/** The configuration (options or environment) is invalid; thrown by `createCache()`. */
export class CacheConfigError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', message, options);
  }
}

/** A value cannot be stored (unserialisable, too large, or refused); reported, never thrown by `set`. */
export class CacheValueError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CACHE_VALUE', message, options);
  }
}

/** `getOrSet` gave up waiting for a factory after `hardTimeoutMs` and had no stale value to serve. */
export class FactoryTimeoutError extends CacheError {
  /** The Redis key whose factory was too slow. */
  readonly key: string;
  readonly timeoutMs: number;

  constructor(key: string, timeoutMs: number) {
    super(
      'E_FACTORY_TIMEOUT',
      `cachette: the factory for ${key} did not settle within ${timeoutMs} ms (hardTimeoutMs) and no stale value was available`,
    );
    this.key = key;
    this.timeoutMs = timeoutMs;
  }
}

/** A destructive call lacks its explicit confirmation (`flushAll({ scope: 'database' })` without `confirm: true`). */
export class ConfirmationRequiredError extends CacheError {
  constructor(message: string) {
    super('E_CONFIRMATION_REQUIRED', message);
  }
}
