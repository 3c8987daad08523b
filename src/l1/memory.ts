import { LRUCache } from 'lru-cache';

/** Fixed cost added to each entry's size, for the key and the bookkeeping around it, in bytes. */
const ENTRY_OVERHEAD_BYTES = 64;

/**
 * A value kept as its serialised text until a read here needs it (a write, or a read from Redis
 * whose caller got its own parsed copy): a write costs no parse, and a value never read again here
 * is never held as an object graph, which takes several times its text's size on the heap.
 */
class Unparsed {
  constructor(
    readonly text: string,
    readonly size: number,
  ) {}
}

/**
 * A value parsed by its first read here, with the settled promise of it that every later `hit`
 * hands out: an L1 hit then allocates nothing, not even the promise an asynchronous API answers with.
 */
class Parsed {
  readonly settled: Promise<unknown>;
  constructor(readonly value: unknown) {
    this.settled = Promise.resolve(value);
  }
}

export interface MemoryTierOptions {
  maxEntries: number;
  maxBytes: number;
  clone: boolean;
}

/**
 * L1: the per-process memory tier. Values arrive as text and are parsed on their first hit here,
 * then kept as parsed objects so that every later hit costs one map lookup and no parsing; by
 * default the same object is handed to every caller from then on (see docs/concepts.md). Entries expire
 * lazily on read (no per-entry timers).
 */
export class MemoryTier {
  readonly #lru: LRUCache<string, Unparsed | Parsed>;
  readonly #clone: boolean;
  readonly #parse: (text: string) => unknown;

  /** `parse` turns the texts given to `setText` into values (the cache's serializer). */
  constructor(options: MemoryTierOptions, parse: (text: string) => unknown = JSON.parse) {
    this.#clone = options.clone;
    this.#parse = parse;
    this.#lru = new LRUCache({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      ttlAutopurge: false,
      allowStale: false,
      updateAgeOnGet: false,
    });
  }

  /** The value under `key`, or `undefined` on a miss. */
  get(key: string): unknown {
    const parsed = this.#parsed(key);
    if (parsed === undefined) return undefined;
    return this.#clone ? structuredClone(parsed.value) : parsed.value;
  }

  /** The value under `key` as a settled promise (the same one for every hit, unless `clone`), or `undefined` on a miss. */
  hit(key: string): Promise<unknown> | undefined {
    const parsed = this.#parsed(key);
    if (parsed === undefined) return undefined;
    return this.#clone ? Promise.resolve(structuredClone(parsed.value)) : parsed.settled;
  }

  #parsed(key: string): Parsed | undefined {
    const stored = this.#lru.get(key);
    if (stored === undefined || stored instanceof Parsed) return stored;
    return this.#parseInPlace(key, stored);
  }

  /** First read of a value stored as text: parses it and keeps the value instead, same TTL and size. */
  #parseInPlace(key: string, entry: Unparsed): Parsed | undefined {
    let value: unknown;
    try {
      value = this.#parse(entry.text);
    } catch {
      value = undefined;
    }
    if (value === undefined) {
      this.#lru.delete(key);
      return undefined;
    }
    const parsed = new Parsed(value);
    this.#lru.set(key, parsed, { noUpdateTTL: true, size: entry.size });
    return parsed;
  }

  /** Whether `key` is present and fresh, without touching its recency. */
  has(key: string): boolean {
    return this.#lru.has(key);
  }

  /**
   * Stores the value whose serialised text is `text` for `ttlMs` milliseconds, parsed on its first
   * read: the caller's own object is never kept, so mutating it later cannot change the cached value.
   */
  setText(key: string, text: string, ttlMs: number): void {
    if (ttlMs <= 0) {
      this.#lru.delete(key);
      return;
    }
    const size = text.length + key.length + ENTRY_OVERHEAD_BYTES;
    this.#lru.set(key, new Unparsed(text, size), { ttl: ttlMs, size });
  }

  delete(key: string): void {
    this.#lru.delete(key);
  }

  /** Removes every key for which `matches` is true; returns how many were removed. */
  deleteWhere(matches: (key: string) => boolean): number {
    let removed = 0;
    for (const key of this.#lru.keys()) {
      if (matches(key)) {
        this.#lru.delete(key);
        removed++;
      }
    }
    return removed;
  }

  /** Shortens every entry (or only `key`) to expire within `ttlMs` from now; entries closer to expiry keep theirs. */
  capTtl(ttlMs: number, only?: string): void {
    for (const key of only === undefined ? [...this.#lru.keys()] : [only]) {
      const remainingMs = this.#lru.getRemainingTTL(key);
      if (remainingMs <= ttlMs) continue;
      const entry = this.#lru.info(key);
      if (entry === undefined) continue;
      this.#lru.set(key, entry.value, { ttl: ttlMs, size: entry.size });
    }
  }

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Bytes currently accounted for (serialised text length plus a per-entry overhead). */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }
}
