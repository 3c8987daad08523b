import type { WorkerStatus } from './worker.js';

/** Reads and hits of one domain during one sampling interval, summed over the workers. */
export interface DomainSample {
  hits: number;
  misses: number;
}

export interface Sample {
  /** End of the interval, ms since the epoch. */
  t: number;
  domains: Record<string, DomainSample>;
}

/**
 * The last minutes of hit rate per domain, for the dashboard's chart: each sample holds what the
 * workers' counters moved by since the previous one (a restarted worker starts from zero again).
 */
export class HitRateHistory {
  readonly #capacity: number;
  readonly #samples: Sample[] = [];
  readonly #previous = new Map<number, Record<string, DomainSample>>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  record(t: number, workers: readonly WorkerStatus[]): void {
    const domains: Record<string, DomainSample> = {};
    const seen = new Set<number>();
    for (const worker of workers) {
      seen.add(worker.pid);
      const before = this.#previous.get(worker.pid) ?? {};
      const now: Record<string, DomainSample> = {};
      for (const [name, stats] of Object.entries(worker.stats.domains)) {
        const current = { hits: stats.l1Hits + stats.l2Hits, misses: stats.misses };
        now[name] = current;
        domains[name] ??= { hits: 0, misses: 0 };
        const sum = domains[name];
        sum.hits += Math.max(0, current.hits - (before[name]?.hits ?? 0));
        sum.misses += Math.max(0, current.misses - (before[name]?.misses ?? 0));
      }
      this.#previous.set(worker.pid, now);
    }
    for (const pid of this.#previous.keys()) if (!seen.has(pid)) this.#previous.delete(pid);
    this.#samples.push({ t, domains });
    if (this.#samples.length > this.#capacity) this.#samples.shift();
  }

  samples(): Sample[] {
    return [...this.#samples];
  }
}
