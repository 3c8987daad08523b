import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cacheFactory } from '../support/cache.js';
import { captureLogger } from '../support/logs.js';
import { freePort, waitFor } from '../support/redis.js';
import { startSentinelSet, type TestSentinelSet } from '../support/topologies.js';
import { type CacheWorker, startCacheWorker } from '../support/workers.js';

const caches = cacheFactory();
let set: TestSentinelSet;

beforeAll(async () => {
  set = await startSentinelSet();
});
afterAll(() => set?.stop());
afterEach(() => caches.closeAll());

function sentinelNodes() {
  return set.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
}

describe('Redis Sentinel (1 primary, 1 replica, 3 Sentinels)', () => {
  it('connects to the primary the Sentinels name, from REDIS_SENTINELS + REDIS_SENTINEL_MASTER', async () => {
    const dead = await freePort();
    const cache = caches.create({
      env: {
        // the first Sentinel listed is down: the next one answers
        REDIS_SENTINELS: [`127.0.0.1:${dead}`, ...sentinelNodes().map((n) => `${n.host}:${n.port}`)].join(
          ',',
        ),
        REDIS_SENTINEL_MASTER: set.name,
      },
      operationTimeoutMs: 2000,
    });
    expect(await cache.set('products_count', 1500, { dbType: 'catalog' })).toBe(true);
    expect(set.primary.cli('GET', 'catalog_products_count')).toBe('1500');
    expect(await cache.get('products_count', { dbType: 'catalog' })).toBe(1500);
    expect(
      await cache.setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
      ]),
    ).toBe(true);
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([1, 2, undefined]);
    expect(await cache.deletePattern('*')).toBe(2);
    expect(cache.status().l2.url).toBe(
      `redis+sentinel://127.0.0.1:${dead},${sentinelNodes()
        .map((n) => `${n.host}:${n.port}`)
        .join(',')}/${set.name}/0`,
    );
  });

  it('logs an error and serves misses when the Sentinels monitor no primary of that name', async () => {
    const logger = captureLogger();
    const cache = caches.create({
      sentinel: { sentinels: sentinelNodes(), name: 'no-such-primary' },
      logger,
      connectTimeoutMs: 1000,
    });
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);
    expect(logger.lines.some((l) => l.level === 'error' && /no-such-primary/.test(l.msg))).toBe(true);
  });

  it('keeps answering while the primary is killed, and writes resume on the promoted replica', async () => {
    const logger = captureLogger();
    const cache = caches.create({
      sentinel: { sentinels: sentinelNodes(), name: set.name },
      logger,
      operationTimeoutMs: 1000,
      connectTimeoutMs: 1000,
    });
    expect(await cache.set('before', 'failover')).toBe(true);
    await waitFor(() => set.replica.cli('GET', 'default_before') === '"failover"', 5000, 'replication');

    const killedAt = performance.now();
    await set.primary.kill();
    let writes = 0;
    let failed = 0;
    let slowest = 0;
    let resumedAfterMs = -1;
    while (performance.now() - killedAt < 60_000) {
      const started = performance.now();
      // every call must resolve (never reject) while the Sentinels fail over
      const [stored, read] = await Promise.all([cache.set('during', writes), cache.get('before')]);
      slowest = Math.max(slowest, performance.now() - started);
      expect(read === undefined || read === 'failover').toBe(true);
      writes++;
      if (stored) {
        resumedAfterMs = performance.now() - killedAt;
        break;
      }
      failed++;
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(
      `sentinel failover: writes resumed ${Math.round(resumedAfterMs)} ms after the primary was killed ` +
        `(${failed} writes answered false meanwhile, slowest call ${Math.round(slowest)} ms, down-after 1000 ms)`,
    );
    expect(resumedAfterMs).toBeGreaterThan(0);
    expect(failed).toBeGreaterThan(0);
    expect(slowest).toBeLessThan(2500);
    expect(set.primaryPort()).toBe(set.replica.port);
    expect(set.replica.cli('GET', 'default_during')).toBe(String(writes - 1));
    expect(await cache.get('before')).toBe('failover');
    expect(cache.status().l2.state).toBe('ready');
    // coherence followed the primary: L1 was emptied once it was back, and a change made directly
    // on the new primary reaches L1
    await waitFor(() => cache.status().coherence.connected, 5000, 'coherence on the new primary');
    expect(cache.status().coherence.l1Flushes).toBeGreaterThanOrEqual(1);
    expect(await cache.get('before')).toBe('failover');
    set.replica.cli('SET', 'default_before', '"changed on the new primary"');
    await waitFor(
      async () => (await cache.get('before')) === 'changed on the new primary',
      1000,
      'the change in L1',
    );
    expect(
      logger.lines.some(
        (l) =>
          l.level === 'info' && l.msg.includes(`primary of ${set.name} to 127.0.0.1:${set.replica.port}`),
      ),
    ).toBe(true);
  });
});

describe('Redis Sentinel with requirepass on the Sentinels', () => {
  const secret = 'sentinel-s3cret';
  let guarded: TestSentinelSet;
  beforeAll(async () => {
    guarded = await startSentinelSet({ name: 'guarded-primary', sentinelPassword: secret });
  });
  afterAll(() => guarded?.stop());
  const nodes = () => guarded.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));

  it('authenticates to the Sentinels with sentinel.password, or REDIS_SENTINEL_PASSWORD', async () => {
    const logger = captureLogger();
    const fromOptions = caches.create({
      sentinel: { sentinels: nodes(), name: guarded.name, password: secret },
      logger,
      operationTimeoutMs: 2000,
    });
    expect(await fromOptions.set('k', 'from options')).toBe(true);
    expect(guarded.primary.cli('GET', 'default_k')).toBe('"from options"');
    const fromEnv = caches.create({
      env: {
        REDIS_SENTINELS: nodes()
          .map((n) => `${n.host}:${n.port}`)
          .join(','),
        REDIS_SENTINEL_MASTER: guarded.name,
        REDIS_SENTINEL_PASSWORD: secret,
      },
      logger,
      operationTimeoutMs: 2000,
    });
    expect(await fromEnv.get('k')).toBe('from options');
    expect(JSON.stringify(fromEnv.status())).not.toContain(secret);
    expect(JSON.stringify(logger.lines)).not.toContain(secret);
  });

  it('without the password (or with a wrong one) serves misses and logs why, never the password', async () => {
    for (const password of [undefined, 'wrong-password']) {
      const logger = captureLogger();
      const cache = caches.create({
        sentinel: { sentinels: nodes(), name: guarded.name, ...(password ? { password } : {}) },
        logger,
        connectTimeoutMs: 1000,
      });
      expect(await cache.get('k')).toBeUndefined();
      expect(await cache.set('k', 1)).toBe(false);
      await waitFor(
        () => logger.lines.some((l) => /NOAUTH|WRONGPASS|Authentication/i.test(JSON.stringify(l))),
        5000,
        'the refusal in the log',
      );
      expect(JSON.stringify(logger.lines)).not.toContain(secret);
      if (password) expect(JSON.stringify(logger.lines)).not.toContain(password);
    }
  });

  it('refuses a username without a password, and an empty password, with CacheConfigError', () => {
    const sentinels = [{ host: '127.0.0.1', port: 1 }];
    expect(() => caches.create({ sentinel: { sentinels, name: 'p', username: 'u' } })).toThrow(
      /sentinel.username is set but sentinel.password is not/,
    );
    expect(() => caches.create({ sentinel: { sentinels, name: 'p', password: '' } })).toThrow(
      /sentinel.password must be a non-empty string/,
    );
  });
});

describe('Redis Sentinel: what the old primary was owed', () => {
  let owed: TestSentinelSet;
  const workers: CacheWorker[] = [];
  beforeAll(async () => {
    owed = await startSentinelSet({ name: 'owed-primary' });
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await owed?.stop();
  });

  it('a primary paused and replaced by its replica: the new primary applies what failed meanwhile, before calls resume', async () => {
    const sentinel = {
      sentinels: owed.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      name: owed.name,
    };
    const logger = captureLogger();
    const cache = caches.create({ sentinel, operationTimeoutMs: 300, connectTimeoutMs: 1000, logger });
    const keys = ['written', 'gone', 'tagged', 'listing:1'];
    for (const key of keys) {
      expect(await cache.set(key, 'old', key === 'tagged' ? { tags: ['product:42'] } : undefined)).toBe(true);
    }
    await waitFor(() => owed.replica.cli('DBSIZE') === owed.primary.cli('DBSIZE'), 5000, 'replication');
    const reader = await startCacheWorker({ sentinel, operationTimeoutMs: 1000 });
    workers.push(reader);

    owed.primary.pause();
    try {
      expect(await cache.set('written', 'new')).toBe(false);
      expect(await cache.delete('gone')).toBe(false);
      expect(await cache.invalidateTags(['product:42'])).toBe(false);
      expect(await cache.deletePattern('listing:*')).toBe(false);
      await waitFor(() => owed.primaryPort() === owed.replica.port, 30_000, 'the Sentinels to fail over');
      // whenever calls may use Redis again (ready, breaker closed), nothing is owed any more
      let usedWhileOwed = 0;
      await waitFor(
        () => {
          const { l2, breaker, pending } = cache.status();
          const inUse = l2.state === 'ready' && breaker === 'closed';
          if (inUse && pending.entries > 0) usedWhileOwed++;
          return inUse && pending.entries === 0;
        },
        15_000,
        'the new primary to apply what was owed',
      );
      expect(usedWhileOwed).toBe(0);
      for (const key of keys) {
        expect(await reader.call('get', { key }), key).toBeNull();
        expect(owed.replica.cli('EXISTS', `default_${key}`), key).toBe('0');
      }
      expect(cache.status().pending).toMatchObject({ widened: 0, dropped: 0 });
      // the outage started on the old primary and ended on the new one: one line each, the end with
      // what was owed and applied
      const said = (pattern: RegExp) => logger.lines.filter((l) => pattern.test(l.msg));
      expect(said(/^cachette: Redis unavailable/)).toHaveLength(1);
      const [end, ...more] = said(/^cachette: Redis connection restored/);
      expect(more).toEqual([]);
      expect(end?.fields).toMatchObject({ pending: { applied: 4, left: 0 } });
    } finally {
      owed.primary.resume();
    }
  });
});
