// Faults of the Redis process itself: SIGKILL and restart, never started, SIGSTOP/SIGCONT.
// Pass criteria of issue 5, asserted loosely where the figure depends on this shared machine's load;
// the real figures are printed (and recorded in docs/failure-behaviour.md).
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  chaosHarness,
  clientIds,
  expectOneWarningPerKind,
  report,
  SLACK_MS,
  sleep,
} from '../support/chaos.js';
import { type CallRecord, maxOf, percentile, startLoad } from '../support/load.js';
import { captureLogger } from '../support/logs.js';
import { freePort, waitFor } from '../support/redis.js';

const { caches, redisServer } = chaosHarness();

describe('chaos: Redis process faults', () => {
  it('Redis killed mid-load, restarted later: nothing rejects, calls fail fast, back within about a second', async () => {
    const redis = await redisServer();
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: redis.url, logger });
    await cache.ready();
    const load = startLoad(cache);
    await sleep(300);
    await redis.kill();
    await waitFor(() => cache.status().breaker === 'open', 3000, 'the breaker to open');
    await sleep(1000);

    const restartedAt = performance.now();
    await redis.start();
    await waitFor(() => cache.status().breaker === 'closed', 5000, 'the breaker to close');
    const recoveryMs = performance.now() - restartedAt;
    await sleep(200);
    const { calls, rejected, wrongValues } = await load.stop();

    expect(rejected).toEqual([]);
    expect(wrongValues).toBe(0);
    expect(maxOf(calls.map((c) => c.ms))).toBeLessThan(250 + SLACK_MS);
    const whileOpen = calls.filter((c) => c.breaker === 'open').map((c) => c.ms);
    expect(whileOpen.length).toBeGreaterThan(100);
    expect(percentile(whileOpen, 99)).toBeLessThan(5);
    expect(recoveryMs).toBeLessThan(3000);
    expect(await cache.set('after', 1)).toBe(true);
    expect(await cache.get('after')).toBe(1);
    expect(cache.stats().total.skipped).toBeGreaterThan(0);
    expectOneWarningPerKind(logger.lines);
    expect(logger.lines.filter((l) => /breaker open/.test(l.msg))).toHaveLength(1);
    expect(logger.lines.filter((l) => /breaker closed/.test(l.msg))).toHaveLength(1);
    report('kill+restart', {
      calls: calls.length,
      openCalls: whileOpen.length,
      openP50Ms: percentile(whileOpen, 50),
      openP99Ms: percentile(whileOpen, 99),
      recoveryMs,
    });
  });

  it('connection refused from the start: misses from the first call, connects when Redis appears', async () => {
    const port = await freePort();
    const cache = caches.create({ redisUrl: `redis://127.0.0.1:${port}/0`, connectTimeoutMs: 1000 });
    const first = performance.now();
    expect(await cache.get('k')).toBeUndefined();
    expect(performance.now() - first).toBeLessThan(1000 + SLACK_MS);
    const load = startLoad(cache);
    await waitFor(() => cache.status().breaker === 'open', 3000, 'the breaker to open');
    await sleep(300);

    const startedAt = performance.now();
    await redisServer({ port });
    await waitFor(() => cache.status().breaker === 'closed', 5000, 'the breaker to close');
    const recoveryMs = performance.now() - startedAt;
    await waitFor(() => cache.stats().total.sets > 0, 3000, 'writes to reach Redis');
    const { rejected, calls } = await load.stop();

    expect(rejected).toEqual([]);
    expect(recoveryMs).toBeLessThan(3000);
    const whileOpen = calls.filter((c) => c.breaker === 'open').map((c) => c.ms);
    expect(percentile(whileOpen, 99)).toBeLessThan(5);
    report('refused from start', { recoveryMs, openP99Ms: percentile(whileOpen, 99) });
  });

  it('SIGSTOP: every call settles within the deadline, the connection is replaced, a write sent during the pause never lands', async () => {
    const redis = await redisServer();
    const cache = caches.create({ redisUrl: redis.url, operationTimeoutMs: 250 });
    await cache.ready();
    const before = clientIds(redis);
    expect(before).toHaveLength(1);

    // Control: the fault really does deliver late writes. Bytes written to a paused Redis sit in
    // its socket buffer and run on SIGCONT, even though this side closed the connection (as the
    // cache closes one it replaces). A reset (RST) would not do: Linux may then drop what Redis
    // has not read yet, which made this control flaky.
    const raw = net.connect(redis.port, '127.0.0.1');
    raw.on('error', () => {});
    await new Promise((resolve) => raw.once('connect', resolve));

    redis.pause();
    let calls: CallRecord[] = [];
    try {
      raw.write('SET default_control late\r\n');
      const load = startLoad(cache);
      expect(await cache.set('during-pause', 'stale')).toBe(false);
      await waitFor(() => cache.status().breaker === 'open', 3000, 'the breaker to open');
      await sleep(1000);
      raw.destroy();
      const result = await load.stop();
      expect(result.rejected).toEqual([]);
      calls = result.calls;
    } finally {
      redis.resume();
    }
    await waitFor(() => cache.status().breaker === 'closed', 5000, 'the breaker to close');
    await waitFor(() => redis.cli('EXISTS', 'default_control') === '1', 2000, 'the control write to land');

    expect(maxOf(calls.map((c) => c.ms))).toBeLessThan(250 + SLACK_MS);
    expect(redis.cli('EXISTS', 'default_during-pause')).toBe('0');
    // no write of the load sent before the breaker opened landed after the pause either
    expect(redis.cli('KEYS', 'default_load-*')).toBe('');
    const after = clientIds(redis);
    expect(after).not.toContain(before[0]);
    expect(await cache.set('k', 'fresh')).toBe(true);
    expect(redis.cli('GET', 'default_k')).toBe('"fresh"');
    const whileOpen = calls.filter((c) => c.breaker === 'open').map((c) => c.ms);
    report('SIGSTOP', {
      maxCallMs: maxOf(calls.map((c) => c.ms)),
      openP99Ms: percentile(whileOpen, 99),
    });
  });

  it('replaces a connection to a paused Redis within the health-check interval, with no traffic at all', async () => {
    const redis = await redisServer();
    const logger = captureLogger();
    const cache = caches.create({
      redisUrl: redis.url,
      healthCheckIntervalMs: 500,
      socketTimeoutMs: 500,
      logger,
    });
    await cache.ready();
    const before = clientIds(redis);
    redis.pause();
    const pausedAt = performance.now();
    try {
      await waitFor(() => cache.status().l2.state !== 'ready', 3000, 'the dead connection to be noticed');
    } finally {
      redis.resume();
    }
    const detectedMs = performance.now() - pausedAt;
    // one interval, then the health check's timeout; the slack covers timers firing late on this busy machine
    expect(detectedMs).toBeLessThan(500 + 500 + 4 * SLACK_MS);
    await waitFor(() => cache.status().l2.state === 'ready', 3000, 'the new connection');
    expect(clientIds(redis)).not.toContain(before[0]);
    expect(logger.lines.some((l) => /health check failed/.test(l.text))).toBe(true);
    report('idle SIGSTOP detection', { detectedMs });
  });
});
