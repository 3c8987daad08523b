// Redis Cluster: what failed during an outage of one primary is owed per primary. A primary that
// still answers applies its part at once; the paused one (or the replica that replaced it) applies
// the rest when it answers, before its breaker closes.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/cache.js';
import { keySlot } from '../../src/l2/redis/cluster/slots.js';
import { cacheFactory } from '../support/cache.js';
import { type TestRedis, waitFor } from '../support/redis.js';
import { startCluster, type TestCluster } from '../support/topologies.js';
import { type CacheWorker, startCacheWorker } from '../support/workers.js';

const caches = cacheFactory();
const workers: CacheWorker[] = [];
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ nodeTimeoutMs: 1000 });
});
afterAll(() => cluster?.stop());
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  await caches.closeAll();
  await cluster.settled();
  for (const primary of cluster.primaries()) primary.cli('FLUSHALL');
});

function nodes() {
  return cluster.addresses().map((address) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) }));
}

/** A key named `base<n>` of the default domain whose slot `primary` serves. */
function keyOn(primary: TestRedis, base: string): string {
  for (let i = 0; ; i++)
    if (cluster.primaryOfSlot(keySlot(`default_${base}${i}`)) === primary) return `${base}${i}`;
}

/** A process that saw none of the outage, started while every primary answers. */
async function freshReader(): Promise<CacheWorker> {
  const worker = await startCacheWorker({ cluster: { nodes: nodes() }, operationTimeoutMs: 1000 });
  workers.push(worker);
  return worker;
}

/** Writes `old` under every key, tagged `product:42` when the key starts with `t`. */
async function seed(cache: Cache, keys: string[]): Promise<void> {
  for (const key of keys) {
    expect(await cache.set(key, 'old', key.startsWith('t') ? { tags: ['product:42'] } : undefined)).toBe(
      true,
    );
  }
}

describe('Redis Cluster: pending work per primary', () => {
  it('a primary paused while another is not: the other applies its part at once, the paused one when it answers', async () => {
    const cache = caches.create({
      cluster: { nodes: nodes() },
      operationTimeoutMs: 300,
      breaker: { failureThreshold: 1, probeIntervalMs: 100 },
    });
    const [paused, held] = cluster.primaries();
    const on = (primary: TestRedis) => ({
      written: keyOn(primary, 'w'),
      deleted: keyOn(primary, 'd'),
      tagged: keyOn(primary, 't'),
      listed: keyOn(primary, 'list:'),
    });
    const [p, h] = [on(paused!), on(held!)];
    await seed(cache, [...Object.values(p), ...Object.values(h)]);
    const reader = await freshReader();

    // CLIENT PAUSE holds every client's commands without the cluster seeing a failure: no failover
    paused!.cli('CLIENT', 'PAUSE', '5000', 'ALL');
    try {
      expect(await cache.set(p.written, 'new')).toBe(false);
      expect(await cache.set(h.written, 'new')).toBe(true);
      expect(await cache.delete(p.deleted)).toBe(false);
      expect(await cache.invalidateTags(['product:42'])).toBe(false);
      expect(await cache.deletePattern('list:*')).toBe(false);
      // the primary that answers applied its part at once, while the paused one's is still owed
      await waitFor(
        async () =>
          (await reader.call('get', { key: h.tagged })) === null &&
          (await reader.call('get', { key: h.listed })) === null,
        3000,
        'the answering primary to apply its part',
      );
      expect(cache.status().pending.entries).toBeGreaterThanOrEqual(4);
      expect(await reader.call('get', { key: h.written })).toBe('new');
    } finally {
      paused!.cli('CLIENT', 'UNPAUSE');
    }
    await waitFor(
      () => cache.status().breaker === 'closed' && cache.status().pending.entries === 0,
      10_000,
      'the paused primary to apply the rest',
    );
    for (const key of Object.values(p)) expect(await reader.call('get', { key }), key).toBeNull();
    // a miss could also be a failed read: Redis itself holds none of them
    for (const key of Object.values(p)) expect(paused!.cli('EXISTS', `default_${key}`), key).toBe('0');
    expect(await reader.call('get', { key: h.deleted })).toBe('old');
    expect(cache.status().pending).toMatchObject({ widened: 0, dropped: 0 });
  });

  it('a primary SIGSTOPped and replaced by its replica: the promoted replica applies what the primary was owed', async () => {
    const cache = caches.create({
      cluster: { nodes: nodes() },
      operationTimeoutMs: 300,
      connectTimeoutMs: 1000,
    });
    const primary = cluster.primaryOfSlot(keySlot('default_w0'));
    const keys = {
      written: 'w0',
      deleted: keyOn(primary, 'd'),
      tagged: keyOn(primary, 't'),
      listed: keyOn(primary, 'list:'),
    };
    await seed(cache, Object.values(keys));
    const replica = cluster.replicaOf(primary);
    await waitFor(
      () => replica.cli('DBSIZE') === primary.cli('DBSIZE'),
      10_000,
      'the replica to hold the values',
    );
    const reader = await freshReader();

    primary.pause();
    try {
      expect(await cache.set(keys.written, 'new')).toBe(false);
      expect(await cache.delete(keys.deleted)).toBe(false);
      expect(await cache.invalidateTags(['product:42'])).toBe(false);
      expect(await cache.deletePattern('list:*')).toBe(false);
      await waitFor(() => replica.cli('ROLE').startsWith('master'), 15_000, 'the replica to be promoted');
      await waitFor(
        () => cache.status().breaker === 'closed' && cache.status().pending.entries === 0,
        15_000,
        'the promoted replica to apply what was owed',
      );
      // the promoted replica held the old values; none is left for a process that saw nothing
      for (const key of Object.values(keys)) expect(await reader.call('get', { key }), key).toBeNull();
      for (const key of Object.values(keys)) expect(replica.cli('EXISTS', `default_${key}`), key).toBe('0');
    } finally {
      primary.resume();
    }
    await waitFor(() => primary.cli('ROLE').startsWith('slave'), 15_000, 'the old primary to step down');
  });
});
