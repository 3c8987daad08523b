// What the two-process scenarios (stampede, invalidation propagation) run in each process, and the
// partner process itself: started with `fork(this file)`, it opens the same library against the
// same Redis and answers requests from the scenario's process.
import { fork } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/**
 * `n` concurrent getOrSet of one missing `key` whose factory takes `factoryMs`: how many times the
 * factory ran here, the wall time until every call settled, and how many calls did not get the value.
 */
export async function stampede(cache, key, n, factoryMs) {
  let calls = 0;
  const factory = async () => {
    calls++;
    await sleep(factoryMs);
    return { key, builtBy: process.pid };
  };
  const started = performance.now();
  const settled = await Promise.allSettled(Array.from({ length: n }, () => cache.getOrSet(key, factory)));
  const wallMs = performance.now() - started;
  const wrong = settled.filter((r) => r.status !== 'fulfilled' || r.value?.key !== key).length;
  return { calls, wallMs, wrong };
}

/**
 * Reads `key` until it is gone (answered `undefined`), yielding to the event loop between reads so
 * that an invalidation message can arrive; resolves to the monotonic time it was seen gone (ns,
 * system-wide on Linux, so comparable across processes), or `undefined` after `capMs`.
 */
export async function watchGone(cache, key, capMs) {
  const started = performance.now();
  while (performance.now() - started < capMs) {
    if ((await cache.get(key)) === undefined) return process.hrtime.bigint();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return undefined;
}

/** Starts the partner process for `adapterName`; resolves once its cache is open. */
export function startPartner(adapterName, ctx) {
  const child = fork(fileURLToPath(import.meta.url), [adapterName], {
    env: { ...process.env, BENCH_PARTNER: JSON.stringify(ctx) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map();
  let nextId = 0;
  child.on('message', ({ id, ...reply }) => {
    waiting.get(id)?.(reply);
    waiting.delete(id);
  });
  child.on('exit', () => {
    for (const answer of waiting.values()) answer({ error: 'partner process exited' });
    waiting.clear();
  });
  const request = (message) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, (reply) =>
        reply.error ? reject(new Error(`partner: ${reply.error}`)) : resolve(reply),
      );
      child.send({ id, ...message });
    });
  return request({ op: 'ready' }).then(() => ({
    request,
    /** Resolves when the partner sends a message with this `id` of its own (the watch handshake). */
    expect: (id) => new Promise((resolve) => waiting.set(id, resolve)),
    async close() {
      await request({ op: 'close' }).catch(() => {});
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  }));
}

async function servePartner() {
  const { loadAdapter } = await import('../adapters/index.js');
  const ctx = JSON.parse(process.env.BENCH_PARTNER);
  const cache = await (await loadAdapter(process.argv[2])).open(ctx);
  const handlers = {
    ready: async () => ({}),
    stampede: ({ key, n, factoryMs }) => stampede(cache, key, n, factoryMs),
    prime: async ({ key }) => {
      // read twice: the first read fills L1 from Redis, the second is answered from L1
      await cache.get(key);
      return { present: (await cache.get(key)) !== undefined };
    },
    watch: async ({ key, capMs }) => {
      // answered at once, so the other process deletes while this one is already watching
      process.send({ id: `${key}:watching` });
      const goneAt = await watchGone(cache, key, capMs);
      return { goneAtNs: goneAt?.toString() };
    },
    close: async () => {
      await cache.close();
      setImmediate(() => process.exit(0));
      return {};
    },
  };
  process.on('message', async ({ id, op, ...args }) => {
    try {
      process.send({ id, ...(await handlers[op](args)) });
    } catch (err) {
      process.send({ id, error: err instanceof Error ? err.message : String(err) });
    }
  });
}

if (process.env.BENCH_PARTNER && process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  await servePartner();
}
