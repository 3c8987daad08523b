import { L2BreakerOpenError, L2TimeoutError, L2UnavailableError } from '../errors.js';
import type { FailedCalls } from '../l2/outage.js';
import { describeError, type Logger, RateLimitedLog } from '../logger.js';

/** Counters of one domain. Plain numbers, updated on the data path; exporters read snapshots. */
export interface DomainCounters {
  /** Reads answered by the memory tier. */
  l1Hits: number;
  /** Reads answered by Redis. */
  l2Hits: number;
  /** Reads neither tier answered (a failed Redis read counts here too). */
  misses: number;
  /** Values written to Redis. */
  sets: number;
  /** Keys removed from Redis. */
  deletes: number;
  /** L2 operations that failed (unavailable, timeout, Redis error) and were answered as miss/false. */
  errors: number;
  /** Values refused before reaching Redis (unserialisable, too large). */
  refused: number;
  /** L2 operations skipped at once because the circuit breaker was open (also counted in `errors`). */
  skipped: number;
}

/** The counters of one domain (or of all of them), with the hit rate. */
export interface DomainStats extends DomainCounters {
  /** (l1Hits + l2Hits) / (hits + misses), or 0 before any read. */
  hitRate: number;
}

function emptyCounters(): DomainCounters {
  return { l1Hits: 0, l2Hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0, refused: 0, skipped: 0 };
}

/** Per-domain counters, created up front for every configured domain. */
export class Stats {
  readonly byDomain: Record<string, DomainCounters> = {};

  constructor(domains: Iterable<string>) {
    for (const name of domains) this.byDomain[name] = emptyCounters();
  }

  /** A copy of the counters, with hit rates, per domain and in total. */
  snapshot(): { domains: Record<string, DomainStats>; total: DomainStats } {
    const total = emptyCounters();
    const domains: Record<string, DomainStats> = {};
    for (const [name, counters] of Object.entries(this.byDomain)) {
      domains[name] = withHitRate(counters);
      for (const field of Object.keys(total) as Array<keyof DomainCounters>) total[field] += counters[field];
    }
    return { domains, total: withHitRate(total) };
  }
}

function withHitRate(counters: DomainCounters): DomainStats {
  const hits = counters.l1Hits + counters.l2Hits;
  const reads = hits + counters.misses;
  return { ...counters, hitRate: reads === 0 ? 0 : hits / reads };
}

/**
 * Counts and logs Redis failures of cache calls: every failure is an error in the domain's counters
 * (and a skip when the breaker answered), and a failed call of its kind for the outage's log lines.
 * Outages and timeouts are logged once per episode by the driver, so only other Redis errors are
 * logged here, at most once per operation, reason and interval: never a line per failed call.
 */
export class L2Failures {
  readonly #log: Logger;
  readonly #calls: FailedCalls;
  readonly #problems = new RateLimitedLog();

  constructor(log: Logger, calls: FailedCalls) {
    this.#log = log;
    this.#calls = calls;
  }

  /**
   * `operation` failed against Redis with `err`; the caller answers a miss or `false`. `counters`:
   * the domain's, when the call has one (a tag invalidation has none).
   */
  report(operation: string, counters: DomainCounters | undefined, err: unknown): void {
    this.#calls.note(operation);
    if (counters) {
      counters.errors++;
      if (err instanceof L2BreakerOpenError) counters.skipped++;
    }
    if (err instanceof L2UnavailableError || err instanceof L2TimeoutError) return;
    const reason = describeError(err);
    this.#problems.emit(`${operation}:${reason}`, (suppressed) =>
      this.#log.warn(
        { operation, err: reason, suppressed },
        `cachette: ${operation} failed; answered as a miss or false`,
      ),
    );
  }
}
