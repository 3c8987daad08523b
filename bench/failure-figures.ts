// The figures of docs/failure-behaviour.md: cachette while Redis is down, measured on real processes.
//
//   npm run bench:failure            (about half a minute)
//
// - per-call latency of get/set under a load of 20 concurrent loops, while Redis is killed and the
//   breaker is open (p50/p99/max), and before it opens (calls waiting out the operation deadline);
// - recovery: from a restarted redis-server accepting connections to the breaker closed and a
//   write confirmed, over several kill/restart rounds;
// - the same through a network partition (the TCP fault proxy blackholes the connection), where
//   calls wait out the deadline until the breaker opens, and recovery once it heals;
// - peak heap growth during a long outage (100 000 distinct writes, reads and loads), from
//   test/fixtures/long-outage.ts in a child process with --expose-gc.
import { execFileSync } from 'node:child_process';
import { type Cache, createCache, silentLogger } from '../src/index.js';
import { maxOf, percentile, startLoad } from '../test/support/load.js';
import { startProxy } from '../test/support/proxy.js';
import { startRedis, waitFor } from '../test/support/redis.js';

const ROUNDS = 5;
const OUTAGE_MS = 3000;
const round1 = (ms: number) => Math.round(ms * 1000) / 1000;

/** Per-call latencies (ms) while the breaker was open and before it opened, and recovery times (ms). */
interface Outages {
  open: number[];
  beforeOpen: number[];
  recoveries: number[];
}

/**
 * `ROUNDS` outages under load: `cut()` starts one, it lasts `OUTAGE_MS` after the breaker opened,
 * `heal()` ends it; recovery runs from `heal()` returning to the breaker closed and a write confirmed.
 */
async function outages(
  cache: Cache,
  cut: () => void | Promise<void>,
  heal: () => Promise<void>,
): Promise<Outages> {
  const result: Outages = { open: [], beforeOpen: [], recoveries: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const load = startLoad(cache);
    await waitFor(() => load.report.calls.length > 1000, 10_000, 'calls to flow');
    const cutAt = performance.now();
    await cut();
    await waitFor(() => cache.status().breaker === 'open', 5000, 'the breaker to open');
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    const healedAt = performance.now();
    await heal();
    await waitFor(() => cache.status().breaker === 'closed', 10_000, 'the breaker to close');
    await waitFor(async () => cache.set('recovered', round), 10_000, 'a confirmed write');
    result.recoveries.push(performance.now() - healedAt);
    const { calls, rejected } = await load.stop();
    if (rejected.length > 0) throw new Error(`${rejected.length} cache calls rejected`);
    for (const call of calls) {
      if (call.startedAt < cutAt || call.startedAt >= healedAt) continue;
      (call.breaker === 'open' ? result.open : result.beforeOpen).push(call.ms);
    }
  }
  await cache.close();
  return result;
}

const redis = await startRedis();
const direct = createCache({ redisUrl: redis.url, logger: silentLogger, env: {} });
await direct.ready();
const killed = await outages(
  direct,
  () => redis.kill(),
  () => redis.start(),
);

// the same through a network partition: calls wait out the deadline until the breaker opens
const proxy = await startProxy(redis.port);
const partitioned = createCache({ redisUrl: proxy.url, logger: silentLogger, env: {} });
await partitioned.ready();
const partition = await outages(
  partitioned,
  () => proxy.blackhole(),
  () => proxy.restore(),
);
await proxy.close();
await redis.stop();

const memory = JSON.parse(
  execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'test/fixtures/long-outage.ts', '100000'],
    {
      encoding: 'utf8',
    },
  )
    .trim()
    .split('\n')
    .at(-1)!,
) as { peakGrowthBytes: number; baselineBytes: number };

const figures = {
  'calls while the breaker is open': killed.open.length,
  'p50 per call, breaker open (ms)': round1(percentile(killed.open, 50)),
  'p99 per call, breaker open (ms)': round1(percentile(killed.open, 99)),
  'max per call, breaker open (ms)': round1(maxOf(killed.open)),
  'calls between the kill and the breaker opening': killed.beforeOpen.length,
  'p99 per call before the breaker opens (ms)': round1(percentile(killed.beforeOpen, 99)),
  'recovery after restart, median (ms)': Math.round(percentile(killed.recoveries, 50)),
  'recovery after restart, max (ms)': Math.round(maxOf(killed.recoveries)),
  'partition: p99 per call, breaker open (ms)': round1(percentile(partition.open, 99)),
  'partition: calls before the breaker opens': partition.beforeOpen.length,
  'partition: p99 per call before the breaker opens (ms)': round1(percentile(partition.beforeOpen, 99)),
  'partition: recovery after it heals, median (ms)': Math.round(percentile(partition.recoveries, 50)),
  'partition: recovery after it heals, max (ms)': Math.round(maxOf(partition.recoveries)),
  'peak heap growth, 100 000 writes during an outage (KiB)': Math.round(memory.peakGrowthBytes / 1024),
};
console.log(`node ${process.version}, ${ROUNDS} kill/restart rounds, ${OUTAGE_MS} ms outage each`);
for (const [name, value] of Object.entries(figures)) console.log(`${name}: ${value}`);
