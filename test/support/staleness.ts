/** One operation of a staleness run; times in ms of the machine-wide monotonic clock. */
export interface OpEvent {
  kind: 'read' | 'write';
  key: string;
  /** The value written or read; `null` for a delete, or a read that found nothing. */
  value: string | null;
  start: number;
  end: number;
}

/** What a staleness run found. */
export interface StalenessReport {
  reads: number;
  writes: number;
  /** Reads that returned a value older than a write completed before the read started. */
  staleReads: number;
  /** The longest time between such a write completing and the stale read starting, in ms. */
  worstLagMs: number;
  /** Reads whose value no write can explain (a bug in the cache, or in the run). */
  unexplained: number;
}

/**
 * Measures how stale the reads of a run were. Writes whose values are unique per run are ordered
 * only when one started after the other completed (then Redis applied them in that order). A read
 * returning the value of write W is stale by the time since the earliest write that surely came
 * after W completed, if that was before the read started; a read of nothing may come from any
 * delete (or from before the first write), and counts with its least stale explanation.
 */
export function analyseStaleness(events: readonly OpEvent[]): StalenessReport {
  const writesByKey = new Map<string, OpEvent[]>();
  for (const event of events) {
    if (event.kind !== 'write') continue;
    const list = writesByKey.get(event.key) ?? [];
    list.push(event);
    writesByKey.set(event.key, list);
  }
  const report: StalenessReport = { reads: 0, writes: 0, staleReads: 0, worstLagMs: 0, unexplained: 0 };
  for (const list of writesByKey.values()) report.writes += list.length;
  const beforeEverything: OpEvent = { kind: 'write', key: '', value: null, start: -Infinity, end: -Infinity };
  for (const read of events) {
    if (read.kind !== 'read') continue;
    report.reads++;
    const writes = writesByKey.get(read.key) ?? [];
    const sources = writes.filter((w) => w.value === read.value && w.start < read.end);
    if (read.value === null) sources.push(beforeEverything);
    if (sources.length === 0) {
      report.unexplained++;
      continue;
    }
    let lagMs = Infinity;
    for (const source of sources) {
      let supersededAt = Infinity;
      for (const later of writes) {
        if (later.start > source.end && later.end < read.start)
          supersededAt = Math.min(supersededAt, later.end);
      }
      lagMs = Math.min(lagMs, supersededAt === Infinity ? 0 : read.start - supersededAt);
    }
    if (lagMs > 0) report.staleReads++;
    report.worstLagMs = Math.max(report.worstLagMs, lagMs);
  }
  return report;
}
