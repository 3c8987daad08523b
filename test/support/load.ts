import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Cache } from '../../src/cache.js';

/** One cache call made by the load: when it started (performance.now), how long it took, the breaker then. */
export interface CallRecord {
  op: 'get' | 'set';
  startedAt: number;
  ms: number;
  breaker: string;
}

export interface LoadReport {
  calls: CallRecord[];
  /** Calls whose promise rejected: the cache promises this never happens for infrastructure faults. */
  rejected: unknown[];
  /** `get` hits whose value was not the one every writer stores under that key (a protocol desync). */
  wrongValues: number;
}

/** The value every writer of the load stores under `key`: a hit must return exactly this. */
export function valueFor(key: string): string {
  return `value-of-${key}`;
}

/**
 * Runs `concurrency` loops of cache calls (half `get`, half `set`, over `keys` keys) until `stop()`.
 * Each loop yields to the event loop between calls, as request handlers would, so timers (deadlines,
 * probes) run even when calls return at once.
 */
export function startLoad(cache: Cache, options: { concurrency?: number; keys?: number } = {}) {
  const concurrency = options.concurrency ?? 20;
  const keys = options.keys ?? 200;
  const report: LoadReport = { calls: [], rejected: [], wrongValues: 0 };
  let running = true;
  let n = 0;

  const worker = async () => {
    while (running) {
      const i = n++;
      const key = `load-${i % keys}`;
      const op = i % 2 === 0 ? 'get' : 'set';
      const breaker = cache.status().breaker;
      const startedAt = performance.now();
      try {
        if (op === 'get') {
          const value = await cache.get(key);
          if (value !== undefined && value !== valueFor(key)) report.wrongValues++;
        } else {
          await cache.set(key, valueFor(key));
        }
      } catch (err) {
        report.rejected.push(err);
      }
      report.calls.push({ op, startedAt, ms: performance.now() - startedAt, breaker });
      await yieldToLoop();
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    report,
    async stop(): Promise<LoadReport> {
      running = false;
      await Promise.all(workers);
      return report;
    },
  };
}

/** The `p`-th percentile (0–100) of `values`, in their unit; 0 for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Collects unhandled rejections and uncaught exceptions while a test runs. */
export function watchUnhandled() {
  const seen: unknown[] = [];
  const onError = (err: unknown) => seen.push(err);
  process.on('unhandledRejection', onError);
  process.on('uncaughtException', onError);
  return {
    seen,
    dispose() {
      process.off('unhandledRejection', onError);
      process.off('uncaughtException', onError);
    },
  };
}

/** The largest of `values` (0 for none), without spreading them onto the stack. */
export function maxOf(values: number[]): number {
  return values.reduce((max, value) => Math.max(max, value), 0);
}
