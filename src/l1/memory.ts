import { LRUCache } from 'lru-cache';

/** Fixed cost added to each entry's size, for the key and the bookkeeping around it, in bytes. */
const ENTRY_OVERHEAD_BYTES = 64;

/**
 * A value kept as its serialised text until a read here needs it (a write, or a read from Redis
 * whose caller got its own parsed copy): a write costs no parse, and a value never read again here
 * is never held as an object graph, which takes several times its text's size on the heap.
 */
class Unparsed {
  /** When it was last set or read, on the tier's clock (see `MemoryTier.#holdBounds`). */
  tick = 0;
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
  tick = 0;
  readonly settled: Promise<unknown>;
  constructor(readonly value: unknown) {
    this.settled = Promise.resolve(value);
  }
}

type Entry = Unparsed | Parsed;

/** One domain's part of L1: its entries under the caller's own keys (see `MemoryTier.space`). */
export interface L1Space {
  /** The Redis key prefix of the domain: an entry's Redis key is `prefix + key`. */
  readonly prefix: string;
}

class Space implements L1Space {
  constructor(
    readonly prefix: string,
    readonly lru: LRUCache<string, Entry>,
  ) {}
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
 *
 * Each domain has its own map (a space), keyed by the caller's key without the domain prefix: an L1
 * hit looks up the caller's key as given, with no Redis key to build or to remember first. The bounds
 * hold for all spaces together, and the entry that goes first is the least recently used of all.
 * Keys are given either within a space or as whole Redis keys (`prefix + key`), which find their
 * space by prefix (prefixes never overlap: see config/domains.ts).
 */
export class MemoryTier {
  readonly #options: MemoryTierOptions;
  readonly #clone: boolean;
  readonly #parse: (text: string) => unknown;
  readonly #prefixes: readonly string[];
  /** The spaces made so far (a space is made on its first use). */
  readonly #spaces: Space[] = [];
  /** Counts sets and reads: an entry's `tick` orders it against the entries of other spaces. */
  #clock = 0;

  /**
   * `parse` turns the texts given to `setText` into values (the cache's serializer); `prefixes` are
   * the domains' Redis key prefixes (default: one space for every key).
   */
  constructor(
    options: MemoryTierOptions,
    parse: (text: string) => unknown = JSON.parse,
    prefixes: readonly string[] = [''],
  ) {
    this.#options = options;
    this.#clone = options.clone;
    this.#parse = parse;
    this.#prefixes = prefixes;
  }

  /** The space of the keys under `prefix` (one of the tier's prefixes), made on first use. */
  space(prefix: string): L1Space {
    for (const space of this.#spaces) if (space.prefix === prefix) return space;
    // each space may fill the whole bounds alone; with several in use, #holdBounds keeps their sum
    const lru = new LRUCache<string, Entry>({
      max: this.#options.maxEntries,
      maxSize: this.#options.maxBytes,
      ttlAutopurge: false,
      allowStale: false,
      updateAgeOnGet: false,
    });
    const space = new Space(prefix, lru);
    this.#spaces.push(space);
    return space;
  }

  /** The space that holds `redisKey` (made if `make`), or `undefined` when no prefix covers it. */
  #spaceOf(redisKey: string, make: boolean): Space | undefined {
    for (const space of this.#spaces) if (redisKey.startsWith(space.prefix)) return space;
    if (!make) return undefined;
    const prefix = this.#prefixes.find((candidate) => redisKey.startsWith(candidate));
    return prefix === undefined ? undefined : (this.space(prefix) as Space);
  }

  /** The value under `key` of `space`, or `undefined` on a miss. */
  getIn(space: L1Space, key: string): unknown {
    const parsed = this.#parsed(space as Space, key);
    if (parsed === undefined) return undefined;
    return this.#clone ? structuredClone(parsed.value) : parsed.value;
  }

  /** The value under `key` of `space` as a settled promise (the same one for every hit, unless `clone`), or `undefined` on a miss. */
  hitIn(space: L1Space, key: string): Promise<unknown> | undefined {
    const parsed = this.#parsed(space as Space, key);
    if (parsed === undefined) return undefined;
    return this.#clone ? Promise.resolve(structuredClone(parsed.value)) : parsed.settled;
  }

  /** The value under the Redis key `redisKey`, or `undefined` on a miss. */
  get(redisKey: string): unknown {
    const space = this.#spaceOf(redisKey, false);
    return space === undefined ? undefined : this.getIn(space, redisKey.slice(space.prefix.length));
  }

  #parsed(space: Space, key: string): Parsed | undefined {
    const stored = space.lru.get(key);
    if (stored === undefined) return undefined;
    if (stored instanceof Parsed) {
      stored.tick = ++this.#clock;
      return stored;
    }
    return this.#parseInPlace(space, key, stored);
  }

  /** First read of a value stored as text: parses it and keeps the value instead, same TTL and size. */
  #parseInPlace(space: Space, key: string, entry: Unparsed): Parsed | undefined {
    let value: unknown;
    try {
      value = this.#parse(entry.text);
    } catch {
      value = undefined;
    }
    if (value === undefined) {
      space.lru.delete(key);
      return undefined;
    }
    const parsed = new Parsed(value);
    parsed.tick = ++this.#clock;
    space.lru.set(key, parsed, { noUpdateTTL: true, size: entry.size });
    return parsed;
  }

  /**
   * Stores under the Redis key `redisKey` the value whose serialised text is `text` for `ttlMs`
   * milliseconds, parsed on its first read: the caller's own object is never kept, so mutating it
   * later cannot change the cached value. A key under no prefix of the tier is not kept.
   */
  setText(redisKey: string, text: string, ttlMs: number): void {
    const space = this.#spaceOf(redisKey, ttlMs > 0);
    if (space === undefined) return;
    const key = redisKey.slice(space.prefix.length);
    if (ttlMs <= 0) {
      space.lru.delete(key);
      return;
    }
    const size = text.length + redisKey.length + ENTRY_OVERHEAD_BYTES;
    const entry = new Unparsed(text, size);
    entry.tick = ++this.#clock;
    space.lru.set(key, entry, { ttl: ttlMs, size });
    if (this.#spaces.length > 1) this.#holdBounds();
  }

  /**
   * Keeps the entries of all spaces within the bounds: while over, the space whose least recently
   * used entry is the oldest (by tick) gives that entry up. A space whose oldest entries have expired
   * gives them up first: they are older than any fresh entry.
   */
  #holdBounds(): void {
    const { maxEntries, maxBytes } = this.#options;
    let entries = this.size;
    let bytes = this.bytes;
    while (entries > maxEntries || bytes > maxBytes) {
      let victim: Space | undefined;
      let oldest = Number.POSITIVE_INFINITY;
      for (const space of this.#spaces) {
        if (space.lru.size === 0) continue;
        // rkeys() starts at the least recently used fresh entry; none fresh: every entry expired
        const key = space.lru.rkeys().next().value;
        const tick = key === undefined ? Number.NEGATIVE_INFINITY : (space.lru.peek(key)?.tick ?? 0);
        if (tick < oldest) {
          oldest = tick;
          victim = space;
        }
      }
      if (victim === undefined) return;
      const before = victim.lru.calculatedSize;
      victim.lru.pop();
      entries--;
      bytes -= before - victim.lru.calculatedSize;
    }
  }

  /** Removes the Redis key `redisKey`. */
  delete(redisKey: string): void {
    const space = this.#spaceOf(redisKey, false);
    space?.lru.delete(redisKey.slice(space.prefix.length));
  }

  /** Removes every entry whose Redis key starts with `prefix` and `matches`; returns how many were removed. */
  deleteWhere(prefix: string, matches: (redisKey: string) => boolean): number {
    let removed = 0;
    for (const space of this.#spaces) {
      // a space under another prefix holds no key that starts with this one
      if (!space.prefix.startsWith(prefix) && !prefix.startsWith(space.prefix)) continue;
      for (const key of [...space.lru.keys()]) {
        const redisKey = space.prefix + key;
        if (redisKey.startsWith(prefix) && matches(redisKey)) {
          space.lru.delete(key);
          removed++;
        }
      }
    }
    return removed;
  }

  /** Shortens every entry to expire within `ttlMs` from now; entries closer to expiry keep theirs. */
  capTtl(ttlMs: number): void {
    for (const { lru } of this.#spaces) {
      for (const key of [...lru.keys()]) {
        const remainingMs = lru.getRemainingTTL(key);
        if (remainingMs <= ttlMs) continue;
        const entry = lru.info(key);
        if (entry === undefined) continue;
        lru.set(key, entry.value, { ttl: ttlMs, size: entry.size });
      }
    }
  }

  clear(): void {
    for (const { lru } of this.#spaces) lru.clear();
  }

  /** Entries held now, in all spaces. */
  get size(): number {
    let size = 0;
    for (const { lru } of this.#spaces) size += lru.size;
    return size;
  }

  /** Bytes currently accounted for (serialised text length plus a per-entry overhead), in all spaces. */
  get bytes(): number {
    let bytes = 0;
    for (const { lru } of this.#spaces) bytes += lru.calculatedSize;
    return bytes;
  }
}
