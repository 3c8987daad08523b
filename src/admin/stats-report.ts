import type { Cache, CacheStatus } from '../cache.js';
import { checkNumber } from '../config/numbers.js';
import type { DomainStats } from '../domains/stats.js';
import type { KeyCensus, ServerInfo } from '../l2/inspect.js';
import type { Duration } from '../values/durations.js';
import type { WarmingMetrics, WarmingSource } from '../warming/warming.js';

/** Reads that one tier answered (`hits`) or passed on (`misses`), and their ratio. */
export interface TierReads {
  /** Reads the tier answered. */
  hits: number;
  /** Reads it passed on (L1) or could not answer (L2). */
  misses: number;
  /** hits / (hits + misses), 0 before any read. */
  hitRate: number;
}

/** Failed Redis calls of a domain. */
export interface L2Failures {
  /** Calls that failed and were answered as a miss or `false`. */
  errors: number;
  /** Calls skipped at once because the breaker was open (also counted in `errors`). */
  skipped: number;
}

/** One domain in the stats report. */
export interface DomainReport {
  /** The domain's key prefix. */
  prefix: string;
  /** The domain's TTL, in seconds. */
  ttl: number;
  /** (L1 hits + L2 hits) / reads. */
  hitRate: number;
  /** Reads of the memory tier. */
  l1: TierReads;
  /** Reads of Redis, with its failures. */
  l2: TierReads & L2Failures;
  /** Values written to Redis. */
  sets: number;
  /** Keys removed from Redis. */
  deletes: number;
  /** Values refused (no JSON form, too large). */
  refused: number;
  /** Keys of the domain in Redis (`null` when Redis could not be asked); see `l2.keys.exact`. */
  keys: number | null;
}

/** When the key count of a stats report was taken. */
export interface CountedAt {
  /** ISO 8601. */
  countedAt: string;
}

/** What `GET /stats` answers (and `cachette stats` prints). */
export interface StatsReport {
  /** `degraded` while Redis is not connected: the cache then serves L1 and misses. */
  status: 'ok' | 'degraded';
  /** When the report was made, ISO 8601. */
  generatedAt: string;
  /** (L1 hits + L2 hits) / reads, all domains. */
  hitRate: number;
  /** The memory tier: size, bounds and reads. */
  l1: CacheStatus['l1'] & TierReads;
  /** The Redis tier: connection, reads, server facts and keys. */
  l2: TierReads & {
    /** The connection state. */
    state: CacheStatus['l2']['state'];
    /** Whether the connection is ready. */
    connected: boolean;
    /** Failed calls, answered as a miss or `false`. */
    errors: number;
    /** Keys per domain from a bounded SCAN, refreshed at most every `keyCountTtlMs`. */
    keys: (KeyCensus & CountedAt) | null;
    /** Where Redis is (credentials redacted): only in a report with details (the admin token's). */
    url?: string;
    /**
     * From `INFO`, reused for `serverInfoTtlMs` across callers; `null` while Redis is unreachable.
     * Only in a report with details (the admin token's).
     */
    redis?: ServerInfo | null;
  };
  /** The circuit breaker in front of Redis, and how often it opened since start. */
  breaker: {
    /** `closed`, `open` or `half-open`. */
    state: CacheStatus['breaker'];
    /** Times it opened since start. */
    opens: number;
  };
  /** How L1 is kept coherent with the other processes: mode, connection, messages, flushes. */
  coherence: CacheStatus['coherence'];
  /** Deletes owed to Redis (write-side calls that did not complete there), and what became of them. */
  pending: CacheStatus['pending'];
  /** The warming service's state and metrics, when one was given. */
  warming?: WarmingMetrics;
  /** Each configured domain. */
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

/** What a `StatsReporter` reuses across reports, and for how long. */
export interface StatsReporterOptions {
  /** How long a key count is reused, in ms (or a string such as `'30s'`). Default 10 000. */
  keyCountTtlMs?: Duration;
  /** How long the server facts (`INFO`) are reused, in ms (or a string such as `'5s'`). Default 5000. */
  serverInfoTtlMs?: Duration;
  warming?: WarmingSource;
}

/** A reuse period in ms, `fallback` when not given; throws `CacheConfigError` naming the option. */
function reuseMs(given: Duration | undefined, option: string, fallback: number): number {
  return given === undefined ? fallback : checkNumber(given, `option ${option}`, { min: 0, unit: 'ms' });
}

/** A value read from Redis, reused for a while and shared by concurrent callers. */
class Reused<T> {
  #value: { value: T; at: number } | undefined;
  #reading: Promise<void> | undefined;

  constructor(
    readonly ttlMs: number,
    readonly read: () => Promise<T | false>,
  ) {}

  /** The last value if younger than `ttlMs`, else a new read (one at a time); the last good one if that fails. */
  async get(): Promise<T | undefined> {
    if (this.#value && Date.now() - this.#value.at < this.ttlMs) return this.#value.value;
    this.#reading ??= this.read()
      .then((value) => {
        if (value !== false) this.#value = { value, at: Date.now() };
      })
      .finally(() => {
        this.#reading = undefined;
      });
    await this.#reading;
    return this.#value?.value;
  }
}

/**
 * Builds stats reports. The per-domain key count (DBSIZE plus a SCAN bounded in time) is kept for
 * `keyCountTtlMs`, and the server facts of a report with details (one `INFO`) for
 * `serverInfoTtlMs`, each shared by concurrent callers: anonymous callers cannot make Redis work harder.
 */
export class StatsReporter {
  readonly #cache: Cache;
  readonly #warming: WarmingSource | undefined;
  readonly #census: Reused<KeyCensus & { countedAt: string }>;
  readonly #server: Reused<ServerInfo>;

  constructor(cache: Cache, options: StatsReporterOptions = {}) {
    this.#cache = cache;
    this.#warming = options.warming;
    this.#census = new Reused(reuseMs(options.keyCountTtlMs, 'keyCountTtlMs', 10_000), async () => {
      const census = await cache.countKeys();
      return census === false ? false : { ...census, countedAt: new Date().toISOString() };
    });
    this.#server = new Reused(reuseMs(options.serverInfoTtlMs, 'serverInfoTtlMs', 5000), () =>
      cache.serverInfo(),
    );
  }

  /**
   * A report of counters and states; with `details`, also where Redis is and its `INFO` facts
   * (for the admin token, the CLI).
   */
  async report(options: { details?: boolean } = {}): Promise<StatsReport> {
    const { details = false } = options;
    const status = this.#cache.status();
    const connected = status.l2.state === 'ready';
    const [redis, census] = connected
      ? await Promise.all([details ? this.#server.get() : undefined, this.#census.get()])
      : [undefined, undefined];
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
        ...overall.l2,
        keys: census ?? null,
        ...(details ? { url: status.l2.url, redis: redis ?? null } : {}),
      },
      breaker: { state: status.breaker, opens: status.l2.breakerOpens },
      coherence: status.coherence,
      pending: status.pending,
      ...(this.#warming ? { warming: this.#warming.getMetrics() } : {}),
      domains,
    };
  }
}
