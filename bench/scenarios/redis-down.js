// Redis down: get/set latency while the library's Redis is killed (SIGKILL) or paused (SIGSTOP),
// before and after a circuit breaker opens, errors thrown to the caller, and the time to recover
// once Redis is back. Each library gets its own redis-server, so the fault touches nothing else.
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedisServer } from '../lib/redis-server.js';
import { productValue } from '../lib/values.js';

/** An operation that has not settled after this long is stopped waiting for and counted as hung. */
const CAP_MS = 1000;
const BASELINE_OPS = 200;
const RECOVERY_CAP_MS = 15_000;
const HUNG = Symbol('hung');

async function timed(call) {
  let timer;
  const started = performance.now();
  let outcome = 'ok';
  try {
    const cap = new Promise((resolve) => {
      timer = setTimeout(() => resolve(HUNG), CAP_MS);
    });
    if ((await Promise.race([call(), cap])) === HUNG) outcome = 'hung';
  } catch {
    outcome = 'threw';
  }
  clearTimeout(timer);
  return { ms: performance.now() - started, outcome };
}

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : undefined;
}

function phaseRow(label, samples) {
  const of = (kind) =>
    samples
      .filter((s) => s.kind === kind)
      .map((s) => s.ms * 1000)
      .sort((a, b) => a - b);
  const gets = of('get');
  const sets = of('set');
  return {
    label,
    ops: samples.length,
    getP50Us: percentile(gets, 0.5),
    getP99Us: percentile(gets, 0.99),
    setP50Us: percentile(sets, 0.5),
    setP99Us: percentile(sets, 0.99),
    threw: samples.filter((s) => s.outcome === 'threw').length,
    hung: samples.filter((s) => s.outcome === 'hung').length,
    capUs: CAP_MS * 1000,
  };
}

function redisDown(fault) {
  return {
    id: `redis-down-${fault}`,
    title: `Redis down (${fault === 'killed' ? 'redis-server killed with SIGKILL, then restarted empty' : 'redis-server paused with SIGSTOP, then resumed'})`,
    roles: ['subject', 'peer'],
    only: ['cachette', 'bentocache', 'cacheable'],
    kind: 'faults',
    goal: 'cachette: p99 per call < 1 ms once its breaker is open, no error thrown, quick recovery',
    params: (quick) => ({ outageMs: quick ? 2500 : 3000 }),
    async run(adapter, _ctx, { outageMs }) {
      const redis = await startRedisServer();
      const ctx = { url: redis.url, host: '127.0.0.1', port: redis.port, faults: true };
      const cache = await adapter.open(ctx);
      // a second instance ("another worker") through the outage: it reads what the first one writes
      const other = await adapter.open(ctx);
      const value = productValue(1);
      let n = 0;
      // distinct keys: every get is an L1 miss, so every call needs Redis
      const op = (kind) =>
        kind === 'get' ? () => cache.get(`down:${n++}`) : () => cache.set(`down:${n++}`, value);
      const baseline = [];
      for (let i = 0; i < BASELINE_OPS; i++) {
        const kind = i % 2 ? 'set' : 'get';
        baseline.push({ kind, ...(await timed(op(kind))) });
      }

      const faultAt = performance.now();
      if (fault === 'killed') await redis.kill();
      else redis.pause();
      const outage = [];
      let breakerOpenAfterMs;
      for (let i = 0; performance.now() - faultAt < outageMs; i++) {
        const kind = i % 2 ? 'set' : 'get';
        const breaker = cache.breaker?.();
        const sinceFaultMs = performance.now() - faultAt;
        if (breaker === 'open' && breakerOpenAfterMs === undefined) breakerOpenAfterMs = sinceFaultMs;
        const sample = { kind, ...(await timed(op(kind))) };
        // by the breaker's state when the call started where the library tells it, else by time
        sample.phase = (breaker === undefined ? sinceFaultMs < 1000 : breaker === 'closed')
          ? 'early'
          : 'late';
        outage.push(sample);
        // a server does I/O between requests: let reconnection attempts and timers run
        await new Promise((resolve) => setImmediate(resolve));
      }

      // recovery: Redis back; time until a value set by one instance is read by the other (both
      // through Redis: the key is new to the reader's L1)
      if (fault === 'killed') await redis.restart();
      else redis.resume();
      const backAt = performance.now();
      let recoveredAfterMs;
      for (let i = 0; performance.now() - backAt < RECOVERY_CAP_MS; i++) {
        const key = `down:recovery:${i}`;
        await timed(() => cache.set(key, { i }));
        let read = false;
        await timed(async () => {
          read = (await other.get(key))?.i === i;
        });
        if (read) {
          recoveredAfterMs = performance.now() - backAt;
          break;
        }
        await sleep(10);
      }
      await Promise.race([Promise.all([cache.close(), other.close()]), sleep(2000)]);
      redis.stop();

      const early = outage.filter((s) => s.phase === 'early');
      const late = outage.filter((s) => s.phase === 'late');
      const breakerLabels = cache.breaker
        ? ['Redis down, breaker still closed', 'Redis down, breaker open']
        : ['Redis down, first second', `Redis down, after 1 s (to ${outageMs / 1000} s)`];
      return [
        phaseRow('Redis up (baseline)', baseline),
        phaseRow(breakerLabels[0], early),
        { ...phaseRow(breakerLabels[1], late), breakerOpenAfterMs },
        { label: 'recovery after Redis is back', recoveredAfterMs, recoveryCapMs: RECOVERY_CAP_MS },
      ];
    },
  };
}

export default [redisDown('killed'), redisDown('paused')];
