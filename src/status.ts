import type { CoherenceStatus } from './coherence/l1-coherence.js';
import type { DomainConfig } from './config/domains.js';
import type { DomainStats } from './domains/stats.js';
import type { LoadingStats } from './get-set/plan.js';
import type { BreakerState, L2State } from './l2/driver.js';

/** What `cache.status()` reports. */
export interface CacheStatus {
  l2: { state: L2State; url: string; breakerOpens: number };
  /** The circuit breaker in front of Redis: `closed` (in use), `open` (skipped), `half-open` (probing). */
  breaker: BreakerState;
  l1: { enabled: boolean; entries: number; bytes: number; maxEntries: number; maxBytes: number; ttl: number };
  domains: Record<string, DomainConfig>;
  /** How L1 is kept coherent with the other processes (README "Coherence"). */
  coherence: CoherenceStatus;
}

/** What `cache.stats()` reports: counters per domain and in total. */
export interface CacheStats {
  domains: Record<string, DomainStats>;
  total: DomainStats;
  /** Factory calls, stale answers, lease waits of `getOrSet` / `getOrSetMany`. */
  loading: LoadingStats;
}
