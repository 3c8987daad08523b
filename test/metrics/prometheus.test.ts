import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { registerCacheMetrics } from '../../src/metrics/prometheus.js';
import { CacheWarmingService } from '../../src/warming/warming.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';
import { parseExposition, promtoolCheck, sampleValue } from '../support/exposition.js';
import { startRedis, waitFor } from '../support/redis.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

/** A cache with metrics in a fresh registry, after a known mix of operations. */
async function exercised() {
  const cache = caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000 });
  const registry = new Registry();
  const warming = new CacheWarmingService(cache, { logger: silentLogger });
  warming.registerTask('dashboard_stats', () => cache.set('dashboard', 1, { dbType: 'analytics' }), true);
  warming.registerTask('supplier_list', () => Promise.reject(new Error('supplier API down')));
  const metrics = registerCacheMetrics(cache, { registry, warming });
  await warming.warmCriticalCaches();
  await warming.close();
  await cache.set('secret_product_name', { id: 1 }, { dbType: 'catalog' });
  await cache.get('secret_product_name', { dbType: 'catalog' }); // L1 hit
  // written outside cachette; the cache never read it, so Redis reports nothing about it
  redis.cli('SET', 'media_file_abc', '"x"');
  await cache.get('file_abc', { dbType: 'media' }); // L2 hit
  await cache.get('absent_key', { dbType: 'media' }); // miss
  await cache.getMany(['absent_1', 'absent_2'], { dbType: 'imports' });
  await cache.deletePattern('secret_*', { dbType: 'catalog' });
  expect(await cache.set('big', 1n)).toBe(false); // refused: the older value's delete is owed, applied at once
  await waitFor(() => cache.status().pending.entries === 0, 5000, 'the owed delete to be applied');
  return { cache, registry, metrics };
}

describe('Prometheus metrics', () => {
  it('exports hits, misses, writes per tier and dbType, L2 latency and L1/L2 gauges, without key names', async () => {
    const { registry } = await exercised();
    const text = await registry.metrics();
    const { samples, types } = parseExposition(text);
    expect(sampleValue(samples, 'cachette_hits_total', { tier: 'l1', db_type: 'catalog' })).toBe(1);
    expect(sampleValue(samples, 'cachette_hits_total', { tier: 'l2', db_type: 'media' })).toBe(1);
    expect(sampleValue(samples, 'cachette_hits_total', { tier: 'l2', db_type: 'analytics' })).toBe(0);
    expect(sampleValue(samples, 'cachette_misses_total', { db_type: 'media' })).toBe(1);
    expect(sampleValue(samples, 'cachette_misses_total', { db_type: 'imports' })).toBe(2);
    expect(sampleValue(samples, 'cachette_sets_total', { db_type: 'catalog' })).toBe(1);
    expect(sampleValue(samples, 'cachette_deletes_total', { db_type: 'catalog' })).toBe(1);
    expect(sampleValue(samples, 'cachette_refused_total', { db_type: 'default' })).toBe(1);
    expect(sampleValue(samples, 'cachette_errors_total', { tier: 'l2', db_type: 'catalog' })).toBe(0);
    expect(sampleValue(samples, 'cachette_l1_entries')).toBe(2); // media_file_abc (the L2 hit) and the warmed dashboard
    expect(sampleValue(samples, 'cachette_l1_max_entries')).toBe(10_000);
    expect(sampleValue(samples, 'cachette_l2_up')).toBe(1);
    expect(sampleValue(samples, 'cachette_breaker_state', { state: 'closed' })).toBe(1);
    expect(sampleValue(samples, 'cachette_breaker_state', { state: 'open' })).toBe(0);
    expect(sampleValue(samples, 'cachette_breaker_opens_total')).toBe(0);
    expect(sampleValue(samples, 'cachette_skipped_total', { tier: 'l2', db_type: 'catalog' })).toBe(0);
    expect(sampleValue(samples, 'cachette_l2_pending_entries')).toBe(0);
    expect(sampleValue(samples, 'cachette_l2_pending_total', { outcome: 'applied' })).toBe(1);
    expect(sampleValue(samples, 'cachette_l2_pending_total', { outcome: 'dropped' })).toBe(0);
    expect(types.get('cachette_l2_pending_total')).toBe('counter');
    expect(
      sampleValue(samples, 'cachette_warming_runs_total', { task: 'dashboard_stats', result: 'success' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'cachette_warming_runs_total', { task: 'supplier_list', result: 'failure' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'cachette_warming_runs_total', { task: 'supplier_list', result: 'success' }),
    ).toBe(0);
    const lastSuccess = sampleValue(samples, 'cachette_warming_last_success_timestamp_seconds', {
      task: 'dashboard_stats',
    });
    expect(Math.abs(lastSuccess! - Date.now() / 1000)).toBeLessThan(60);
    expect(
      sampleValue(samples, 'cachette_warming_last_success_timestamp_seconds', { task: 'supplier_list' }),
    ).toBeUndefined();
    expect(sampleValue(samples, 'cachette_warming_in_progress')).toBe(0);
    const getCount = sampleValue(samples, 'cachette_operation_duration_seconds_count', {
      tier: 'l2',
      operation: 'get',
      result: 'ok',
    });
    expect(getCount).toBe(2);
    expect(
      sampleValue(samples, 'cachette_operation_duration_seconds_count', {
        operation: 'get_many',
        result: 'ok',
      }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'cachette_operation_duration_seconds_count', { operation: 'set', result: 'ok' }),
    ).toBe(2); // the catalog set and the warmed dashboard
    expect(types.get('cachette_operation_duration_seconds')).toBe('histogram');
    expect(types.get('cachette_hits_total')).toBe('counter');
    // bounded cardinality: no key name ever becomes a label value
    expect(text).not.toMatch(/secret_product_name|file_abc|absent_/);
    for (const sample of samples) {
      expect(
        Object.keys(sample.labels).every((l) =>
          ['tier', 'db_type', 'operation', 'result', 'le', 'state', 'task', 'outcome'].includes(l),
        ),
      ).toBe(true);
    }
    expect(promtoolCheck(text)).toBe('');
  });

  it('keeps counters monotonic across scrapes and counts L2 errors while Redis is down', async () => {
    const own = await startRedis();
    try {
      const cache = caches.create({
        redisUrl: own.url,
        operationTimeoutMs: 2000,
        breaker: { failureThreshold: 3, probeIntervalMs: 50 },
      });
      const registry = new Registry();
      registerCacheMetrics(cache, { registry });
      await cache.set('k', 1, { dbType: 'analytics' });
      const first = parseExposition(await registry.metrics()).samples;
      expect(sampleValue(first, 'cachette_sets_total', { db_type: 'analytics' })).toBe(1);
      await own.kill();
      await waitFor(() => cache.status().l2.state !== 'ready', 5000, 'the cache to see Redis gone');
      expect(await cache.set('k', 2, { dbType: 'analytics' })).toBe(false);
      await cache.set('k', 3, { dbType: 'analytics' });
      const second = parseExposition(await registry.metrics()).samples;
      expect(sampleValue(second, 'cachette_sets_total', { db_type: 'analytics' })).toBe(1);
      expect(sampleValue(second, 'cachette_errors_total', { tier: 'l2', db_type: 'analytics' })).toBe(2);
      expect(sampleValue(second, 'cachette_l2_up')).toBe(0);
      const third = parseExposition(await registry.metrics()).samples;
      expect(sampleValue(third, 'cachette_errors_total', { tier: 'l2', db_type: 'analytics' })).toBe(2);
      await waitFor(
        async () => {
          await cache.get('k', { dbType: 'analytics' });
          return cache.status().breaker !== 'closed';
        },
        5000,
        'the breaker to open',
      );
      const opened = parseExposition(await registry.metrics()).samples;
      expect(sampleValue(opened, 'cachette_breaker_opens_total')).toBe(1);
      expect(sampleValue(opened, 'cachette_breaker_state', { state: 'closed' })).toBe(0);
      // the two failed writes owe one delete of their key, applied once Redis is back
      expect(sampleValue(opened, 'cachette_l2_pending_entries')).toBe(1);
      await own.start();
      await waitFor(() => cache.status().pending.entries === 0, 5000, 'the pending delete to be applied');
      const back = parseExposition(await registry.metrics()).samples;
      expect(sampleValue(back, 'cachette_l2_pending_entries')).toBe(0);
      expect(sampleValue(back, 'cachette_l2_pending_total', { outcome: 'applied' })).toBe(1);
      expect(sampleValue(back, 'cachette_l2_pending_total', { outcome: 'dropped' })).toBe(0);
    } finally {
      await own.stop();
    }
  });

  it('unregister() removes the metrics and stops timing', async () => {
    const { cache, registry, metrics } = await exercised();
    metrics.unregister();
    expect(await registry.metrics()).toBe('\n');
    // registering again after unregister works (no "already registered")
    registerCacheMetrics(cache, { registry });
    await cache.get('x');
    expect(await registry.metrics()).toContain(
      'cachette_operation_duration_seconds_count{tier="l2",operation="get"',
    );
  });

  it('sums the workers of a node cluster through AggregatorRegistry', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/cluster-metrics.ts', redis.url, '25'],
      { timeout: 30_000 },
    );
    const { samples } = parseExposition(stdout);
    expect(sampleValue(samples, 'cachette_sets_total', { db_type: 'catalog' })).toBe(50);
    expect(sampleValue(samples, 'cachette_hits_total', { tier: 'l1', db_type: 'catalog' })).toBe(2);
    expect(sampleValue(samples, 'cachette_l2_up')).toBe(1);
    expect(
      sampleValue(samples, 'cachette_operation_duration_seconds_count', { operation: 'set', result: 'ok' }),
    ).toBe(50);
    expect(promtoolCheck(stdout)).toBe('');
  });

  it('the Grafana dashboard queries only metrics the exporter produces', async () => {
    const { registry } = await exercised();
    const exported = new Set(parseExposition(await registry.metrics()).samples.map((s) => s.name));
    const dashboard = JSON.parse(
      readFileSync(new URL('../../grafana/cachette.json', import.meta.url), 'utf8'),
    );
    const exprs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === 'expr' && typeof value === 'string') exprs.push(value);
          else walk(value);
        }
      }
    };
    walk(dashboard);
    expect(exprs.length).toBeGreaterThanOrEqual(6);
    const queried = new Set(exprs.flatMap((expr) => expr.match(/\bcachette_[a-z0-9_]+/g) ?? []));
    expect([...queried].filter((name) => !exported.has(name))).toEqual([]);
  });
});
