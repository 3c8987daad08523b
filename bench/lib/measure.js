// Timing loops shared by the scenarios: warm-up, then a fixed number of operations.
import { performance } from 'node:perf_hooks';

const gc = globalThis.gc ?? (() => {});

/** Percentile `q` (0..1) of an ascending-sorted array, nearest rank. */
function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function summarize(samplesMs, ops, wallMs, extra) {
  const sorted = samplesMs.slice().sort();
  return {
    ops,
    wallMs,
    opsPerSec: (ops * 1000) / wallMs,
    nsPerOp: (wallMs * 1e6) / ops,
    p50Us: percentile(sorted, 0.5) * 1000,
    p99Us: percentile(sorted, 0.99) * 1000,
    p999Us: percentile(sorted, 0.999) * 1000,
    ...extra,
  };
}

/**
 * Runs `op(i)` one at a time: `warmup` operations with i in [0, warmup), then `ops` timed ones with
 * i in [warmup, warmup + ops). Latency is sampled per batch of `batch` operations (batch time / batch):
 * sub-microsecond operations are measured in batches so the clock does not dominate what it measures.
 */
export async function sequential(op, { ops, warmup, batch = 1 }) {
  for (let i = 0; i < warmup; i++) await op(i);
  gc();
  const samples = new Float64Array(Math.ceil(ops / batch));
  let s = 0;
  const end = warmup + ops;
  const start = performance.now();
  for (let i = warmup; i < end; i += batch) {
    const stop = Math.min(i + batch, end);
    const t = performance.now();
    for (let j = i; j < stop; j++) await op(j);
    samples[s++] = (performance.now() - t) / (stop - i);
  }
  return summarize(samples, ops, performance.now() - start, { concurrency: 1, batch });
}

/** Like `sequential` for a synchronous `op` (the raw lru-cache floor without `await`). */
export function sequentialSync(op, { ops, warmup, batch = 1 }) {
  for (let i = 0; i < warmup; i++) op(i);
  gc();
  const samples = new Float64Array(Math.ceil(ops / batch));
  let s = 0;
  const end = warmup + ops;
  const start = performance.now();
  for (let i = warmup; i < end; i += batch) {
    const stop = Math.min(i + batch, end);
    const t = performance.now();
    for (let j = i; j < stop; j++) op(j);
    samples[s++] = (performance.now() - t) / (stop - i);
  }
  return summarize(samples, ops, performance.now() - start, { concurrency: 1, batch });
}

/**
 * Runs `op(i)` from `concurrency` loops at once, each taking the next index: warm-up indices first,
 * then `ops` timed ones. Every operation's latency is recorded; throughput is ops / wall time.
 */
export async function concurrent(op, { ops, warmup, concurrency }) {
  const run = async (from, to, latencies) => {
    let next = from;
    const worker = async () => {
      while (next < to) {
        const i = next++;
        const t = performance.now();
        await op(i);
        if (latencies) latencies[i - from] = performance.now() - t;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };
  await run(0, warmup, undefined);
  gc();
  const latencies = new Float64Array(ops);
  const start = performance.now();
  await run(warmup, warmup + ops, latencies);
  return summarize(latencies, ops, performance.now() - start, { concurrency, batch: 1 });
}

/** Runs `task(i)` for i in [0, count) with `concurrency` in flight (used to prepare data, not timed). */
export async function fill(task, count, concurrency = 64) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
