import cluster from 'node:cluster';
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  register as globalRegistry,
  Histogram,
  type Registry,
} from 'prom-client';
import type { Cache } from '../cache.js';
import type { CoherenceStatus } from '../coherence/l1-coherence.js';
import type { DomainCounters } from '../domains/stats.js';
import type { BreakerState } from '../l2/driver.js';
import type { WarmingSource } from '../warming/warming.js';

/** Options of `registerCacheMetrics`. */
export interface CacheMetricsOptions {
  /** Registry to register into; default prom-client's global one (what `AggregatorRegistry` reads in cluster workers). */
  registry?: Registry;
  /** Buckets of the L2 latency histogram, in seconds. */
  latencyBuckets?: number[];
  /** A `CacheWarmingService` whose runs are exported too. */
  warming?: WarmingSource;
}

/** The registered metrics; `unregister()` removes them and stops timing L2 calls. */
export interface CacheMetrics {
  /** Removes the metrics from the registry and stops timing Redis calls. */
  unregister(): void;
}

/** Default L2 latency buckets in seconds: 0.5 ms (loopback) to 2.5 s (beyond any sane deadline). */
export const DEFAULT_LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/** A counter fed from one field of the core's per-domain counters, as increments since the last scrape. */
interface CounterSource {
  name: string;
  help: string;
  field: keyof DomainCounters;
  /** Constant labels of this series, such as `tier`. */
  labels: Record<string, string>;
}

const COUNTER_SOURCES: CounterSource[] = [
  { name: 'hits_total', help: 'Reads answered by the tier', field: 'l1Hits', labels: { tier: 'l1' } },
  { name: 'hits_total', help: 'Reads answered by the tier', field: 'l2Hits', labels: { tier: 'l2' } },
  {
    name: 'misses_total',
    help: 'Reads neither tier answered (including L2 failures answered as a miss)',
    field: 'misses',
    labels: {},
  },
  {
    name: 'errors_total',
    help: 'Failed calls to the tier, answered as a miss or false',
    field: 'errors',
    labels: { tier: 'l2' },
  },
  { name: 'sets_total', help: 'Values written to L2', field: 'sets', labels: {} },
  { name: 'deletes_total', help: 'Keys removed from L2', field: 'deletes', labels: {} },
  {
    name: 'skipped_total',
    help: 'L2 calls skipped at once because the circuit breaker was open (also in errors_total)',
    field: 'skipped',
    labels: { tier: 'l2' },
  },
  {
    name: 'refused_total',
    help: 'Values refused before reaching Redis (unserialisable or too large)',
    field: 'refused',
    labels: {},
  },
];

/**
 * Registers cachette's metrics into a prom-client registry. Counters are read from the
 * cache's own counters at scrape time (labels: `tier`, `db_type`; never key names); the L2 latency
 * histogram times each Redis call (labels: `tier`, `operation`, `result`); gauges describe L1 and
 * the connection. In `cluster` workers, prom-client's `AggregatorRegistry` sums them across workers
 * (`cachette_l2_up` takes the minimum).
 */
export function registerCacheMetrics(cache: Cache, options: CacheMetricsOptions = {}): CacheMetrics {
  const registry = options.registry ?? globalRegistry;
  // prom-client's workers answer the primary's AggregatorRegistry only once an AggregatorRegistry
  // has been created in the worker too: creating one is what installs that listener
  if (cluster.isWorker) new AggregatorRegistry();
  const registers = [registry];
  const metrics: Array<Counter<string> | Gauge<string> | Histogram<string>> = [];

  const counters = new Map<string, Counter<string>>();
  // what each series had reached at the previous scrape: counters only move by increments
  const reported = new Map<string, number>();
  for (const source of COUNTER_SOURCES) {
    const name = `cachette_${source.name}`;
    if (counters.has(name)) continue;
    const sources = COUNTER_SOURCES.filter((s) => s.name === source.name);
    const labelNames = [...new Set(sources.flatMap((s) => Object.keys(s.labels))), 'db_type'];
    const counter: Counter<string> = new Counter({
      name,
      help: source.help,
      labelNames,
      registers,
      collect() {
        const { domains } = cache.stats();
        for (const [dbType, stats] of Object.entries(domains)) {
          for (const { field, labels } of sources) {
            const series = `${name}|${field}|${dbType}`;
            const increase = stats[field] - (reported.get(series) ?? 0);
            reported.set(series, stats[field]);
            // inc(0) still creates the series, so every domain shows up from the first scrape
            if (increase >= 0) counter.inc({ ...labels, db_type: dbType }, increase);
          }
        }
      },
    });
    counters.set(name, counter);
    metrics.push(counter);
  }

  const latency = new Histogram({
    name: 'cachette_operation_duration_seconds',
    help: 'Duration of calls to the tier, by operation and result (ok, error)',
    labelNames: ['tier', 'operation', 'result'],
    buckets: options.latencyBuckets ?? DEFAULT_LATENCY_BUCKETS,
    registers,
  });
  metrics.push(latency);
  const stopTiming = cache.observeL2((operation, durationMs, failed) => {
    latency.observe({ tier: 'l2', operation, result: failed ? 'error' : 'ok' }, durationMs / 1000);
  });

  const l1Gauge = (name: string, help: string, read: (l1: ReturnType<Cache['status']>['l1']) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(cache.status().l1));
      },
    });
  metrics.push(
    l1Gauge('cachette_l1_entries', 'Entries in the in-process tier', (l1) => l1.entries),
    l1Gauge(
      'cachette_l1_bytes',
      'Bytes accounted in the in-process tier (JSON text length plus overhead)',
      (l1) => l1.bytes,
    ),
    l1Gauge('cachette_l1_max_entries', 'Entry bound of the in-process tier', (l1) => l1.maxEntries),
    l1Gauge('cachette_l1_max_bytes', 'Byte bound of the in-process tier', (l1) => l1.maxBytes),
    new Gauge({
      name: 'cachette_l2_up',
      help: '1 while the Redis connection is ready, else 0',
      registers,
      aggregator: 'min',
      collect() {
        this.set(cache.status().l2.state === 'ready' ? 1 : 0);
      },
    }),
  );

  const breakerStates: BreakerState[] = ['closed', 'half-open', 'open'];
  let reportedOpens = 0;
  const opens: Counter<string> = new Counter({
    name: 'cachette_breaker_opens_total',
    help: 'Times the circuit breaker in front of Redis opened',
    registers,
    collect() {
      const now = cache.status().l2.breakerOpens;
      opens.inc(Math.max(0, now - reportedOpens));
      reportedOpens = now;
    },
  });
  metrics.push(
    opens,
    new Gauge({
      name: 'cachette_breaker_state',
      help: '1 for the state the circuit breaker in front of Redis is in (closed, half-open, open), else 0',
      labelNames: ['state'],
      registers,
      collect() {
        const current = cache.status().breaker;
        for (const state of breakerStates) this.set({ state }, state === current ? 1 : 0);
      },
    }),
  );
  metrics.push(...coherenceMetrics(cache, registers), ...pendingMetrics(cache, registers));
  if (options.warming) metrics.push(...warmingMetrics(options.warming, registers));

  return {
    unregister() {
      stopTiming();
      for (const metric of metrics) registry.removeSingleMetric((metric as unknown as { name: string }).name);
    },
  };
}

/** Whether the invalidation stream is up, and how many invalidations and L1 flushes it brought. */
function coherenceMetrics(cache: Cache, registers: Registry[]): Array<Counter<string> | Gauge<string>> {
  const counter = (name: string, help: string, read: (status: CoherenceStatus) => number) => {
    let reported = 0;
    const metric: Counter<string> = new Counter({
      name,
      help,
      registers,
      collect() {
        const now = read(cache.status().coherence);
        metric.inc(Math.max(0, now - reported));
        reported = now;
      },
    });
    return metric;
  };
  return [
    new Gauge({
      name: 'cachette_coherence_connected',
      help: '1 while invalidations from other processes flow (coherence on and connected), else 0',
      registers,
      aggregator: 'min',
      collect() {
        this.set(cache.status().coherence.connected ? 1 : 0);
      },
    }),
    counter(
      'cachette_coherence_messages_total',
      'Invalidation messages received from Redis (tracking) or other processes (pub/sub)',
      (status) => status.messages,
    ),
    counter(
      'cachette_coherence_l1_flushes_total',
      'Times L1 was emptied because invalidations may have been lost (reconnection) or by FLUSHDB',
      (status) => status.l1Flushes,
    ),
  ];
}

/** The deletes owed to Redis now, and what became of them (applied, widened, dropped). */
function pendingMetrics(cache: Cache, registers: Registry[]): Array<Counter<string> | Gauge<string>> {
  const outcomes = ['applied', 'widened', 'dropped'] as const;
  const reported = new Map<string, number>();
  const total: Counter<string> = new Counter({
    name: 'cachette_l2_pending_total',
    help: 'Pending deletes by outcome: applied once Redis answered, widened (folded into a wider delete to stay within maxPending), dropped (refused by Redis, or the cache closed first)',
    labelNames: ['outcome'],
    registers,
    collect() {
      const pending = cache.status().pending;
      for (const outcome of outcomes) {
        total.inc({ outcome }, Math.max(0, pending[outcome] - (reported.get(outcome) ?? 0)));
        reported.set(outcome, pending[outcome]);
      }
    },
  });
  return [
    new Gauge({
      name: 'cachette_l2_pending_entries',
      help: 'Deletes owed to Redis: write-side calls that did not complete there, applied as soon as it answers',
      registers,
      collect() {
        this.set(cache.status().pending.entries);
      },
    }),
    total,
  ];
}

/** Runs per task and result, last success per task, and whether a run is in progress. */
function warmingMetrics(
  warming: WarmingSource,
  registers: Registry[],
): Array<Counter<string> | Gauge<string>> {
  const reported = new Map<string, number>();
  const runs: Counter<string> = new Counter({
    name: 'cachette_warming_runs_total',
    help: 'Warming task executions by task and result (success, failure)',
    labelNames: ['task', 'result'],
    registers,
    collect() {
      for (const [task, metrics] of Object.entries(warming.getMetrics().tasks)) {
        for (const [result, count] of [
          ['success', metrics.successCount],
          ['failure', metrics.failureCount],
        ] as const) {
          const series = `${task}|${result}`;
          runs.inc({ task, result }, Math.max(0, count - (reported.get(series) ?? 0)));
          reported.set(series, count);
        }
      }
    },
  });
  return [
    runs,
    new Gauge({
      name: 'cachette_warming_last_success_timestamp_seconds',
      help: 'When each warming task last succeeded, in seconds since the epoch (absent before its first success)',
      labelNames: ['task'],
      registers,
      aggregator: 'max',
      collect() {
        for (const [task, metrics] of Object.entries(warming.getMetrics().tasks)) {
          if (metrics.lastSuccess !== null) this.set({ task }, metrics.lastSuccess / 1000);
        }
      },
    }),
    new Gauge({
      name: 'cachette_warming_in_progress',
      help: '1 while a warming run is active in the process',
      registers,
      collect() {
        this.set(warming.getMetrics().warmingInProgress ? 1 : 0);
      },
    }),
  ];
}
