import { afterEach, expect } from 'vitest';
import { cacheFactory } from './cache.js';
import { watchUnhandled } from './load.js';
import type { CapturedLine } from './logs.js';
import { startProxy, type TestProxy } from './proxy.js';
import { startRedis, type TestRedis } from './redis.js';

/** Slack for a loaded 2-core machine: a timer can fire this late. */
export const SLACK_MS = 250;

/** Lets a fault last while the load runs (the duration is the point, not a synchronisation). */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Prints a chaos test's figures on one line (`[chaos] label: name=value …`), rounded to µs. */
export function report(label: string, figures: Record<string, number>): void {
  const text = Object.entries(figures)
    .map(([name, value]) => `${name}=${Math.round(value * 1000) / 1000}`)
    .join(' ');
  console.log(`[chaos] ${label}: ${text}`);
}

/**
 * The warnings of one outage: one that Redis is unavailable, at most one that invalidations stopped
 * (when coherence's connection went too), and nothing else, whatever the number of calls.
 */
export function expectOneWarningPerKind(lines: readonly CapturedLine[]): void {
  const warnings = lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  expect(warnings.filter((m) => m.startsWith('cachette: Redis unavailable'))).toHaveLength(1);
  expect(warnings.filter((m) => m.startsWith('cachette: invalidations stopped')).length).toBeLessThanOrEqual(
    1,
  );
  expect(warnings.filter((m) => !/^cachette: (Redis unavailable|invalidations stopped)/.test(m))).toEqual([]);
}

/** The ids of the command connections to `redis`: not the redis-cli asking, nor coherence's subscriber. */
export function clientIds(redis: TestRedis): string[] {
  return redis
    .cli('CLIENT', 'LIST')
    .split('\n')
    .filter((line) => !/cmd=client\|list/.test(line) && / sub=0 /.test(line))
    .map((line) => /id=(\d+)/.exec(line)?.[1] ?? '')
    .filter(Boolean);
}

/**
 * The set-up every chaos file shares: caches, redis-servers and proxies made through it are closed
 * after each test, and the test fails if anything rejected unhandled or threw uncaught meanwhile.
 */
export function chaosHarness() {
  const caches = cacheFactory();
  const servers: TestRedis[] = [];
  const proxies: TestProxy[] = [];
  let unhandled = watchUnhandled();

  afterEach(async () => {
    await caches.closeAll();
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    unhandled.dispose();
    expect(unhandled.seen).toEqual([]);
    unhandled = watchUnhandled();
  });

  const redisServer = async (options?: Parameters<typeof startRedis>[0]) => {
    const server = await startRedis(options);
    servers.push(server);
    return server;
  };

  return {
    caches,
    redisServer,
    /** A redis-server and a fault proxy in front of it. */
    async proxiedRedis() {
      const redis = await redisServer();
      const proxy = await startProxy(redis.port);
      proxies.push(proxy);
      return { redis, proxy };
    },
  };
}
