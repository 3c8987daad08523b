import type { ResolvedL1 } from '../config/options.js';
import { FillGuard } from './fill-guard.js';
import { type L1Space, MemoryTier } from './memory.js';

export type { L1Space } from './memory.js';

/** What bounds an L1 copy's life from outside: coherence, while its invalidations do not flow. */
export interface L1Bound {
  /** The longest an L1 copy may live now, in ms (`Infinity`: no bound). */
  readonly maxL1TtlMs: number;
}

/** What keeps L1 coherent with the other processes (coherence/): it evicts through the target it is given. */
export interface L1Coherence extends L1Bound {
  attach(target: { evict(redisKey: string): void; evictAll(): void; capL1Ttl(ttlMs: number): void }): void;
}

/** The memory tier in `cache.status()`. */
export interface L1Status {
  /** Whether L1 is on (`l1.ttl` > 0 and not disabled). */
  enabled: boolean;
  /** Entries held now. */
  entries: number;
  /** Accounted size now (JSON text length plus a small per-entry overhead). */
  bytes: number;
  /** Entry bound (`l1.maxEntries`). */
  maxEntries: number;
  /** Size bound (`l1.maxBytes`). */
  maxBytes: number;
  /** L1 TTL in seconds. */
  ttl: number;
}

/**
 * This process's copies of values: the memory tier (absent when L1 is off) and the fill guard that
 * keeps a read's outdated reply out of it. Every eviction goes through here, so that a key leaving
 * L1 always also stops a read in flight from bringing it back (`ticket` before a read, `fill` after).
 */
export class L1 {
  readonly #memory: MemoryTier | undefined;
  readonly #guard = new FillGuard();
  readonly #ttlMs: number;
  readonly #options: ResolvedL1;
  #bound: L1Bound | undefined;
  #closed = false;

  /**
   * `parse` turns stored texts into values (the cache's serializer); `prefixes` are the domains'
   * Redis key prefixes, each of which gets its own part of L1 (see `space`).
   */
  constructor(options: ResolvedL1, parse: (text: string) => unknown, prefixes?: readonly string[]) {
    this.#options = options;
    this.#ttlMs = options.ttl * 1000;
    this.#memory = options.enabled && options.ttl > 0 ? new MemoryTier(options, parse, prefixes) : undefined;
  }

  /**
   * Follows `coherence`: what another process changed leaves L1 (a read of it in flight will not
   * refill it), copies live at most its bound, and `changed(redisKey)` hears of each change
   * (`undefined`: any key).
   */
  follow(coherence: L1Coherence, changed: (redisKey?: string) => void): void {
    this.#bound = coherence;
    coherence.attach({
      evict: (redisKey) => {
        this.evict(redisKey);
        changed(redisKey);
      },
      evictAll: () => {
        this.evictAll();
        changed();
      },
      capL1Ttl: (ttlMs) => this.capTtl(ttlMs),
    });
  }

  get enabled(): boolean {
    return this.#memory !== undefined;
  }

  /**
   * The part of L1 that holds the keys of the domain whose prefix is `prefix`, looked up by the
   * caller's key alone (`getIn`, `hitIn`); `undefined` when L1 is off.
   */
  space(prefix: string): L1Space | undefined {
    return this.#memory?.space(prefix);
  }

  /** The value under `redisKey`, or `undefined`. */
  get(redisKey: string): unknown {
    return this.#memory?.get(redisKey);
  }

  /** The value under `key` of `space` (from `space()`), or `undefined`. */
  getIn(space: L1Space | undefined, key: string): unknown {
    return space === undefined ? undefined : this.#memory?.getIn(space, key);
  }

  /**
   * The value under `key` of `space` as a settled promise, or `undefined`: what an L1 hit answers,
   * with no Redis key to build and nothing allocated.
   */
  hitIn(space: L1Space | undefined, key: string): Promise<unknown> | undefined {
    return space === undefined ? undefined : this.#memory?.hitIn(space, key);
  }

  /** A ticket to take before sending a read of `redisKey` (see `fill`). */
  ticket(redisKey: string): number {
    return this.#guard.ticket(redisKey);
  }

  /** Whether nothing evicted `redisKey` since `ticket` was taken. */
  unchangedSince(redisKey: string, ticket: number): boolean {
    return this.#guard.stillValid(redisKey, ticket);
  }

  /**
   * Keeps `text` (a value's serialised form) for at most `ttlMs` (`Infinity`: no Redis expiry), never
   * longer than the L1 TTL nor than the bound (coherence down), unless `redisKey` was evicted since
   * `ticket`. L1 parses it on its first read here: a value read or written once and never again
   * here costs no second object graph on the heap, the byte bound counts what is actually held, and
   * a caller mutating the value it got (or set) cannot change the cached one.
   */
  fill(redisKey: string, text: string, ttlMs: number, ticket: number): void {
    if (this.#memory === undefined || this.#closed || !this.#guard.stillValid(redisKey, ticket)) return;
    const bound = this.#bound === undefined ? this.#ttlMs : Math.min(this.#ttlMs, this.#bound.maxL1TtlMs);
    this.#memory.setText(redisKey, text, Math.min(bound, ttlMs));
  }

  /** `redisKey` changed (or may have): its copy leaves L1, and a read of it in flight will not fill it. */
  evict(redisKey: string): void {
    this.#guard.touch(redisKey);
    this.#memory?.delete(redisKey);
  }

  /**
   * Drops the copy of `redisKey` without marking the key changed: for a copy that must go though
   * nothing was written (a value in Redis found unreadable), so reads in flight keep their tickets.
   */
  discard(redisKey: string): void {
    this.#memory?.delete(redisKey);
  }

  /** Any key may have changed: L1 is emptied, and no read in flight will fill it. */
  evictAll(): void {
    this.#guard.touchAll();
    this.#memory?.clear();
  }

  /** Evicts every key that starts with `prefix` and `matches`; no read in flight will fill any key. */
  evictWhere(prefix: string, matches: (redisKey: string) => boolean): void {
    this.#guard.touchAll();
    this.#memory?.deleteWhere(prefix, matches);
  }

  /** Shortens every copy to expire within `ttlMs` from now. */
  capTtl(ttlMs: number): void {
    this.#memory?.capTtl(ttlMs);
  }

  /** Empties L1 for good: later fills are ignored. */
  close(): void {
    this.#closed = true;
    this.#memory?.clear();
  }

  /** What `cache.status().l1` reports. */
  status(): L1Status {
    const { maxEntries, maxBytes, ttl } = this.#options;
    return {
      enabled: this.enabled,
      entries: this.#memory?.size ?? 0,
      bytes: this.#memory?.bytes ?? 0,
      maxEntries,
      maxBytes,
      ttl,
    };
  }
}
