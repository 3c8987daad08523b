import { type ChildProcess, fork } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheConfigError } from '../../src/errors.js';
import { CacheWarmingService } from '../../src/index.js';
import { cacheFactory } from '../support/cache.js';
import { captureLogger } from '../support/logs.js';
import { freePort, startRedis, type TestRedis, waitFor } from '../support/redis.js';

let redis: TestRedis;
const caches = cacheFactory();
const services: CacheWarmingService[] = [];
const children = new Set<ChildProcess>();

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await Promise.all(services.splice(0).map((s) => s.close()));
  await caches.closeAll();
  redis.cli('FLUSHALL');
});
afterAll(async () => {
  await redis.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function service(options: ConstructorParameters<typeof CacheWarmingService>[1] = {}, redisUrl = redis.url) {
  const cache = caches.create({ redisUrl, operationTimeoutMs: 2000, connectTimeoutMs: 500 });
  const logger = captureLogger();
  const warming = new CacheWarmingService(cache, { logger, ...options });
  services.push(warming);
  return { cache, warming, logger };
}

describe('CacheWarmingService', () => {
  it('registers tasks both ways and rejects duplicate names', () => {
    const { warming } = service();
    warming.registerTask('dashboard_stats', () => {}, true);
    warming.registerTask({ name: 'supplier_list', task: () => {}, critical: false, timeoutMs: 1000 });
    expect(() => warming.registerTask('dashboard_stats', () => {})).toThrow(CacheConfigError);
    expect(() => warming.registerTask({ name: 'supplier_list', task: () => {} })).toThrow(
      /already registered/,
    );
    expect(Object.keys(warming.getMetrics().tasks)).toEqual(['dashboard_stats', 'supplier_list']);
    expect(warming.getMetrics().tasks.dashboard_stats?.critical).toBe(true);
  });

  it('warms in the background without delaying the caller, and stores through the cache', async () => {
    const { cache, warming } = service();
    let called = false;
    warming.registerTask('products_count', async () => {
      called = true;
      await cache.set('products_count', 1500, { dbType: 'catalog' });
    });
    const run = warming.warmCriticalCaches();
    expect(called).toBe(false);
    expect(warming.warmingInProgress).toBe(true);
    expect(await run).toEqual({ skipped: false, succeeded: ['products_count'], failed: [] });
    expect(warming.warmingInProgress).toBe(false);
    expect(redis.cli('GET', 'catalog_products_count')).toBe('1500');
  });

  it('runs one warming at a time: a run requested meanwhile is skipped and counted', async () => {
    const { warming } = service();
    let release: () => void = () => {};
    let calls = 0;
    warming.registerTask('slow', () => {
      calls++;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    const first = warming.warmCriticalCaches();
    await waitFor(() => calls === 1, 2000, 'the first run');
    expect(warming.warmingInProgress).toBe(true);
    expect(await warming.warmCriticalCaches()).toEqual({ skipped: true, succeeded: [], failed: [] });
    expect(warming.getMetrics().skippedRuns).toBe(1);
    release();
    await first;
    expect(warming.warmingInProgress).toBe(false);
    expect(calls).toBe(1);
  });

  it('logs a critical failure at warn, a non-critical one at debug, and runs the other tasks anyway', async () => {
    const { warming, logger } = service();
    const ran: string[] = [];
    warming.registerTask('supplier_list', () => {
      ran.push('supplier_list');
      throw new Error('supplier API down');
    });
    warming.registerTask(
      'dashboard_stats',
      async () => {
        ran.push('dashboard_stats');
        throw new Error('database down');
      },
      true,
    );
    warming.registerTask('products_count', () => ran.push('products_count'), true);
    const report = await warming.warmCriticalCaches();
    expect(ran).toEqual(['dashboard_stats', 'products_count', 'supplier_list']);
    expect(report).toEqual({
      skipped: false,
      succeeded: ['products_count'],
      failed: ['dashboard_stats', 'supplier_list'],
    });
    const failures = logger.lines.filter((l) => l.text.includes('failed'));
    expect(failures.map((l) => [l.level, l.fields.task])).toEqual([
      ['warn', 'dashboard_stats'],
      ['debug', 'supplier_list'],
    ]);
    expect(failures[0]?.text).toContain('database down');
  });

  it('times tasks out, aborts their signal, and moves on', async () => {
    const { warming } = service();
    let aborted = false;
    warming.registerTask({
      name: 'stuck',
      critical: true,
      timeoutMs: '100ms',
      task: ({ signal }) =>
        new Promise(() => {
          signal.addEventListener('abort', () => {
            aborted = true;
          });
        }),
    });
    warming.registerTask('after', () => {}, true);
    const report = await warming.warmCriticalCaches();
    expect(report.failed).toEqual(['stuck']);
    expect(report.succeeded).toEqual(['after']);
    expect(aborted).toBe(true);
    expect(warming.getMetrics().tasks.stuck?.lastError).toContain('timed out after 100 ms');
  });

  it('takes its intervals and timeouts as numbers of ms or duration strings', () => {
    const { warming } = service({ intervalMs: '5m', taskTimeoutMs: '30s' });
    warming.startPeriodicWarming();
    expect(warming.getMetrics().periodic).toEqual({ active: true, intervalMs: 300_000 });
    warming.startPeriodicWarming('1h');
    expect(warming.getMetrics().periodic.intervalMs).toBe(3_600_000);
    warming.stopPeriodicWarming();
    expect(() => service({ intervalMs: 'often' as never })).toThrow(
      new CacheConfigError(
        `intervalMs must be a number of ms or a string such as '500ms', '30s', '5m' > 0, got "often"`,
      ),
    );
    expect(() => warming.registerTask({ name: 'x', task: () => {}, timeoutMs: '-1s' as never })).toThrow(
      /timeoutMs of warming task x must be .*got "-1s"/,
    );
  });

  it('keeps metrics per task and in total', async () => {
    const { warming } = service();
    let fail = false;
    warming.registerTask('flaky', () => {
      if (fail) throw new Error('nope');
    });
    warming.registerTask('steady', () => sleep(5), true);
    const before = Date.now();
    await warming.warmCriticalCaches();
    fail = true;
    await warming.warmCriticalCaches();
    const metrics = warming.getMetrics();
    expect(metrics.runs).toBe(2);
    expect(metrics.tasks.flaky).toMatchObject({
      executionCount: 2,
      successCount: 1,
      failureCount: 1,
      lastError: 'Error: nope',
      critical: false,
    });
    expect(metrics.tasks.steady).toMatchObject({ executionCount: 2, successCount: 2, failureCount: 0 });
    expect(metrics.tasks.steady?.lastDurationMs).toBeGreaterThanOrEqual(4);
    expect(metrics.tasks.flaky?.lastRun).toBeGreaterThanOrEqual(before);
    expect(metrics.tasks.flaky?.lastSuccess).toBeLessThanOrEqual(metrics.tasks.flaky!.lastRun!);
    expect(metrics.total).toMatchObject({
      executionCount: 4,
      successCount: 3,
      failureCount: 1,
      lastError: 'flaky: Error: nope',
    });
    expect(metrics.total.lastRun).toBeGreaterThanOrEqual(before);
    expect(metrics.total.lastSuccess).toBeGreaterThanOrEqual(metrics.total.lastRun!);
    expect(metrics.total.lastDurationMs).toBeGreaterThanOrEqual(0);
  });

  it('warms periodically until stopped, and close() stops it for good', async () => {
    const { warming } = service();
    let runs = 0;
    warming.registerTask('tick', () => {
      runs++;
    });
    warming.startPeriodicWarming(100);
    expect(warming.getMetrics().periodic).toEqual({ active: true, intervalMs: 100 });
    // each process claims the interval; let every tick find it free
    await waitFor(
      () => {
        redis.cli('DEL', '__cachette:slot:warming');
        return runs >= 3;
      },
      5000,
      'three periodic runs',
    );
    warming.stopPeriodicWarming();
    const stoppedAt = runs;
    await sleep(300);
    expect(runs).toBe(stoppedAt);
    warming.startPeriodicWarming(100);
    await warming.close();
    expect(warming.getMetrics().periodic.active).toBe(false);
    warming.startPeriodicWarming(100);
    expect(warming.getMetrics().periodic.active).toBe(false);
  });

  it('warms on its own when Redis is unreachable', async () => {
    const { warming } = service({}, `redis://127.0.0.1:${await freePort()}/0`);
    let runs = 0;
    warming.registerTask('tick', () => {
      runs++;
    });
    warming.startPeriodicWarming(100);
    await waitFor(() => runs >= 2, 5000, 'periodic runs without Redis');
    expect(warming.getMetrics().leftToOtherProcess).toBe(0);
  });

  it('runs one periodic warming per interval across processes', async () => {
    const intervalMs = 500;
    const workers = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const child = fork('test/fixtures/warming-worker.ts', [redis.url, String(intervalMs)], {
          execArgv: ['--import', 'tsx'],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        children.add(child);
        const messages: Array<{ type: string; runs: number; leftToOtherProcess: number }> = [];
        child.on('message', (m) => messages.push(m as (typeof messages)[number]));
        const next = async (type: string) => {
          await waitFor(() => messages.some((m) => m.type === type), 20_000, `warming worker ${type}`);
          return messages.find((m) => m.type === type)!;
        };
        await next('ready');
        return { child, next };
      }),
    );
    for (const { child } of workers) child.send('start');
    await Promise.all(workers.map(({ next }) => next('started')));
    const started = performance.now();
    await sleep(2600);
    for (const { child } of workers) child.send('stop');
    const reports = await Promise.all(workers.map(({ next }) => next('stopped')));
    const periods = (performance.now() - started) / intervalMs;
    const runs = reports.reduce((sum, r) => sum + r.runs, 0);
    // three processes without the slot would warm about 3 × periods times
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThanOrEqual(Math.ceil(periods) + 1);
    expect(reports.reduce((sum, r) => sum + r.leftToOtherProcess, 0)).toBeGreaterThanOrEqual(2);
  });
});
