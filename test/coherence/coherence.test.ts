import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cache, CacheStats, CacheStatus } from '../../src/cache.js';
import { ClusterCoherence } from '../../src/coherence/cluster-coherence.js';
import { createCoherence } from '../../src/coherence/create.js';
import type { CacheOptions } from '../../src/config/options.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { CacheConfigError } from '../../src/errors.js';
import { createCache } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { cacheFactory } from '../support/cache.js';
import { startProxy, type TestProxy } from '../support/proxy.js';
import { startRedis, type TestRedis, waitFor } from '../support/redis.js';
import { analyseStaleness, type OpEvent, type StalenessReport } from '../support/staleness.js';
import { type CacheWorker, startCacheWorker } from '../support/workers.js';

const caches = cacheFactory();
let redis: TestRedis;

/** Coherent means promptly: well under the L1 TTL the tests use (60 s), generous for a loaded machine. */
const PROMPTLY_MS = 1000;
/**
 * The largest staleness accepted while invalidations flow: propagation plus scheduling noise on 2
 * busy cores (after a stall, a worker's timer can run a read before its event loop reads the
 * invalidation waiting in the socket). Observed: well under 1 ms on a quiet machine, about 20 ms under load.
 */
const STALENESS_WINDOW_MS = 250;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());
afterEach(() => caches.closeAll());

async function startWorkers(count: number, options: Record<string, unknown>): Promise<CacheWorker[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      startCacheWorker({ redisUrl: redis.url, l1: { ttl: 60 }, ...options }),
    ),
  );
}

/** K workers make random reads, writes and deletes over a few keys at once; the merged log is analysed. */
async function churn(workers: CacheWorker[], durationMs: number): Promise<StalenessReport> {
  const logs = await Promise.all(
    workers.map((worker, index) =>
      worker.call<OpEvent[]>('churn', { index, keys: 4, durationMs, seed: 1000 + index }),
    ),
  );
  return analyseStaleness(logs.flat());
}

const coherenceOf = async (worker: CacheWorker) => (await worker.call<CacheStatus>('status')).coherence;

describe('coherence by client-side caching (tracking): L1 copies across worker processes', () => {
  let a: CacheWorker;
  let b: CacheWorker;
  let c: CacheWorker;

  beforeAll(async () => {
    const started = await startWorkers(3, {});
    [a, b, c] = [started[0]!, started[1]!, started[2]!];
  });
  afterAll(async () => {
    await Promise.all([a, b, c].map((worker) => worker?.stop()));
  });
  afterEach(() => {
    redis.cli('FLUSHDB');
  });

  it('reports tracking as connected in every worker', async () => {
    for (const worker of [a, b, c]) {
      await waitFor(async () => (await coherenceOf(worker)).connected, PROMPTLY_MS, 'coherence up');
      expect((await coherenceOf(worker)).mode).toBe('tracking');
    }
  });

  it("replaces a worker's L1 copy when another worker updates the key, and drops it when it deletes it", async () => {
    await b.call('set', { key: 'k', value: 'v1' });
    expect(await a.call('get', { key: 'k' })).toBe('v1');
    const before = await a.call<CacheStats>('stats');
    expect(await a.call('get', { key: 'k' })).toBe('v1');
    expect((await a.call<CacheStats>('stats')).total.l1Hits).toBe(before.total.l1Hits + 1);

    await b.call('set', { key: 'k', value: 'v2' });
    await waitFor(async () => (await a.call('get', { key: 'k' })) === 'v2', PROMPTLY_MS, 'the update in A');
    await b.call('delete', { key: 'k' });
    await waitFor(async () => (await a.call('get', { key: 'k' })) === null, PROMPTLY_MS, 'the delete in A');
  });

  it("drops a worker's L1 copies of the keys another worker removes with deletePattern", async () => {
    await b.call('set', { key: 'p1', value: 1 });
    await b.call('set', { key: 'p2', value: 2 });
    await b.call('set', { key: 'q1', value: 3 });
    for (const key of ['p1', 'p2', 'q1']) await a.call('get', { key });
    expect(await c.call('deletePattern', { pattern: 'p*' })).toBe(2);
    await waitFor(
      async () =>
        (await a.call('get', { key: 'p1' })) === null && (await a.call('get', { key: 'p2' })) === null,
      PROMPTLY_MS,
      'the pattern delete in A',
    );
    expect(await a.call('get', { key: 'q1' })).toBe(3);
  });

  it('sees SET and DEL made with redis-cli, outside cachette', async () => {
    await b.call('set', { key: 'outside', value: 'from cachette' });
    expect(await a.call('get', { key: 'outside' })).toBe('from cachette');
    redis.cli('SET', 'default_outside', '"from redis-cli"');
    await waitFor(
      async () => (await a.call('get', { key: 'outside' })) === 'from redis-cli',
      PROMPTLY_MS,
      'the redis-cli SET in A',
    );
    redis.cli('DEL', 'default_outside');
    await waitFor(async () => (await a.call('get', { key: 'outside' })) === null, PROMPTLY_MS, 'the DEL');
  });

  it('empties every L1 on FLUSHDB and counts it', async () => {
    for (const key of ['f1', 'f2', 'f3']) await b.call('set', { key, value: key });
    for (const key of ['f1', 'f2', 'f3']) await a.call('get', { key });
    expect((await a.call<CacheStatus>('status')).l1.entries).toBe(3);
    const flushes = (await coherenceOf(a)).l1Flushes;
    redis.cli('FLUSHDB');
    await waitFor(
      async () => (await a.call<CacheStatus>('status')).l1.entries === 0,
      PROMPTLY_MS,
      'L1 emptied',
    );
    expect((await coherenceOf(a)).l1Flushes).toBe(flushes + 1);
  });

  it('does not hear its own writes and deletes back (NOLOOP), keeps its own writes in L1, and hears the next change by another worker', async () => {
    await b.call('set', { key: 'own', value: 'theirs' });
    await b.call('set', { key: 'marker', value: 0 });
    expect(await a.call('get', { key: 'own' })).toBe('theirs');
    // A holds the marker: Redis reports its next change to A
    expect(await a.call('get', { key: 'marker' })).toBe(0);
    const before = await coherenceOf(a);
    await a.call('delete', { key: 'own' });
    await a.call('set', { key: 'own', value: 'mine' });
    // reports reach A in the order Redis applied the changes: hearing the marker's means that its
    // own delete and write, applied before, were not reported back
    await b.call('set', { key: 'marker', value: 1 });
    await waitFor(
      async () => (await coherenceOf(a)).invalidatedKeys > before.invalidatedKeys,
      PROMPTLY_MS,
      'the marker',
    );
    expect((await coherenceOf(a)).invalidatedKeys).toBe(before.invalidatedKeys + 1);
    const hits = (await a.call<CacheStats>('stats')).total.l1Hits;
    expect(await a.call('get', { key: 'own' })).toBe('mine');
    expect((await a.call<CacheStats>('stats')).total.l1Hits).toBe(hits + 1);
    // the write left the key tracked for A (its script reads the key after the SET): B's change reaches A
    await b.call('set', { key: 'own', value: 'changed' });
    await waitFor(async () => (await a.call('get', { key: 'own' })) === 'changed', PROMPTLY_MS, 'the change');
  });

  it(`keeps every read within ${STALENESS_WINDOW_MS} ms of the latest completed write (randomised, 3 workers)`, async () => {
    const report = await churn([a, b, c], 2500);
    console.info('staleness, tracking:', report);
    expect(report.reads).toBeGreaterThan(300);
    expect(report.unexplained).toBe(0);
    expect(report.staleReads).toBeLessThanOrEqual(report.reads * 0.01);
    expect(report.worstLagMs).toBeLessThan(STALENESS_WINDOW_MS);
  });
});

describe('coherence by pub/sub (writes made through cachette)', () => {
  let workers: CacheWorker[];

  beforeAll(async () => {
    workers = await startWorkers(3, { coherence: 'pubsub' });
  });
  afterAll(async () => {
    await Promise.all((workers ?? []).map((worker) => worker.stop()));
  });

  it(`keeps every read within ${STALENESS_WINDOW_MS} ms of the latest completed write (randomised, 3 workers)`, async () => {
    for (const worker of workers) {
      await waitFor(async () => (await coherenceOf(worker)).connected, PROMPTLY_MS, 'coherence up');
      expect((await coherenceOf(worker)).mode).toBe('pubsub');
    }
    const report = await churn(workers, 2500);
    console.info('staleness, pubsub:', report);
    expect(report.reads).toBeGreaterThan(300);
    expect(report.unexplained).toBe(0);
    expect(report.staleReads).toBeLessThanOrEqual(report.reads * 0.01);
    expect(report.worstLagMs).toBeLessThan(STALENESS_WINDOW_MS);
    // a worker ignores its own announcements: only the other two workers' writes reach it
    const [first] = workers;
    expect((await coherenceOf(first!)).messages).toBeGreaterThan(0);
  });
});

describe('coherence by tracking: every way into L1 leaves the key tracked', () => {
  const fills: Array<[string, (cache: Cache, key: string) => Promise<unknown>]> = [
    ['get', (cache, key) => cache.get(key)],
    ['getMany', (cache, key) => cache.getMany([key, 'absent'])],
    ['set', (cache, key) => cache.set(key, 'own')],
    ['set with tags', (cache, key) => cache.set(key, 'own', { tags: ['t'] })],
    [
      'setMany',
      (cache, key) =>
        cache.setMany([
          { key, value: 'own' },
          { key: `${key}-2`, value: 2 },
        ]),
    ],
    ['getOrSet (lease store)', (cache, key) => cache.getOrSet(key, async () => 'own')],
  ];
  for (const [how, fill] of fills) {
    it(`${how}: the copy stays without being reported back, and the next change by another client evicts it`, async () => {
      const cache = caches.create({ redisUrl: redis.url, l1: { ttl: 60 } });
      await waitFor(() => cache.status().coherence.connected, PROMPTLY_MS, 'coherence up');
      const key = `fill-${how.replace(/\W+/g, '-')}`;
      redis.cli('SET', `default_${key}`, '"before"');
      redis.cli('SET', 'default_marker', '0');
      expect(await cache.get('marker')).toBe(0);
      if (how === 'getOrSet (lease store)') redis.cli('DEL', `default_${key}`);
      await fill(cache, key);
      const heard = cache.status().coherence.invalidatedKeys;
      // reports arrive in the order of the changes: once the marker's is heard, none came for the fill
      redis.cli('SET', 'default_marker', '1');
      await waitFor(() => cache.status().coherence.invalidatedKeys > heard, PROMPTLY_MS, 'the marker');
      expect(cache.status().coherence.invalidatedKeys).toBe(heard + 1);
      const hits = cache.stats().total.l1Hits;
      const held = await cache.get(key);
      expect(cache.stats().total.l1Hits).toBe(hits + 1);
      redis.cli('SET', `default_${key}`, '"theirs"');
      await waitFor(
        async () => (await cache.get(key)) === 'theirs',
        PROMPTLY_MS,
        `the change of ${how}'s key`,
      );
      expect(held).toBe(how === 'get' || how === 'getMany' ? 'before' : 'own');
    });
  }
});

describe("coherence by tracking: cachette's own keys", () => {
  it('does not count reports of keys L1 never holds (a tag index it read) as invalidated keys', async () => {
    const cache = caches.create({ redisUrl: redis.url, l1: { ttl: 60 } });
    const other = caches.create({ redisUrl: redis.url, l1: { ttl: 60 } });
    await waitFor(() => cache.status().coherence.connected, PROMPTLY_MS, 'coherence up');
    // invalidating a tag reads its index (SSCAN), here still missing: Redis reports its creation
    expect(await cache.invalidateTags(['own-keys'])).toBe(0);
    redis.cli('SET', 'default_marker', '0');
    expect(await cache.get('marker')).toBe(0);
    const before = cache.status().coherence;
    expect(await other.set('tagged', 1, { tags: ['own-keys'] })).toBe(true);
    redis.cli('SET', 'default_marker', '1');
    await waitFor(
      () => cache.status().coherence.invalidatedKeys > before.invalidatedKeys,
      PROMPTLY_MS,
      'the marker',
    );
    const after = cache.status().coherence;
    // two reports arrived (the index's, then the marker's); only the marker's key counts
    expect(after.messages).toBe(before.messages + 2);
    expect(after.invalidatedKeys).toBe(before.invalidatedKeys + 1);
  });
});

describe('coherence by pub/sub: a database flush', () => {
  it("empties the other caches' L1 when flushAll({ scope: 'database' }) runs through cachette, and counts it", async () => {
    const flusher = caches.create({ redisUrl: redis.url, coherence: 'pubsub', l1: { ttl: 60 } });
    const reader = caches.create({ redisUrl: redis.url, coherence: 'pubsub', l1: { ttl: 60 } });
    await waitFor(
      () => reader.status().coherence.connected && flusher.status().coherence.connected,
      PROMPTLY_MS,
    );
    for (const key of ['p1', 'p2']) await flusher.set(key, key);
    for (const key of ['p1', 'p2']) expect(await reader.get(key)).toBe(key);
    expect(reader.status().l1.entries).toBe(2);
    const flushes = reader.status().coherence.l1Flushes;
    // DBSIZE before the flush: other tests of this file leave keys in the same Redis
    expect(await flusher.flushAll({ scope: 'database', confirm: true })).toBeGreaterThanOrEqual(2);
    await waitFor(() => reader.status().l1.entries === 0, PROMPTLY_MS, "the reader's L1 emptied");
    expect(reader.status().coherence.l1Flushes).toBe(flushes + 1);
  });
});

describe('coherence in one process, through a fault proxy', () => {
  let proxy: TestProxy;

  beforeAll(async () => {
    proxy = await startProxy(redis.port);
  });
  afterAll(() => proxy?.close());
  afterEach(async () => {
    await proxy.restore();
    redis.cli('FLUSHDB');
  });

  const getCalls = () => Number(/cmdstat_get:calls=(\d+)/.exec(redis.cli('INFO', 'commandstats'))?.[1] ?? 0);
  const setCalls = () =>
    Number(/cmdstat_evalsha:calls=(\d+)/.exec(redis.cli('INFO', 'commandstats'))?.[1] ?? 0);

  /** A cache whose command connection is the proxy's next accepted connection, coherent. */
  async function cacheThroughProxy(
    options: { healthCheckIntervalMs?: number; degradedL1TtlMs?: number } = {},
  ) {
    const first = proxy.accepted + 1;
    const cache = caches.create({
      redisUrl: proxy.url,
      l1: { ttl: 60 },
      operationTimeoutMs: 2000,
      healthCheckIntervalMs: options.healthCheckIntervalMs,
      coherence: { mode: 'tracking', degradedL1TtlMs: options.degradedL1TtlMs },
    });
    await waitFor(() => cache.status().coherence.connected, PROMPTLY_MS * 3, 'coherence up');
    return { cache, commandConnection: first, subscriberConnection: first + 1 };
  }

  it('does not fill L1 with a GET reply that arrives after the invalidation of its key', async () => {
    redis.cli('SET', 'default_race', '"old"');
    const { cache, commandConnection } = await cacheThroughProxy();
    proxy.replyLatency(400, commandConnection);
    const calls = getCalls();
    const pending = cache.get('race');
    await waitFor(() => getCalls() > calls, PROMPTLY_MS, 'the GET to reach Redis');
    redis.cli('SET', 'default_race', '"new"');
    await waitFor(() => cache.status().coherence.invalidatedKeys > 0, PROMPTLY_MS, 'the invalidation');
    // Redis answered before the change: the caller gets the old value, but L1 must not keep it
    expect(await pending).toBe('old');
    expect(await cache.get('race')).toBe('new');
    expect(cache.stats().total.l1Hits).toBe(0);
  });

  it("does not fill L1 with a write whose reply arrives after another client's change of the key", async () => {
    const { cache, commandConnection } = await cacheThroughProxy();
    proxy.replyLatency(400, commandConnection);
    const calls = setCalls();
    const pending = cache.set('written', 'mine');
    await waitFor(() => setCalls() > calls, PROMPTLY_MS, 'the write to reach Redis');
    redis.cli('SET', 'default_written', '"theirs"');
    expect(await pending).toBe(true);
    expect(await cache.get('written')).toBe('theirs');
  });

  it('replaces a subscriber connection that stops answering the heartbeat, then empties L1 and counts it', async () => {
    const { cache, subscriberConnection } = await cacheThroughProxy({ healthCheckIntervalMs: 300 });
    await cache.set('k', 1);
    // the subscriber's socket stays open but nothing comes back on it any more
    proxy.replyLatency(5000, subscriberConnection);
    await waitFor(() => !cache.status().coherence.connected, 3000, 'the dead subscriber to be noticed');
    await waitFor(() => cache.status().coherence.connected, 3000, 'a new subscriber');
    expect(cache.status().coherence).toMatchObject({ disconnects: 1, l1Flushes: 1 });
    expect(cache.status().l1.entries).toBe(0);
    // and invalidations flow again
    expect(await cache.get('k')).toBe(1);
    redis.cli('SET', 'default_k', '2');
    await waitFor(async () => (await cache.get('k')) === 2, PROMPTLY_MS, 'the change after reconnection');
  });

  it('bounds staleness by the degraded L1 TTL while the subscriber is away, and empties L1 when it is back', async () => {
    const degradedL1TtlMs = 300;
    const { cache } = await cacheThroughProxy({ degradedL1TtlMs });
    await cache.set('k', 0);
    expect(await cache.get('k')).toBe(0);
    // the subscriber is killed and cannot reconnect; the command connection stays
    await proxy.refuseNew();
    redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await waitFor(() => !cache.status().coherence.connected, PROMPTLY_MS, 'coherence lost');
    // another process writes a new version every few ms; A keeps reading
    const writer = caches.create({ redisUrl: redis.url, coherence: 'none', operationTimeoutMs: 2000 });
    const writes: Array<{ value: number; end: number }> = [];
    let worstLagMs = 0;
    const until = performance.now() + 1500;
    let version = 0;
    while (performance.now() < until) {
      await writer.set('k', ++version);
      writes.push({ value: version, end: performance.now() });
      for (let i = 0; i < 3; i++) {
        const start = performance.now();
        const seen = (await cache.get<number>('k')) ?? 0;
        const newer = writes.find((w) => w.value > seen);
        if (newer) worstLagMs = Math.max(worstLagMs, start - newer.end);
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
    }
    console.info('staleness while the subscriber is away:', { worstLagMs, degradedL1TtlMs });
    expect(worstLagMs).toBeLessThan(degradedL1TtlMs + STALENESS_WINDOW_MS);
    expect(cache.status().coherence.connected).toBe(false);
    await proxy.restore();
    await waitFor(() => cache.status().coherence.connected, 3000, 'coherence back');
    expect(cache.status().coherence).toMatchObject({ disconnects: 1, l1Flushes: 1 });
  });
});

describe("coherence: 'none'", () => {
  it('lets the staleness checker see stale reads (the checker can fail)', async () => {
    const workers = await startWorkers(3, { coherence: 'none' });
    try {
      const report = await churn(workers, 1500);
      console.info('staleness, none:', report);
      expect(report.unexplained).toBe(0);
      // each worker refreshes its own copies with its own writes, so lags stay short; but many reads are stale
      expect(report.staleReads).toBeGreaterThan(report.reads * 0.1);
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
  });

  it('keeps the plain L1 TTL: another process’s write is seen once the L1 copy expires', async () => {
    const reader = caches.create({ redisUrl: redis.url, l1: { ttl: 1 }, coherence: 'none' });
    const writer = caches.create({ redisUrl: redis.url, coherence: 'none' });
    expect(await writer.set('plain', 'v1')).toBe(true);
    expect(await reader.get('plain')).toBe('v1');
    expect(await writer.set('plain', 'v2')).toBe(true);
    expect(await reader.get('plain')).toBe('v1');
    await waitFor(async () => (await reader.get('plain')) === 'v2', 3000, 'the L1 copy to expire');
    expect(reader.status().coherence).toMatchObject({ mode: 'none', connected: false });
    expect(redis.cli('PUBSUB', 'NUMSUB', '__redis__:invalidate')).toMatch(/0$/);
  });
});

describe('coherence configuration', () => {
  it('takes the mode from CACHE_COHERENCE and refuses an unknown one with CacheConfigError', () => {
    const fromEnv = caches.create({ redisUrl: redis.url, env: { CACHE_COHERENCE: 'pubsub' } });
    expect(fromEnv.status().coherence.mode).toBe('pubsub');
    expect(() => createCache({ env: { CACHE_COHERENCE: 'gossip' } })).toThrow(CacheConfigError);
    expect(() => createCache({ env: {}, coherence: 'gossip' as 'none' })).toThrow(
      /'tracking', 'pubsub' or 'none'/,
    );
    expect(() => createCache({ env: {}, coherence: { degradedL1TtlMs: 0 } })).toThrow(/degradedL1TtlMs/);
  });

  it('is off without L1, per primary with Redis Cluster, and on otherwise', () => {
    const config = (options: CacheOptions) => resolveConfig({ env: {}, logger: silentLogger, ...options });
    const perNode = createCoherence(config({ cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }] } }));
    expect(perNode).toBeInstanceOf(ClusterCoherence);
    // not connected before any primary's invalidations flow
    expect(perNode?.status()).toMatchObject({ mode: 'tracking', connected: false });
    expect(perNode?.maxL1TtlMs).toBe(1000);
    perNode?.close();
    expect(createCoherence(config({ l1: { enabled: false } }))).toBeUndefined();
    expect(createCoherence(config({ coherence: 'none' }))).toBeUndefined();
    const on = createCoherence(config({}));
    expect(on?.status()).toMatchObject({ mode: 'tracking', connected: false });
    on?.close();
  });
});
