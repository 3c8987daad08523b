import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CacheOptions } from '../../src/config/options.js';
import { keySlot } from '../../src/l2/redis/cluster/slots.js';
import { cacheFactory } from '../support/cache.js';
import { waitFor } from '../support/redis.js';
import { startCluster, type TestCluster } from '../support/topologies.js';

const caches = cacheFactory();
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(() => cluster?.stop());
afterEach(async () => {
  await caches.closeAll();
  for (const primary of cluster.primaries()) primary.cli('FLUSHALL');
});

function app(keyPrefix: string, extra: CacheOptions = {}) {
  const nodes = cluster
    .addresses()
    .slice(0, 2)
    .map((address) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) }));
  return caches.create({ cluster: { nodes }, operationTimeoutMs: 2000, keyPrefix, ...extra });
}

/** Every key on every primary, sorted, with the slot of each. */
function allKeys(): Array<{ key: string; slot: number }> {
  return cluster
    .primaries()
    .flatMap((primary) => primary.cli('KEYS', '*').split('\n'))
    .filter((key) => key !== '')
    .sort()
    .map((key) => ({ key, slot: keySlot(key) }));
}

/** Whether `key` is a tag's shard registry, left to expire by `flushAll` (see invalidation/tags.ts). */
function isRegistry(key: string): boolean {
  return key.includes('__cachette:tagslots:');
}

/** Tagged values spread over many slots, and a tagged load whose factory waits for `gate`. */
async function workload(
  cache: ReturnType<typeof app>,
  gate: Promise<void>,
): Promise<{ loading: Promise<string> }> {
  const entries = Array.from({ length: 20 }, (_, i) => ({ key: `p${i}`, value: i }));
  expect(await cache.setMany(entries, { dbType: 'catalog', tags: ['product'] })).toBe(true);
  expect(await cache.set('dash', 1, { tags: ['dashboard'] })).toBe(true);
  const loading = cache.getOrSet(
    'slow',
    async () => {
      await gate;
      return 'loaded';
    },
    { dbType: 'analytics', tags: ['dashboard'] },
  );
  return { loading };
}

describe('keyPrefix on Redis Cluster', () => {
  it('names every key, tag shard, shard registry and lease after the prefix, and touches no other app', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const reports = app('reports:');
    const legacy = app('');
    await waitFor(async () => (await reports.ready()) && (await legacy.ready()), 20_000, 'the cluster');
    const pending = [(await workload(reports, gate)).loading, (await workload(legacy, gate)).loading];
    await waitFor(
      () => allKeys().filter(({ key }) => key.includes('__cachette:lease:')).length === 2,
      10_000,
      'the leases',
    );
    const keys = allKeys().map(({ key }) => key);
    const mine = keys.filter((key) => key.startsWith('reports:'));
    const theirs = keys.filter((key) => !key.includes('reports:'));
    expect(mine.length + theirs.length).toBe(keys.length);
    // the hash tags of leases and shards depend on the slots of the keys: compared without them
    const normalized = (list: string[]) =>
      [...new Set(list.map((key) => key.replace(/:\{[^}]*\}/, ':{}')))].sort();
    const expected = (p: string) =>
      [
        ...Array.from({ length: 20 }, (_, i) => `${p}catalog_p${i}`),
        `${p}default_dash`,
        `${p}__cachette:tagslots:product`,
        `${p}__cachette:tagslots:dashboard`,
        `${p}__cachette:tags:{}product`,
        `${p}__cachette:tags:{}dashboard`,
        `${p}__cachette:lease:{}${p}analytics_slow`,
        `${p}__cachette:loading:${p}analytics_`,
      ].sort();
    expect(normalized(mine)).toEqual(expected('reports:'));
    expect(normalized(theirs)).toEqual(expected(''));
    // a lease shares its key's slot: one script checks it and writes the value
    const lease = mine.find((key) => key.startsWith('reports:__cachette:lease:'))!;
    expect(keySlot(lease)).toBe(keySlot('reports:analytics_slow'));

    expect(await legacy.invalidateTags(['dashboard'])).toBe(1);
    release();
    expect(await Promise.all(pending)).toEqual(['loaded', 'loaded']);
    // the legacy load was revoked by its own app's invalidation; the prefixed app's was not
    expect(allKeys().map(({ key }) => key)).toContain('reports:analytics_slow');
    expect(allKeys().map(({ key }) => key)).not.toContain('analytics_slow');
    expect(await reports.invalidateTags(['product'])).toBe(20);
    expect(await legacy.get('p3', { dbType: 'catalog' })).toBe(3);
    expect(await reports.flushAll({ scope: 'app' })).toBe(2);
    // shard registries are never pruned (a writer may be between registering and writing): they expire
    expect(allKeys().filter(({ key }) => key.startsWith('reports:') && !isRegistry(key))).toEqual([]);
    expect(await legacy.get('p3', { dbType: 'catalog' })).toBe(3);
    expect(reports.stats().total.errors + legacy.stats().total.errors).toBe(0);
  });

  it('keeps every key of an app in one slot under a hash-tag prefix, tags and loads included', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const svc = app('{svc}:');
    await waitFor(() => svc.ready(), 20_000, 'the cluster');
    const { loading: pending } = await workload(svc, gate);
    await waitFor(() => allKeys().some(({ key }) => key.includes('__cachette:lease:')), 10_000, 'the lease');
    const slots = new Set(allKeys().map(({ slot }) => slot));
    expect([...slots]).toEqual([keySlot('svc')]);
    expect(allKeys().every(({ key }) => key.startsWith('{svc}:'))).toBe(true);
    release();
    expect(await pending).toBe('loaded');
    expect(await svc.invalidateTags(['product', 'dashboard'])).toBe(22);
    expect(await svc.set('again', 1, { tags: ['product'] })).toBe(true);
    expect(await svc.flushAll({ scope: 'app' })).toBe(1);
    expect(allKeys().filter(({ key }) => !isRegistry(key))).toEqual([]);
    expect(svc.stats().total.errors).toBe(0);
  });
});
