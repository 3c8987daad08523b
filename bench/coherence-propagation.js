// Coherence propagation: the time from `delete()` resolving in process A until process B's L1 no
// longer holds the key, over many cycles (p50/p99/max), for one coherence mode. Runs on the built
// package (`npm run build` first), against its own redis-server unless a URL is given.
//
//   node bench/coherence-propagation.js [--cycles=1000] [--mode=tracking|pubsub] [--url=redis://…]
//
// Prints one JSON line: { mode, cycles, p50Ms, p99Ms, maxMs, meanMs }. As a module:
// `measurePropagation({ url, cycles, mode })` resolves to the same object (the bench runner can
// call it). Times come from the machine-wide monotonic clock (process.hrtime), so A's and B's
// readings compare directly. B watches its L1 in a setImmediate loop: detection adds at most one
// turn of its event loop (microseconds).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createCache, silentLogger } from '../dist/index.js';
import { startRedisServer } from './lib/redis-server.js';

const self = fileURLToPath(import.meta.url);
const KEY = 'propagation';
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function openCache(url, mode) {
  return createCache({
    redisUrl: url,
    env: {},
    logger: silentLogger,
    operationTimeoutMs: 2000,
    l1: { ttl: 60 },
    coherence: mode,
  });
}

async function waitUntil(condition, timeoutMs, what) {
  const deadline = nowMs() + timeoutMs;
  while (!condition()) {
    if (nowMs() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Process B: on 'fill', reads the key into L1 (once A's own change of it was heard), then reports when it leaves. */
async function runWatcher(url, mode) {
  const cache = openCache(url, mode);
  await cache.ready();
  await waitUntil(() => cache.status().coherence.connected, 5000, 'coherence');
  const heard = () => cache.status().coherence.messages;
  process.on('message', async ({ op, messages }) => {
    if (op === 'stop') {
      await cache.close();
      process.exit(0);
    }
    // A's set of the key must have reached B first, or its late invalidation would look like the delete's
    await waitUntil(() => heard() >= messages, 5000, "A's write");
    for (let i = 0; cache.status().l1.entries === 0; i++) {
      if (i > 100) throw new Error('the key does not stay in L1');
      await cache.get(KEY);
    }
    process.send({ op: 'filled' });
    await waitUntil(() => cache.status().l1.entries === 0, 5000, 'the eviction');
    process.send({ op: 'gone', atMs: nowMs() });
  });
  process.send({ op: 'ready' });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `cycles` set → B fills L1 → delete in A → B's eviction, and summarises the latencies. */
export async function measurePropagation({ url, cycles = 1000, mode = 'tracking' }) {
  const cache = openCache(url, mode);
  await cache.ready();
  const watcher = fork(self, ['--watcher', `--url=${url}`, `--mode=${mode}`], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () => new Promise((resolve) => watcher.once('message', resolve));
  await next();
  const latencies = [];
  // what B must have heard before filling: pub/sub announces every write and delete; tracking reports
  // only changes of keys B holds, and B reads the key only after each set, so only the deletes
  let expected = 0;
  for (let i = 0; i < cycles; i++) {
    if (!(await cache.set(KEY, i))) throw new Error('set failed');
    if (mode === 'pubsub') expected++;
    watcher.send({ op: 'fill', messages: expected });
    await next();
    const gone = next();
    if (!(await cache.delete(KEY))) throw new Error('delete failed');
    const deletedAtMs = nowMs();
    const { atMs } = await gone;
    expected++;
    latencies.push(Math.max(0, atMs - deletedAtMs));
  }
  watcher.send({ op: 'stop' });
  await cache.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (ms) => Math.round(ms * 1000) / 1000;
  return {
    mode,
    cycles,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted[sorted.length - 1]),
    meanMs: round(latencies.reduce((sum, ms) => sum + ms, 0) / latencies.length),
  };
}

const argv = process.argv.slice(2);
const flag = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
if (process.argv[1] === self) {
  const mode = flag('mode') ?? 'tracking';
  if (argv.includes('--watcher')) {
    await runWatcher(flag('url'), mode);
  } else {
    const server = flag('url') ? undefined : await startRedisServer();
    const url = flag('url') ?? server.url;
    console.log(
      JSON.stringify(await measurePropagation({ url, cycles: Number(flag('cycles') ?? 1000), mode })),
    );
    server?.stop();
  }
}
