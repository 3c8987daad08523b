import { EventEmitter } from 'node:events';
import type { Cache } from '../cache.js';
import { escapeGlob } from '../values/keys.js';

/**
 * What Keyv hands a store and reads back (its `StoredData`): its serialised text by default, or the
 * `{ value, expires }` record itself when its serializer is off (cache-manager does that).
 */
export type KeyvStoredData<Value> = Value | KeyvRecord<Value> | undefined;

/** Keyv's record of a value. */
export interface KeyvRecord<Value> {
  /** The value. */
  value?: Value;
  /** When it expires, in ms since the epoch; absent: never. */
  expires?: number;
}

/** Options of `KeyvCachette`. */
export interface KeyvCachetteOptions<D extends string> {
  /** The domain whose prefix and TTL the values get. Default `default`; a domain of its own is best (see `clear`). */
  dbType?: D;
}

/** What `KeyvCachette.opts` says to Keyv and to whoever inspects the store. */
export interface KeyvCachetteInfo<D extends string> {
  /** `redis`: Keyv lists the keys of stores of this dialect with their `iterator`. */
  dialect: 'redis';
  /** Where Redis is, without the password. */
  url: string;
  /** The domain of the values. */
  dbType: D;
}

/** Keys listed per round trip by `iterator()`. */
const ITERATOR_PAGE = 100;

/** Keyv's TTL (ms, absent: none) as cachette's (whole seconds, absent: the domain's TTL). */
function seconds(ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined || !Number.isFinite(ttlMs) || ttlMs <= 0) return undefined;
  return Math.max(1, Math.ceil(ttlMs / 1000));
}

/**
 * A Keyv storage adapter over a cachette cache: `new Keyv({ store: new KeyvCachette(cache, { dbType })
 * })`, and so cache-manager 7, cacheable and NestJS's cache module, read and write through both tiers
 * (L1 in process, Redis shared, coherent across processes). Keys are Keyv's (`namespace:key`) in the
 * domain `dbType`; Keyv's expiry travels inside its record, so a TTL below a second still holds, while
 * Redis keeps the value for the TTL rounded up to whole seconds (the domain's TTL when Keyv gives none).
 * Redis failures answer misses and `false`, as everywhere in cachette; a key cachette refuses (empty,
 * longer than 1024 characters, control characters) rejects with `CacheKeyError`, which Keyv reports
 * as an `error` event.
 */
export class KeyvCachette<D extends string = string> extends EventEmitter {
  /** Read by Keyv: `dialect` `redis` tells it the store can list its keys (`iterator`). */
  readonly opts: KeyvCachetteInfo<D>;
  /** Set by Keyv: its namespace, which `clear` and `iterator` keep to. */
  namespace?: string | undefined;
  readonly #cache: Cache<D>;
  readonly #dbType: D;

  /** Throws `CacheKeyError` when `dbType` is not a domain of `cache`. */
  constructor(cache: Cache<D>, options: KeyvCachetteOptions<NoInfer<D>> = {}) {
    super();
    this.#cache = cache;
    this.#dbType = options.dbType ?? ('default' as D);
    cache.db(this.#dbType);
    this.opts = { dialect: 'redis', url: cache.status().l2.url, dbType: this.#dbType };
  }

  /** The record under `key`, or `undefined` (a miss, or Redis failed). */
  async get<Value>(key: string): Promise<KeyvStoredData<Value>> {
    return this.#cache.get<KeyvStoredData<Value>>(key, { dbType: this.#dbType });
  }

  /** The records under `keys`, in order, `undefined` for misses; one round trip for what L1 lacks. */
  async getMany<Value>(keys: string[]): Promise<Array<KeyvStoredData<Value>>> {
    return this.#cache.getMany<KeyvStoredData<Value>>(keys, { dbType: this.#dbType });
  }

  /** Stores Keyv's record for `ttl` ms; `false` if cachette refused it or Redis failed. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    return this.#cache.set(key, value, { dbType: this.#dbType, ttl: seconds(ttl) });
  }

  /** Stores several records in one round trip (a refusal or a Redis failure leaves them missing, as `set` does). */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    const values = entries.map(({ key, value, ttl }) => ({ key, value, ttl: seconds(ttl) }));
    await this.#cache.setMany(values, { dbType: this.#dbType });
  }

  /** `true` if the key existed and was removed, `false` if it did not exist or Redis failed. */
  async delete(key: string): Promise<boolean> {
    return ((await this.#cache.deleteMany([key], { dbType: this.#dbType })) || 0) > 0;
  }

  /** `true` if any of the keys existed and was removed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    return ((await this.#cache.deleteMany(keys, { dbType: this.#dbType })) || 0) > 0;
  }

  /** Whether a record is stored under `key`. */
  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  /** Whether a record is stored under each of `keys`. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    return (await this.getMany(keys)).map((value) => value !== undefined);
  }

  /**
   * Removes the keys of Keyv's namespace (`namespace:*`) from the domain; without a namespace,
   * every key of the domain: give Keyv a domain of its own.
   */
  async clear(): Promise<void> {
    await this.#cache.deletePattern(this.#namespaced(this.namespace), { dbType: this.#dbType });
  }

  /**
   * Every `[key, record]` of the namespace (`namespace:*`), listed with SCAN a page at a time (typed
   * as Keyv's adapter contract has it: the record is what Keyv stored, its text or `{ value, expires }`).
   */
  async *iterator<Value>(
    namespace?: string,
  ): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    const pattern = this.#namespaced(namespace);
    let cursor: string | undefined;
    do {
      const page = await this.#cache.keys({ dbType: this.#dbType, pattern, cursor, limit: ITERATOR_PAGE });
      if (page === false) return;
      const keys = page.keys.map(({ key }) => key);
      const values = await this.#cache.getMany<Awaited<Value>>(keys, { dbType: this.#dbType });
      for (let i = 0; i < keys.length; i++) {
        if (values[i] !== undefined) yield [keys[i]!, values[i]];
      }
      cursor = page.cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Leaves the cache open: it is the application's, to close with `cache.close()`. */
  async disconnect(): Promise<void> {}

  #namespaced(namespace: string | undefined): string {
    return namespace ? `${escapeGlob(namespace)}:*` : '*';
  }
}
