/** Milliseconds of CLOCK_MONOTONIC, which every process of the machine shares: the clock of `OpEvent`s. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A small seeded generator of numbers in [0, 1), so that a staleness run can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One operation of a staleness run; times in ms of the machine-wide monotonic clock (`monotonicMs`). */
export interface OpEvent {
  kind: 'read' | 'write';
  key: string;
  /** The value written or read; `null` for a delete, or a read that found nothing. */
  value: string | null;
  start: number;
  end: number;
  /**
   * A write that may have left nothing instead of `value` (a failed write owed as a delete, a
   * getOrSet store that may have been skipped): a read of nothing is explained by it too.
   */
  orNothing?: boolean;
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

/** How stale one read was: by `lagMs` (0: fresh), since `supersededBy` completed; `undefined` when unexplained. */
export interface ReadLag {
  read: OpEvent;
  lagMs: number;
  /** The write that made the value read outdated, when the read is stale. */
  supersededBy?: OpEvent;
}

/**
 * Measures how stale each read of a run was. Writes whose values are unique per run are ordered
 * only when one started after the other completed (then Redis applied them in that order). A read
 * returning the value of write W is stale by the time since the earliest write that surely came
 * after W completed, if that was before the read started; a read of nothing may come from any
 * delete (or from before the first write, or a write that may have left nothing), and counts with
 * its least stale explanation. Reads no write explains have an `undefined` lag.
 */
export function readLags(events: readonly OpEvent[]): Array<ReadLag | { read: OpEvent; lagMs: undefined }> {
  const writesByKey = new Map<string, OpEvent[]>();
  for (const event of events) {
    if (event.kind !== 'write') continue;
    const list = writesByKey.get(event.key) ?? [];
    list.push(event);
    writesByKey.set(event.key, list);
  }
  for (const list of writesByKey.values()) list.sort((a, b) => a.start - b.start);
  const beforeEverything: OpEvent = { kind: 'write', key: '', value: null, start: -Infinity, end: -Infinity };
  const lags: Array<ReadLag | { read: OpEvent; lagMs: undefined }> = [];
  for (const read of events) {
    if (read.kind !== 'read') continue;
    const writes = writesByKey.get(read.key) ?? [];
    const sources = writes.filter(
      (w) => (w.value === read.value || (read.value === null && w.orNothing)) && w.start < read.end,
    );
    if (read.value === null) sources.push(beforeEverything);
    if (sources.length === 0) {
      lags.push({ read, lagMs: undefined });
      continue;
    }
    // the latest source is usually the least stale explanation: try it first, stop at a fresh one
    sources.sort((a, b) => b.end - a.end);
    let best: ReadLag = { read, lagMs: Infinity };
    for (const source of sources) {
      const superseding = earliestAfter(writes, source.end, read.start);
      const lagMs = superseding === undefined ? 0 : read.start - superseding.end;
      if (lagMs < best.lagMs)
        best = superseding ? { read, lagMs, supersededBy: superseding } : { read, lagMs };
      if (best.lagMs === 0) break;
    }
    lags.push(best);
  }
  return lags;
}

/** Of `writes` (by start), the one that ends first among those started after `after` and ended before `before`. */
function earliestAfter(writes: readonly OpEvent[], after: number, before: number): OpEvent | undefined {
  let low = 0;
  let high = writes.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (writes[mid]!.start > after) high = mid;
    else low = mid + 1;
  }
  let found: OpEvent | undefined;
  // a write that started after `before` cannot have ended before it
  for (let i = low; i < writes.length && writes[i]!.start < before; i++) {
    const write = writes[i]!;
    if (write.end < before && (!found || write.end < found.end)) found = write;
  }
  return found;
}

/** The summary of `readLags` over a run. */
export function analyseStaleness(events: readonly OpEvent[]): StalenessReport {
  const report: StalenessReport = { reads: 0, writes: 0, staleReads: 0, worstLagMs: 0, unexplained: 0 };
  for (const event of events) if (event.kind === 'write') report.writes++;
  for (const { lagMs } of readLags(events)) {
    report.reads++;
    if (lagMs === undefined) {
      report.unexplained++;
      continue;
    }
    if (lagMs > 0) report.staleReads++;
    report.worstLagMs = Math.max(report.worstLagMs, lagMs);
  }
  return report;
}
