// Nothing stale survives an outage: every write-side call that fails while Redis is paused, or
// killed and restarted (its data lost, or kept by the append-only file), is made good when Redis
// answers again, before the breaker closes; a fresh process then reads none of the old values.
import { afterEach, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/cache.js';
import type { Logger } from '../../src/logger.js';
import { chaosHarness, report } from '../support/chaos.js';
import { captureLogger } from '../support/logs.js';
import type { TestRedis } from '../support/redis.js';
import { isStopped, waitFor } from '../support/redis.js';
import { type CacheWorker, startCacheWorker } from '../support/workers.js';

const { caches, redisServer } = chaosHarness();
const workers: CacheWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
});

/** Survives a restart: every write reaches the append-only file before Redis answers it. */
const PERSISTENT = ['--appendonly', 'yes', '--appendfsync', 'always'];
const DOMAINS = { catalog: { prefix: 'catalog_', ttl: 7200 } };
const TWO_HOURS = 7200;

interface Fault {
  name: string;
  persistent: boolean;
  inject(redis: TestRedis): Promise<void>;
  heal(redis: TestRedis): Promise<void>;
}

const FAULTS: Fault[] = [
  {
    name: 'paused (SIGSTOP), then resumed with its data',
    persistent: true,
    inject: (redis) => pause(redis),
    heal: async (redis) => redis.resume(),
  },
  {
    name: 'killed, then restarted empty (no persistence)',
    persistent: false,
    inject: (redis) => redis.kill(),
    heal: (redis) => redis.start(),
  },
  {
    name: 'killed, then restarted with its data (appendonly yes)',
    persistent: true,
    inject: (redis) => redis.kill(),
    heal: (redis) => redis.start(),
  },
];

function outageCache(redis: TestRedis, extra: { maxPending?: number; logger?: Logger } = {}) {
  return caches.create({
    redisUrl: redis.url,
    operationTimeoutMs: 200,
    connectTimeoutMs: 500,
    breaker: { probeIntervalMs: 100 },
    domains: DOMAINS,
    invalidation: {
      groups: { dashboard: { tags: ['dashboard'], keys: [{ key: 'board', dbType: 'default' }] } },
    },
    ...extra,
  });
}

/** SIGSTOP, and wait until it took effect: no command sent after this is answered until `resume()`. */
async function pause(redis: TestRedis): Promise<void> {
  redis.pause();
  await waitFor(() => isStopped(redis), 5000, 'redis-server to stop');
}

/** Waits until the cache uses Redis again; fails if the breaker ever reads closed while work is still owed. */
async function recovered(cache: Cache, what: string): Promise<void> {
  let closedWhileOwed = 0;
  await waitFor(
    () => {
      const status = cache.status();
      if (status.breaker === 'closed' && status.l2.state === 'ready' && status.pending.entries > 0) {
        closedWhileOwed++;
      }
      return status.breaker === 'closed' && status.l2.state === 'ready' && status.pending.entries === 0;
    },
    15_000,
    what,
  );
  expect(closedWhileOwed).toBe(0);
}

/** A process that never saw the outage: what it reads is what Redis holds. */
async function freshReader(redis: TestRedis): Promise<CacheWorker> {
  const worker = await startCacheWorker({ redisUrl: redis.url, domains: DOMAINS });
  workers.push(worker);
  return worker;
}

describe('chaos: what failed during an outage is made good when Redis answers again', () => {
  for (const fault of FAULTS) {
    it(`Redis ${fault.name}: every write-side call that failed is applied, and nothing old is read after`, async () => {
      const redis = await redisServer({ args: fault.persistent ? PERSISTENT : [] });
      const cache = outageCache(redis);
      expect(await cache.ready()).toBe(true);
      // what the application cached before the fault, for two hours
      expect(await cache.set('p43', { price: 11 })).toBe(true);
      expect(
        await cache.setMany([
          { key: 'm1', value: 'old m1' },
          { key: 'm2', value: 'old m2' },
        ]),
      ).toBe(true);
      expect(await cache.set('gone', 'old')).toBe(true);
      expect(await cache.set('listing:1', 'old')).toBe(true);
      expect(await cache.set('listing:2', 'old')).toBe(true);
      expect(await cache.set('p42', { price: 10 }, { tags: ['product:42'] })).toBe(true);
      expect(await cache.set('p42:related', 'old', { tags: ['product:42'] })).toBe(true);
      expect(await cache.set('inv', 'old', { dbType: 'catalog' })).toBe(true);
      expect(await cache.set('board', 'old')).toBe(true);
      expect(await cache.set('chart', 'old', { tags: ['dashboard'] })).toBe(true);
      expect(await cache.set('untouched', 'still here')).toBe(true);
      // stored by another process: this one's L1 does not hold it, so getOrSet calls its factory
      redis.cli('SET', 'default_loaded', '"old"', 'EX', String(TWO_HOURS));
      const old = [
        ['p43', 'default'],
        ['m1', 'default'],
        ['m2', 'default'],
        ['gone', 'default'],
        ['listing:1', 'default'],
        ['listing:2', 'default'],
        ['p42', 'default'],
        ['p42:related', 'default'],
        ['inv', 'catalog'],
        ['board', 'default'],
        ['chart', 'default'],
        ['loaded', 'default'],
      ] as const;

      await fault.inject(redis);
      // every call answers as it did before (false, or the factory's value), and is owed to Redis
      expect(await cache.set('p43', { price: 99 })).toBe(false);
      expect(
        await cache.setMany([
          { key: 'm1', value: 'new m1' },
          { key: 'm2', value: 'new m2' },
        ]),
      ).toBe(false);
      expect(await cache.getOrSet('loaded', async () => 'new')).toBe('new');
      expect(await cache.delete('gone')).toBe(false);
      expect(await cache.deletePattern('listing:*')).toBe(false);
      expect(await cache.invalidateTags(['product:42'])).toBe(false);
      expect(await cache.invalidation.invalidate('inv', 'catalog')).toBe(false);
      expect(await cache.invalidation.invalidateDashboardCache()).toBe(false);
      // this process's L1 dropped every one of those keys at once
      for (const [key, dbType] of old) expect(await cache.get(key, { dbType })).toBeUndefined();
      expect(cache.status().pending.entries).toBeGreaterThanOrEqual(10);
      const calls = cache.status().pending;

      await fault.heal(redis);
      await recovered(cache, 'the breaker to close with nothing owed');
      expect(cache.status().pending).toMatchObject({ entries: 0, widened: 0, dropped: 0 });
      expect(cache.status().pending.applied).toBeGreaterThanOrEqual(calls.entries);
      const reader = await freshReader(redis);
      for (const [key, dbType] of old) {
        expect(await reader.call('get', { key, dbType }), `${dbType} ${key}`).toBeNull();
        expect(await cache.get(key, { dbType }), `${dbType} ${key} here`).toBeUndefined();
      }
      if (fault.persistent) expect(await reader.call('get', { key: 'untouched' })).toBe('still here');
    });
  }

  it("flushAll({ scope: 'app' }) that failed empties the app's keys once Redis is back, and leaves another app's", async () => {
    const redis = await redisServer({ args: PERSISTENT });
    const cache = outageCache(redis);
    expect(await cache.set('a', 'old')).toBe(true);
    expect(await cache.set('b', 'old', { dbType: 'catalog', tags: ['t'] })).toBe(true);
    redis.cli('SET', 'other_app:x', 'theirs');
    await pause(redis);
    await waitFor(
      async () => (await cache.get('probe')) === undefined && cache.status().breaker === 'open',
      5000,
      'the breaker to open',
    );
    expect(await cache.flushAll({ scope: 'app' })).toBe(false);
    expect(cache.status().pending.entries).toBe(1);
    redis.resume();
    await recovered(cache, 'the flush to be applied');
    expect(redis.cli('EXISTS', 'default_a', 'catalog_b')).toBe('0');
    expect(redis.cli('SMEMBERS', '__cachette:tag:t')).toBe('');
    expect(redis.cli('GET', 'other_app:x')).toBe('theirs');
  });
});

describe('chaos: the pending work is bounded', () => {
  it('past maxPending a domain widens to one delete of the whole domain, then everything to an app flush, and the log says so', async () => {
    const redis = await redisServer({ args: PERSISTENT });
    const logger = captureLogger();
    const cache = outageCache(redis, { maxPending: 20, logger });
    expect(await cache.set('untouched', 'old')).toBe(true);
    expect(await cache.set('kept', 'old', { dbType: 'catalog' })).toBe(true);
    redis.cli('SET', 'other_app:x', 'theirs');

    await pause(redis);
    for (let i = 0; i < 30; i++) expect(await cache.set(`bulk:${i}`, i)).toBe(false);
    // 21 keys of the default domain became one delete of the whole domain; later ones are covered by it
    expect(cache.status().pending).toMatchObject({ entries: 1, widened: 21 });
    const widening = logger.lines.filter((l) => l.msg.startsWith('cachette: pending deletes widened'));
    expect(widening).toHaveLength(1);
    expect(widening[0]!.level).toBe('warn');
    expect(widening[0]!.fields).toMatchObject({ prefix: 'default_', entries: 21, maxEntries: 20 });
    redis.resume();
    await recovered(cache, 'the widened delete to be applied');
    // the whole default domain is gone, a key never written during the outage too; the catalog stays
    expect(redis.cli('EXISTS', 'default_untouched')).toBe('0');
    expect(redis.cli('GET', 'catalog_kept')).toBe('"old"');

    await pause(redis);
    // tags belong to no domain: past the bound they widen to one flush of the app's keys
    for (let i = 0; i < 21; i++) expect(await cache.invalidateTags([`tag-${i}`])).toBe(false);
    expect(cache.status().pending).toMatchObject({ entries: 1, widened: 42 });
    expect(logger.lines.filter((l) => l.msg.includes("one flush of the app's keys"))).toHaveLength(1);
    redis.resume();
    await recovered(cache, 'the flush to be applied');
    expect(redis.cli('EXISTS', 'catalog_kept')).toBe('0');
    expect(redis.cli('GET', 'other_app:x')).toBe('theirs');
  });
});

describe('chaos: one outage, a few log lines', () => {
  it('a pause of 11.5 s under a loop of every call logs a warning per kind, a reminder, and one line each when it ends', async () => {
    const redis = await redisServer();
    const logger = captureLogger();
    const cache = outageCache(redis, { logger });
    expect(await cache.set('k', 'old', { tags: ['t'] })).toBe(true);
    await pause(redis);
    const pausedAt = Date.now();
    let calls = 0;
    let running = true;
    const loop = async (n: number) => {
      while (running) {
        const key = `k${(calls + n) % 50}`;
        await Promise.all([
          cache.get(key),
          cache.set(key, calls),
          cache.delete(key),
          cache.invalidateTags([`t${calls % 7}`]),
          cache.deletePattern(`${key}*`),
          cache.getOrSet(`loaded-${key}`, async () => calls),
          cache.invalidation.invalidate(key, 'catalog'),
        ]);
        calls += 7;
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const loops = [loop(0), loop(1), loop(2), loop(3)];
    await waitFor(() => Date.now() - pausedAt >= 11_500, 15_000, 'a long outage');
    running = false;
    await Promise.all(loops);
    redis.resume();
    await recovered(cache, 'the cache to recover');
    await waitFor(() => cache.status().coherence.connected, 5000, 'invalidations to flow again');

    const lines = logger.lines.filter((l) => l.level !== 'debug');
    const count = (pattern: RegExp) => lines.filter((l) => pattern.test(l.msg)).length;
    expect(calls).toBeGreaterThan(10_000);
    expect(count(/^cachette: Redis unavailable/)).toBe(1);
    expect(count(/^cachette: Redis still unavailable/)).toBe(1);
    expect(count(/^cachette: Redis connection restored/)).toBe(1);
    expect(count(/^cachette: invalidations stopped/)).toBe(1);
    expect(count(/^cachette: invalidations still stopped/)).toBeLessThanOrEqual(1);
    expect(count(/^cachette: invalidations flow again/)).toBe(1);
    // the pending keys of the default domain widened past the bound: one line
    expect(count(/^cachette: pending deletes widened/)).toBeLessThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(9);
    // debug lines do not grow with the calls either (connection replacements, a rate-limited timeout line)
    expect(logger.lines.length - lines.length).toBeLessThan(100);
    const end = lines.find((l) => l.msg === 'cachette: Redis connection restored')!;
    expect(end.level).toBe('info');
    expect(end.fields.lastedMs).toBeGreaterThanOrEqual(11_000);
    const failed = end.fields.failedCalls as Record<string, number>;
    for (const kind of [
      'get',
      'set',
      'delete',
      'invalidateTags',
      'deletePattern',
      'getOrSet',
      'invalidate',
    ]) {
      expect(failed[kind], kind).toBeGreaterThan(0);
    }
    expect((end.fields.pending as { applied: number }).applied).toBeGreaterThan(0);
    report('11.5 s pause, every call in a loop', {
      calls,
      logLines: lines.length,
      debugLines: logger.lines.length - lines.length,
    });
  });
});
