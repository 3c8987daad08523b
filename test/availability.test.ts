import { afterEach, describe, expect, it } from 'vitest';
import { cacheFactory } from './support/cache.js';
import { captureLogger } from './support/logs.js';
import { freePort, startRedis, type TestRedis, waitFor } from './support/redis.js';

const caches = cacheFactory();
const servers: TestRedis[] = [];

async function redisServer(options?: Parameters<typeof startRedis>[0]) {
  const server = await startRedis(options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await caches.closeAll();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await work();
  return { result, ms: performance.now() - start };
}

describe('non-blocking when Redis is in trouble', () => {
  it('serves misses and false when Redis was never started, then connects when it appears', async () => {
    const port = await freePort();
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: `redis://127.0.0.1:${port}/0`, logger });
    const first = await timed(() => cache.get('k'));
    expect(first.result).toBeUndefined();
    expect(first.ms).toBeLessThan(5000);
    expect(await cache.set('k', 1)).toBe(false);
    expect(await cache.delete('k')).toBe(false);
    expect(await cache.deletePattern('*')).toBe(false);
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined]);
    expect(await cache.setMany([{ key: 'a', value: 1 }])).toBe(false);
    const later = await timed(() => cache.get('k'));
    expect(later.ms).toBeLessThan(50);
    expect(cache.status().l2.state).not.toBe('ready');

    await redisServer({ port });
    await waitFor(() => cache.status().l2.state === 'ready', 5000, 'the cache to connect');
    expect(await cache.set('k', 1)).toBe(true);
    expect(await cache.get('k')).toBe(1);
    expect(logger.lines.filter((l) => l.level === 'warn' && /unavailable/.test(l.msg))).toHaveLength(1);
  });

  it('waits for the first connection attempt instead of failing calls made right after createCache()', async () => {
    const redis = await redisServer();
    const cache = caches.create({ redisUrl: redis.url });
    expect(await cache.set('early', 'bird')).toBe(true);
    expect(redis.cli('GET', 'default_early')).toBe('"bird"');
  });

  it('recovers by itself after Redis is killed and restarted on the same port, logging once each way', async () => {
    const redis = await redisServer();
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: redis.url, logger });
    expect(await cache.set('k', 'v')).toBe(true);
    await redis.kill();
    await waitFor(() => cache.status().l2.state !== 'ready', 5000, 'the cache to notice');
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => cache.set(`x${i}`, i)));
    expect(results.every((r) => r === false)).toBe(true);
    expect(await cache.get('x1')).toBeUndefined();
    expect(cache.stats().total.errors).toBeGreaterThanOrEqual(201);

    const restartedAt = performance.now();
    await redis.start();
    await waitFor(() => cache.status().l2.state === 'ready', 5000, 'the cache to reconnect');
    const recoveryMs = performance.now() - restartedAt;
    expect(recoveryMs).toBeLessThan(3000);
    expect(await cache.set('k', 'v2')).toBe(true);
    expect(await cache.get('k')).toBe('v2');
    // one warning per kind of outage (commands, coherence), one line each when it is over
    const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    expect(warnings.sort()).toEqual([
      'cachette: Redis unavailable; serving from memory and the application until it is back',
      'cachette: invalidations stopped; L1 copies live at most coherence.degradedL1TtlMs until they flow again',
    ]);
    await waitFor(() => cache.status().coherence.connected, 5000, 'invalidations to flow again');
    expect(logger.lines.filter((l) => l.level === 'info' && /restored/.test(l.msg))).toHaveLength(1);
    expect(logger.lines.filter((l) => l.level === 'info' && /flow again/.test(l.msg))).toHaveLength(1);
  });

  it('settles every call within the operation deadline while Redis is paused (SIGSTOP)', async () => {
    const redis = await redisServer();
    const cache = caches.create({ redisUrl: redis.url, operationTimeoutMs: 200 });
    await cache.set('k', 'v', { dbType: 'catalog' });
    redis.pause();
    try {
      const { result, ms } = await timed(() =>
        Promise.all([cache.get('other'), cache.set('k2', 1), cache.delete('k3'), cache.deletePattern('x*')]),
      );
      expect(result).toEqual([undefined, false, false, false]);
      expect(ms).toBeLessThan(1500);
      // an L1 hit never waits on Redis
      const hit = await timed(() => cache.get('k', { dbType: 'catalog' }));
      expect(hit.result).toBe('v');
      expect(hit.ms).toBeLessThan(20);
    } finally {
      redis.resume();
    }
    await waitFor(async () => (await cache.set('after', 1)) === true, 5000, 'writes to work again');
  });

  it('serves misses with a wrong password and never logs the password', async () => {
    const redis = await redisServer({ password: 'right-pass' });
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: `redis://:wrong-pass-123@127.0.0.1:${redis.port}/0`, logger });
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);
    expect(logger.lines.length).toBeGreaterThan(0);
    for (const line of logger.lines) expect(line.text).not.toContain('wrong-pass-123');
    expect(JSON.stringify(cache.status())).not.toContain('wrong-pass-123');
  });

  it('works with a password-protected Redis given the right password', async () => {
    const redis = await redisServer({ password: 'p@ss word' });
    const cache = caches.create({ redisUrl: redis.url });
    expect(await cache.set('k', 1)).toBe(true);
    expect(await cache.get('k')).toBe(1);
    expect(cache.status().l2.url).not.toContain('p@ss');
  });

  it('close() is idempotent and resolves quickly even when Redis is paused', async () => {
    const redis = await redisServer();
    const cache = caches.create({ redisUrl: redis.url });
    await cache.ready();
    redis.pause();
    try {
      const { ms } = await timed(async () => {
        await cache.close();
        await cache.close();
      });
      expect(ms).toBeLessThan(1500);
      expect(await cache.get('k')).toBeUndefined();
    } finally {
      redis.resume();
    }
  });
});
