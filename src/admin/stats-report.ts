import type { Cache, CacheStatus } from '../cache.js';
import type { DomainStats } from '../domains/stats.js';
import type { KeyCensus, ServerInfo } from '../l2/inspect.js';
import type { WarmingMetrics, WarmingSource } from '../warming/warming.js';

/** Reads that one tier answered (`hits`) or passed on (`misses`), and their ratio. */
export interface TierReads {
  hits: number;
  misses: number;
  hitRate: number;
}

/** One domain in the stats report. */
export interface DomainReport {
  prefix: string;
  ttl: number;
  hitRate: number;
  l1: TierReads;
  /** `skipped`: L2 calls skipped at once because the breaker was open (also counted in `errors`). */
  l2: TierReads & { errors: number; skipped: number };
  sets: number;
  deletes: number;
  refused: number;
  /** Keys of the domain in Redis (`null` when Redis could not be asked); see `l2.keys.exact`. */
  keys: number | null;
}

/** What `GET /stats` answers (and `cachette stats` prints). */
export interface StatsReport {
  /** `degraded` while Redis is not connected: the cache then serves L1 and misses. */
  status: 'ok' | 'degraded';
  generatedAt: string;
  hitRate: number;
  l1: CacheStatus['l1'] & TierReads;
  l2: TierReads & {
    state: CacheStatus['l2']['state'];
    connected: boolean;
    url: string;
    errors: number;
    /** From `INFO`; `null` while Redis is unreachable. */
    redis: ServerInfo | null;
    /** Keys per domain from a bounded SCAN, refreshed at most every `keyCountTtlMs`. */
    keys: (KeyCensus & { countedAt: string }) | null;
  };
  /** The circuit breaker in front of Redis, and how often it opened since start. */
  breaker: { state: CacheStatus['breaker']; opens: number };
  /** How L1 is kept coherent with the other processes: mode, connection, messages, flushes. */
  coherence: CacheStatus['coherence'];
  /** Deletes owed to Redis (write-side calls that did not complete there), and what became of them. */
  pending: CacheStatus['pending'];
  /** The warming service's state and metrics, when one was given. */
  warming?: WarmingMetrics;
  domains: Record<string, DomainReport>;
}

function ratio(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

function tiers(stats: DomainStats): { l1: TierReads; l2: TierReads & { errors: number; skipped: number } } {
  const l1Misses = stats.l2Hits + stats.misses;
  return {
    l1: { hits: stats.l1Hits, misses: l1Misses, hitRate: ratio(stats.l1Hits, stats.l1Hits + l1Misses) },
    l2: {
      hits: stats.l2Hits,
      misses: stats.misses,
      errors: stats.errors,
      skipped: stats.skipped,
      hitRate: ratio(stats.l2Hits, stats.l2Hits + stats.misses),
    },
  };
}

/**
 * Builds stats reports. Per call it sends Redis one `INFO`; the per-domain key count (DBSIZE plus
 * a SCAN bounded in time) is kept for `keyCountTtlMs` and shared by concurrent callers.
 */
export class StatsReporter {
  readonly #cache: Cache;
  readonly #keyCountTtlMs: number;
  readonly #warming: WarmingSource | undefined;
  #census: { value: KeyCensus & { countedAt: string }; at: number } | undefined;
  #counting: Promise<void> | undefined;

  constructor(cache: Cache, options: { keyCountTtlMs?: number; warming?: WarmingSource } = {}) {
    this.#cache = cache;
    this.#warming = options.warming;
    this.#keyCountTtlMs = options.keyCountTtlMs ?? 10_000;
  }

  async report(): Promise<StatsReport> {
    const status = this.#cache.status();
    const connected = status.l2.state === 'ready';
    const [redis] = await Promise.all([
      connected ? this.#cache.serverInfo() : (false as const),
      connected ? this.#refreshCensus() : undefined,
    ]);
    const census = connected ? (this.#census?.value ?? null) : null;
    const { domains: byDomain, total } = this.#cache.stats();
    const domains: Record<string, DomainReport> = {};
    for (const [name, config] of Object.entries(status.domains)) {
      const stats = byDomain[name]!;
      domains[name] = {
        prefix: config.prefix,
        ttl: config.ttl,
        hitRate: stats.hitRate,
        ...tiers(stats),
        sets: stats.sets,
        deletes: stats.deletes,
        refused: stats.refused,
        keys: census?.domains[name] ?? null,
      };
    }
    const overall = tiers(total);
    return {
      status: connected ? 'ok' : 'degraded',
      generatedAt: new Date().toISOString(),
      hitRate: total.hitRate,
      l1: { ...status.l1, ...overall.l1 },
      l2: {
        state: status.l2.state,
        connected,
        url: status.l2.url,
        ...overall.l2,
        redis: redis === false ? null : redis,
        keys: census,
      },
      breaker: { state: status.breaker, opens: status.l2.breakerOpens },
      coherence: status.coherence,
      pending: status.pending,
      ...(this.#warming ? { warming: this.#warming.getMetrics() } : {}),
      domains,
    };
  }

  /** Recounts keys when the last count is older than `keyCountTtlMs`; one count at a time. */
  #refreshCensus(): Promise<void> {
    if (this.#census && Date.now() - this.#census.at < this.#keyCountTtlMs) return Promise.resolve();
    this.#counting ??= this.#cache
      .countKeys()
      .then((census) => {
        if (census !== false) {
          this.#census = { value: { ...census, countedAt: new Date().toISOString() }, at: Date.now() };
        }
      })
      .finally(() => {
        this.#counting = undefined;
      });
    return this.#counting;
  }
}
