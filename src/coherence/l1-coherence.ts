import type { CoherenceMode } from '../config/options.js';
import type { HooksFor } from '../l2/driver.js';

/** What coherence does to the process's L1 (the cache implements it). */
export interface CoherenceTarget {
  /** Another process or client changed `redisKey`: drop the L1 copy, and any read of it in flight. */
  evict(redisKey: string): void;
  /** Any key may have changed: empty L1 and stop every read in flight from filling it. */
  evictAll(): void;
  /** Shortens every L1 entry to at most `ttlMs` from now. */
  capL1Ttl(ttlMs: number): void;
}

/** Coherence as `cache.status()` reports it. */
export interface CoherenceStatus {
  /** In force now: `tracking`, `pubsub` (configured, or the fallback when tracking is refused), or `none`. */
  mode: CoherenceMode;
  /** Whether invalidations are flowing; while not, L1 copies live at most `degradedL1TtlMs`. */
  connected: boolean;
  /** Invalidation messages received. */
  messages: number;
  /** Keys under a domain prefix reported changed by another process or client (dropped from L1 if held). */
  invalidatedKeys: number;
  /** Times L1 was emptied because invalidations may have been lost (reconnection) or by a flush. */
  l1Flushes: number;
  /** Times the invalidation stream was lost after it had been flowing. */
  disconnects: number;
  /** Longest L1 TTL while invalidations are not flowing, in ms. */
  degradedL1TtlMs: number;
}

/** What `status()` reports when coherence is off. */
export const COHERENCE_OFF: Readonly<CoherenceStatus> = Object.freeze({
  mode: 'none',
  connected: false,
  messages: 0,
  invalidatedKeys: 0,
  l1Flushes: 0,
  disconnects: 0,
  degradedL1TtlMs: 0,
});

/**
 * The coherence the cache drives: of one server (or Sentinel's primary), or of every primary of a
 * cluster (create.ts picks). The L2 driver gets its connection hooks through `hooksFor`.
 */
export interface L1Coherence {
  /** Connects coherence to the L1 it keeps coherent. */
  attach(target: CoherenceTarget): void;
  /** The longest an L1 copy may live now, in ms: unbounded while invalidations flow, else the degraded TTL. */
  readonly maxL1TtlMs: number;
  status(): CoherenceStatus;
  /** The connection hooks of the server at `address`, handed to the L2 driver's constructor. */
  readonly hooksFor: HooksFor;
  close(): void;
}
