import type { CoherenceStatus } from './coherence/l1-coherence.js';
import type { DomainConfig } from './config/domains.js';
import type { DomainStats } from './domains/stats.js';
import type { LoadingStats } from './get-set/plan.js';
import type { L1Status } from './l1/l1.js';
import type { BreakerState, L2State, PendingStatus } from './l2/driver.js';

export type { L1Status } from './l1/l1.js';

/** What `cache.status()` reports. */
export interface CacheStatus {
  /** The app's key prefix, in front of every Redis key (`''`: none). */
  keyPrefix: string;
  /** The Redis tier. */
  l2: {
    /** The connection: `connecting`, `ready`, `reconnecting`, `closed`. */
    state: L2State;
    /** Where Redis is, without the password. */
    url: string;
    /** Times the circuit breaker opened since start. */
    breakerOpens: number;
  };
  /** The circuit breaker in front of Redis: `closed` (in use), `open` (skipped), `half-open` (probing). */
  breaker: BreakerState;
  /** The memory tier. */
  l1: L1Status;
  /** Every configured domain: prefix and TTL. */
  domains: Record<string, DomainConfig>;
  /** How L1 is kept coherent with the other processes (docs/coherence.md). */
  coherence: CoherenceStatus;
  /** Write-side work that did not complete in Redis, applied as soon as it answers (docs/failure-behaviour.md). */
  pending: PendingStatus;
}

/** What `cache.stats()` reports: counters per domain and in total. */
export interface CacheStats {
  /** Counters of each domain. */
  domains: Record<string, DomainStats>;
  /** All domains together. */
  total: DomainStats;
  /** Factory calls, stale answers, lease waits of `getOrSet` / `getOrSetMany`. */
  loading: LoadingStats;
}
