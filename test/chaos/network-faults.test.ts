// Faults of the network between the cache and Redis, through the TCP fault proxy: blackhole,
// latency above the deadline, connection resets, close() during a partition. Pass criteria 3, 4,
// 5 and 8 of issue 5, each under a load of concurrent cache calls; the figures are printed.
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
import { maxOf, percentile, startLoad, valueFor } from '../support/load.js';
import { captureLogger } from '../support/logs.js';
import { type TestRedis, waitFor } from '../support/redis.js';

const { caches, proxiedRedis } = chaosHarness();

const DEADLINE_MS = 250;

/** Commands Redis has executed since it started (INFO commandstats), redis-cli's own included. */
function commandsExecuted(redis: TestRedis): number {
  let total = 0;
  for (const match of redis.cli('INFO', 'commandstats').matchAll(/calls=(\d+)/g)) total += Number(match[1]);
  return total;
}

/** A raw connection through the proxy, to show what the fault does to a client without cachette's guards. */
async function rawConnection(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

describe('chaos: network faults between the cache and Redis', () => {
  it('blackhole: every call settles within the deadline, the connection is replaced, a write held by the partition never lands', async () => {
    const { redis, proxy } = await proxiedRedis();
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: proxy.url, operationTimeoutMs: DEADLINE_MS, logger });
    await cache.ready();
    expect(await cache.set('k', 'old')).toBe(true);
    const [firstConnection] = clientIds(redis);
    const acceptedBefore = proxy.accepted;
    // Control: a client without the write guard, whose write the partition holds and delivers late.
    const control = await rawConnection(proxy.port);

    proxy.blackhole();
    const load = startLoad(cache);
    let result: Awaited<ReturnType<typeof load.stop>>;
    try {
      expect(await cache.set('k', 'stale')).toBe(false);
      control.write('SET default_control late\r\n');
      await waitFor(() => cache.status().breaker === 'open', 3000, 'the breaker to open');
      await waitFor(() => proxy.accepted > acceptedBefore, 5000, 'a replacement connection');
      await waitFor(
        () => load.report.calls.filter((c) => c.breaker === 'open').length > 2000,
        10_000,
        'calls while the breaker is open',
      );
    } finally {
      result = await load.stop();
      await proxy.restore();
    }
    await waitFor(
      () => redis.cli('EXISTS', 'default_control') === '1',
      3000,
      'the held control write to land',
    );
    await waitFor(() => !clientIds(redis).includes(firstConnection!), 3000, 'the old connection to go');
    await waitFor(() => cache.status().breaker === 'closed', 5000, 'the breaker to close');

    const { calls, rejected, wrongValues } = result;
    expect(rejected).toEqual([]);
    expect(wrongValues).toBe(0);
    expect(maxOf(calls.map((c) => c.ms))).toBeLessThan(DEADLINE_MS + SLACK_MS);
    // the write sent into the partition reached Redis after its deadline and was dropped there; the
    // old value it was to replace was deleted before the breaker closed (the failed write was owed
    // as a delete), so neither value is read
    expect(redis.cli('EXISTS', 'default_k')).toBe('0');
    expect(redis.cli('KEYS', 'default_load-*')).toBe('');
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 'fresh')).toBe(true);
    expect(redis.cli('GET', 'default_k')).toBe('"fresh"');
    expectOneWarningPerKind(logger.lines);
    const whileOpen = calls.filter((c) => c.breaker === 'open').map((c) => c.ms);
    report('blackhole', {
      calls: calls.length,
      maxCallMs: maxOf(calls.map((c) => c.ms)),
      openP99Ms: percentile(whileOpen, 99),
    });
  });

  it('a write whose connection is replaced under it reports its failure only after its deadline, so it cannot land after its caller heard "failed"', async () => {
    const { redis, proxy } = await proxiedRedis();
    const deadlineMs = 1000;
    const cache = caches.create({
      redisUrl: proxy.url,
      operationTimeoutMs: deadlineMs,
      logger: captureLogger(),
    });
    await cache.ready();
    const [firstConnection] = clientIds(redis);

    proxy.blackhole();
    // three reads time out together: the connection is replaced (after 3 timeouts, not enough to
    // open the breaker), which fails at once whatever it still had in flight...
    // (one tick apart: the reads of one tick leave as one command, which would time out once)
    const reads: Array<Promise<unknown>> = [];
    for (const key of ['a', 'b', 'c']) {
      reads.push(cache.get(key));
      await sleep(0);
    }
    await sleep(deadlineMs / 4);
    // ...among which this write, sent later, whose deadline is still ahead when its connection goes
    const startedAt = performance.now();
    const written = await cache.set('late', 'v');
    const settledMs = performance.now() - startedAt;
    expect(await Promise.all(reads)).toEqual([undefined, undefined, undefined]);
    expect(written).toBe(false);
    // the partition heals the moment the caller heard: the held bytes reach Redis, and the old
    // connection's close after them
    await proxy.restore();
    await waitFor(() => !clientIds(redis).includes(firstConnection!), 3000, 'the old connection to go');

    expect(redis.cli('EXISTS', 'default_late')).toBe('0');
    // the write was in flight when its connection went (else it would have failed at once, unsent)
    expect(settledMs).toBeGreaterThan(deadlineMs / 2);
    expect(cache.status().l2.breakerOpens).toBe(0);
    report('write failed by a replaced connection', { settledMs });
  });

  it('latency above the deadline: calls time out at the deadline, the breaker opens and stays open, few commands in flight', async () => {
    const { redis, proxy } = await proxiedRedis();
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: proxy.url, operationTimeoutMs: DEADLINE_MS, logger });
    await cache.ready();
    expect(await cache.set('k', 'v')).toBe(true);

    proxy.latency(200);
    const commandsBefore = commandsExecuted(redis);
    const load = startLoad(cache);
    let result: Awaited<ReturnType<typeof load.stop>>;
    try {
      await waitFor(() => cache.status().breaker !== 'closed', 3000, 'the breaker to open');
      // long enough for several probes and replacement connections
      await sleep(3000);
    } finally {
      result = await load.stop();
    }
    // redis-cli's INFO counts itself once
    const commandsSent = commandsExecuted(redis) - commandsBefore - 1;
    const opens = cache.status().l2.breakerOpens;
    await proxy.restore();
    await waitFor(() => cache.status().breaker === 'closed', 5000, 'the breaker to close');

    const { calls, rejected, wrongValues } = result;
    expect(rejected).toEqual([]);
    expect(wrongValues).toBe(0);
    const beforeOpen = calls.filter((c) => c.breaker === 'closed').map((c) => c.ms);
    expect(maxOf(calls.map((c) => c.ms))).toBeLessThan(DEADLINE_MS + SLACK_MS);
    // slow is not down: the breaker opened once and stayed open, it did not flap with each new connection
    expect(opens).toBe(1);
    // the skipped calls sent nothing: what reached Redis is the probes and the calls before it opened
    expect(commandsSent).toBeLessThan(calls.length / 20);
    expectOneWarningPerKind(logger.lines);
    expect(logger.lines.filter((l) => /breaker open/.test(l.msg))).toHaveLength(1);
    expect(await cache.set('k', 'v2')).toBe(true);
    expect(await cache.get('k')).toBe('v2');
    report('latency 400 ms round trip', {
      calls: calls.length,
      commandsSent,
      beforeOpenP99Ms: percentile(beforeOpen, 99),
      maxCallMs: maxOf(calls.map((c) => c.ms)),
    });
  });

  it('connection reset mid-command: in-flight calls resolve, later calls read exactly what was written (no desync)', async () => {
    const { proxy } = await proxiedRedis();
    const cache = caches.create({ redisUrl: proxy.url, operationTimeoutMs: DEADLINE_MS, l1: { ttl: 0 } });
    await cache.ready();
    const load = startLoad(cache, { concurrency: 30 });
    let result: Awaited<ReturnType<typeof load.stop>>;
    try {
      for (let round = 0; round < 5; round++) {
        const seen = load.report.calls.length;
        await waitFor(() => load.report.calls.length > seen + 200, 10_000, 'calls to flow');
        // in-flight calls of every kind at the moment of the reset
        const inFlight = Promise.all([
          cache.get(`load-${round}`),
          cache.set(`reset-${round}`, round),
          cache.getMany(['load-1', 'load-2', 'load-3']),
          cache.delete('load-4'),
        ]);
        proxy.resetAll();
        const [got, stored] = await inFlight;
        expect(got === undefined || got === valueFor(`load-${round}`)).toBe(true);
        expect(typeof stored).toBe('boolean');
        await waitFor(() => cache.status().l2.state === 'ready', 5000, 'the cache to reconnect');
      }
    } finally {
      result = await load.stop();
    }
    expect(result.rejected).toEqual([]);
    expect(result.wrongValues).toBe(0);

    await waitFor(() => cache.status().breaker === 'closed', 5000, 'the breaker to close');
    // Interleaved reads and writes of distinct keys, many in flight at once: a reply matched to the
    // wrong command would show up as another key's value.
    const keys = Array.from({ length: 400 }, (_, i) => `distinct-${i}`);
    const stored = await Promise.all(keys.map((key) => cache.set(key, { key, n: key.length })));
    expect(stored.every(Boolean)).toBe(true);
    const mixed = await Promise.all(
      keys.flatMap((key, i) => [cache.get(key), cache.set(`other-${i}`, i), cache.get(`missing-${i}`)]),
    );
    keys.forEach((key, i) => {
      expect(mixed[i * 3]).toEqual({ key, n: key.length });
      expect(mixed[i * 3 + 1]).toBe(true);
      expect(mixed[i * 3 + 2]).toBeUndefined();
    });
    report('resets', { calls: result.calls.length, accepted: proxy.accepted });
  });

  it('connections reset and then refused: calls fail fast, the cache is back within about a second of Redis listening again', async () => {
    const { proxy } = await proxiedRedis();
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: proxy.url, operationTimeoutMs: DEADLINE_MS, logger });
    await cache.ready();
    const load = startLoad(cache);
    let result: Awaited<ReturnType<typeof load.stop>>;
    let recoveryMs = 0;
    try {
      await waitFor(() => load.report.calls.length > 200, 10_000, 'calls to flow');
      await proxy.refuse();
      await waitFor(() => cache.status().breaker === 'open', 3000, 'the breaker to open');
      await sleep(1000);
      const listeningAt = performance.now();
      await proxy.restore();
      await waitFor(() => cache.status().breaker === 'closed', 5000, 'the breaker to close');
      recoveryMs = performance.now() - listeningAt;
    } finally {
      result = await load.stop();
    }
    expect(result.rejected).toEqual([]);
    expect(result.wrongValues).toBe(0);
    expect(maxOf(result.calls.map((c) => c.ms))).toBeLessThan(DEADLINE_MS + SLACK_MS);
    const whileOpen = result.calls.filter((c) => c.breaker === 'open').map((c) => c.ms);
    expect(percentile(whileOpen, 99)).toBeLessThan(5);
    // about a second on an idle machine (reported); loose here, this machine is shared
    expect(recoveryMs).toBeLessThan(3000);
    expect(await cache.set('k', 'v')).toBe(true);
    expectOneWarningPerKind(logger.lines);
    report('refused', { recoveryMs, openP99Ms: percentile(whileOpen, 99) });
  });

  it('close() while Redis is blackholed resolves within about a second, and calls in flight settle', async () => {
    const { proxy } = await proxiedRedis();
    const cache = caches.create({ redisUrl: proxy.url, operationTimeoutMs: DEADLINE_MS });
    await cache.ready();
    const load = startLoad(cache);
    await waitFor(() => load.report.calls.length > 200, 10_000, 'calls to flow');
    proxy.blackhole();
    const inFlight = Promise.all([cache.get('a'), cache.set('b', 1), cache.delete('c')]);
    const started = performance.now();
    await cache.close();
    const closeMs = performance.now() - started;
    const { rejected } = await load.stop();
    expect(await inFlight).toEqual([undefined, false, false]);
    expect(rejected).toEqual([]);
    expect(closeMs).toBeLessThan(1000 + SLACK_MS);
    expect(await cache.get('a')).toBeUndefined();
    report('close while blackholed', { closeMs });
  });
});
