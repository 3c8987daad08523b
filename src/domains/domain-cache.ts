import type { BatchFactory, Factory } from '../get-set/factory-context.js';
import type { LoadOptions } from '../get-set/plan.js';
import type { Duration } from '../values/durations.js';

/** Options every call accepts: the domain ("db type") the key belongs to. Default `default`. */
export interface CallOptions<D extends string> {
  /** The domain of the key; default `default`. */
  dbType?: D;
}

/** Options of `set` / `setMany`: an explicit TTL instead of the domain's, its jitter, and tags. */
export interface SetOptions<D extends string> extends CallOptions<D> {
  /** Seconds, or a string such as `'10m'`. Default: the domain's. */
  ttl?: Duration;
  /** Spread of the expiries, a fraction of the TTL (see the `ttlJitter` option). Default: the domain's. */
  ttlJitter?: number;
  /** Tags the value carries (see `invalidateTags`): non-empty strings, at most 64 of 256 characters. */
  tags?: readonly string[];
}

/** Options of `getOrSet` / `getOrSetMany`: see `LoadOptions`. */
export interface GetOrSetOptions<D extends string> extends CallOptions<D>, LoadOptions {}

/** One entry of `setMany`. */
export interface SetEntry {
  /** The key, without the domain prefix. */
  key: string;
  /** The value; stored as JSON (or with the configured serializer). */
  value: unknown;
  /** TTL in seconds (or a string such as `'10m'`); default the call's `ttl`, else the domain's. */
  ttl?: Duration;
  /** Tags of this value, in addition to the call's `tags`. */
  tags?: readonly string[];
}

/** The calls of a cache that `DomainCache` binds to one domain (`Cache` has them all). */
export interface DomainCalls<D extends string> {
  get<T = unknown>(key: string, options?: CallOptions<D>): Promise<T | undefined>;
  set(key: string, value: unknown, options?: SetOptions<D>): Promise<boolean>;
  delete(key: string, options?: CallOptions<D>): Promise<boolean>;
  deletePattern(pattern: string, options?: CallOptions<D>): Promise<number | false>;
  deleteMany(keys: readonly string[], options?: CallOptions<D>): Promise<number | false>;
  getMany<T = unknown>(keys: readonly string[], options?: CallOptions<D>): Promise<Array<T | undefined>>;
  setMany(entries: readonly SetEntry[], options?: SetOptions<D>): Promise<boolean>;
  getOrSet<T>(key: string, factory: Factory<T>, options?: GetOrSetOptions<D>): Promise<T>;
  getOrSetMany<T>(
    keys: readonly string[],
    batchFactory: BatchFactory<T>,
    options?: GetOrSetOptions<D>,
  ): Promise<Array<T | undefined>>;
}

/** A view of the cache with `dbType` bound; created by `cache.db(name)`. */
export class DomainCache<D extends string = string> {
  readonly #cache: DomainCalls<D>;
  /** The domain every call of this view works in. */
  readonly dbType: D;
  /** The options of the calls that take nothing else, made once (the cache never changes them). */
  readonly #only: CallOptions<D>;

  /** @internal Made by `cache.db(name)`. */
  constructor(cache: DomainCalls<D>, dbType: D) {
    this.#cache = cache;
    this.dbType = dbType;
    this.#only = Object.freeze({ dbType });
  }

  /**
   * `options` with this view's domain, which a `dbType` among them cannot change. Built domain
   * first: in V8 (Node 20), adding a property to a spread copy (`{ ...options, dbType }`) makes an
   * object that costs about 0.5 µs to build and as much again to read, several times an L1 hit.
   */
  #bound<O extends object>(options: O | undefined): O & { dbType: D } {
    const bound = { dbType: this.dbType, ...options } as O & { dbType: D };
    bound.dbType = this.dbType;
    return bound;
  }

  /** See `Cache.get`. */
  get<T = unknown>(key: string): Promise<T | undefined> {
    return this.#cache.get<T>(key, this.#only);
  }

  /** See `Cache.set`. */
  set(key: string, value: unknown, options?: Omit<SetOptions<D>, 'dbType'>): Promise<boolean> {
    return this.#cache.set(key, value, this.#bound(options));
  }

  /** See `Cache.delete`. */
  delete(key: string): Promise<boolean> {
    return this.#cache.delete(key, this.#only);
  }

  /** See `Cache.deletePattern`. */
  deletePattern(pattern: string): Promise<number | false> {
    return this.#cache.deletePattern(pattern, this.#only);
  }

  /** See `Cache.deleteMany`. */
  deleteMany(keys: readonly string[]): Promise<number | false> {
    return this.#cache.deleteMany(keys, this.#only);
  }

  /** See `Cache.getMany`. */
  getMany<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    return this.#cache.getMany<T>(keys, this.#only);
  }

  /** See `Cache.setMany`. */
  setMany(entries: readonly SetEntry[], options?: Omit<SetOptions<D>, 'dbType'>): Promise<boolean> {
    return this.#cache.setMany(entries, this.#bound(options));
  }

  /** See `Cache.getOrSet`. */
  getOrSet<T>(key: string, factory: Factory<T>, options?: LoadOptions): Promise<T> {
    return this.#cache.getOrSet<T>(key, factory, this.#bound(options));
  }

  /** See `Cache.getOrSetMany`. */
  getOrSetMany<T>(
    keys: readonly string[],
    batchFactory: BatchFactory<T>,
    options?: LoadOptions,
  ): Promise<Array<T | undefined>> {
    return this.#cache.getOrSetMany<T>(keys, batchFactory, this.#bound(options));
  }
}
