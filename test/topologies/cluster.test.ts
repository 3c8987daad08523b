import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keyBeside, keySlot } from '../../src/l2/redis/cluster/slots.js';
import { silentLogger } from '../../src/logger.js';
import { cacheFactory } from '../support/cache.js';
import { forkGetOrSetWorker } from '../support/get-or-set-worker.js';
import { type Adapter, adminServer } from '../support/http.js';
import { captureLogger } from '../support/logs.js';
import { freePort, type TestRedis, waitFor } from '../support/redis.js';
import { startCluster, type TestCluster } from '../support/topologies.js';

const caches = cacheFactory();
const children = new Set<ChildProcess>();
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ nodeTimeoutMs: 1000 });
});
afterAll(() => cluster?.stop());
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await caches.closeAll();
  for (const primary of cluster.primaries()) primary.cli('FLUSHALL');
});

function seeds(count = 2) {
  return cluster
    .addresses()
    .slice(0, count)
    .map((address) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) }));
}

function create(extra: Parameters<typeof caches.create>[0] = {}) {
  return caches.create({ cluster: { nodes: seeds() }, operationTimeoutMs: 2000, ...extra });
}

/** The raw value of `key` (or what `command` answers for it), read on the primary that serves it. */
function read(key: string, command = 'GET'): string {
  return cluster.primaryOfSlot(keySlot(key)).cli(command, key);
}

/** SCAN commands run so far on every primary together (INFO commandstats). */
function scanCalls(): number {
  return cluster
    .primaries()
    .reduce(
      (sum, primary) =>
        sum + Number(/cmdstat_scan:calls=(\d+)/.exec(primary.cli('INFO', 'commandstats'))?.[1] ?? 0),
      0,
    );
}

/** The keys matching `pattern` on every primary, with the port of the primary holding each. */
function keysOnPrimaries(pattern: string): Array<{ key: string; port: number }> {
  return cluster.primaries().flatMap((primary) =>
    primary
      .cli('KEYS', pattern)
      .split('\n')
      .filter((key) => key !== '')
      .map((key) => ({ key, port: primary.port })),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Redis Cluster (3 primaries, 3 replicas)', () => {
  it('hashes keys to the slot Redis computes (hash tags, UTF-8) and keeps lease keys beside their key', () => {
    const node = cluster.nodes[0]!;
    const keys = [
      'foo',
      'catalog_products_count',
      '{user1000}.following',
      'a{}b',
      '{}{x}',
      'a{b}c{d}',
      'x}y{z}',
      'prix_é€_😀',
      '{é}suffix',
    ];
    for (const key of keys) {
      expect(keySlot(key), key).toBe(Number(node.cli('CLUSTER', 'KEYSLOT', key)));
      const lease = keyBeside('__cachette:lease:', key);
      expect(Number(node.cli('CLUSTER', 'KEYSLOT', lease)), lease).toBe(keySlot(key));
    }
  });

  it('connects from REDIS_CLUSTER_NODES and spreads get/set/setMany/getMany/delete/deletePattern over the primaries', async () => {
    const dead = await freePort();
    const cache = caches.create({
      // the first node listed is down: the next one tells the slot map
      env: { REDIS_CLUSTER_NODES: [`127.0.0.1:${dead}`, ...cluster.addresses().slice(0, 1)].join(',') },
      operationTimeoutMs: 2000,
    });
    expect(await cache.ready(5000)).toBe(true);
    expect(cache.status().l2).toMatchObject({
      state: 'ready',
      url: `redis+cluster://127.0.0.1:${dead},${cluster.addresses()[0]}`,
    });

    expect(await cache.set('products_count', 1500, { dbType: 'catalog' })).toBe(true);
    expect(read('catalog_products_count')).toBe('1500');
    expect(await cache.get('products_count', { dbType: 'catalog' })).toBe(1500);

    const entries = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: { i } }));
    expect(await cache.setMany(entries, { ttl: 600 })).toBe(true);
    const holders = keysOnPrimaries('default_k*');
    expect(holders).toHaveLength(30);
    // the keys landed on every primary: setMany was split per slot, without CROSSSLOT
    expect(new Set(holders.map((h) => h.port)).size).toBe(3);
    expect(Number(cluster.primaryOfSlot(keySlot('default_k7')).cli('TTL', 'default_k7'))).toBeGreaterThan(
      590,
    );

    const other = create({ l1: { enabled: false } });
    const keys = [...entries.map((e) => e.key), 'absent'];
    expect(await other.getMany(keys)).toEqual([...entries.map((e) => e.value), undefined]);

    expect(await other.delete('k3')).toBe(true);
    expect(read('default_k3')).toBe('');
    expect(await other.get('k3')).toBeUndefined();
    expect(await other.deletePattern('k1*')).toBe(11); // k1, k10..k19
    expect(keysOnPrimaries('default_k*')).toHaveLength(18);
    expect(other.stats().total.errors).toBe(0);
    expect(cache.stats().total.errors).toBe(0);
  });

  it('serves misses and false, never rejects, while no node answers; logs without the password', async () => {
    const logger = captureLogger();
    const dead = await freePort();
    const cache = caches.create({
      cluster: { nodes: [{ host: '127.0.0.1', port: dead }] },
      redisUrl: 'redis://cachette:s3cret-pass@127.0.0.1:6379/0',
      logger,
      connectTimeoutMs: 500,
      operationTimeoutMs: 500,
    });
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined]);
    expect(await cache.deletePattern('*')).toBe(false);
    expect(await cache.serverInfo()).toBe(false);
    expect(cache.status().l2.state).toBe('connecting');
    expect(logger.lines.some((l) => l.level === 'warn' && /slot map/.test(l.msg))).toBe(true);
    expect(JSON.stringify(logger.lines)).not.toContain('s3cret-pass');
  });

  it('getOrSet across processes: one factory call, leases and registries in the right slots, nothing left behind', async () => {
    // a slow factory, so that every worker asks for the lease while the first one loads, even when
    // a loaded machine delivers 'go' to the workers at different times
    const workers = await Promise.all(
      [0, 1, 2].map(() => worker({ key: 'hot', callers: 20, factoryMs: 1500 })),
    );
    for (const { child } of workers) child.send('go');
    const reports = await Promise.all(workers.map(({ next }) => next('done')));
    expect(reports.reduce((sum, r) => sum + r.calls, 0)).toBe(1);
    expect(reports.every((r) => r.errors === 0)).toBe(true);
    expect(new Set(reports.flatMap((r) => r.values)).size).toBe(1);
    expect(reports.reduce((sum, r) => sum + r.leaseWaits, 0)).toBeGreaterThan(0);
    expect(read('default_hot')).toMatch(/^"value from \d+"$/);
    expect(keysOnPrimaries('__cachette:*')).toEqual([]);
  });

  it('deletePattern revokes a getOrSet load running elsewhere, and delete removes the key with its lease', async () => {
    const loader = create();
    const invalidator = create();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const loading = loader.getOrSet('p1', async () => {
      await gate;
      return 'read before the invalidation';
    });
    // the load takes its lease, then registers in its domain's registry (another slot)
    await waitFor(
      () =>
        keysOnPrimaries('__cachette:lease:*').length === 1 &&
        keysOnPrimaries('__cachette:loading:*').length === 1,
      5000,
      'the lease and the registry',
    );
    expect(await invalidator.deletePattern('p*')).toBe(0);
    expect(keysOnPrimaries('__cachette:lease:*')).toEqual([]);
    release();
    expect(await loading).toBe('read before the invalidation');
    expect(read('default_p1')).toBe('');
    await waitFor(() => keysOnPrimaries('__cachette:*').length === 0, 5000, 'the registry to empty');

    // a lease taken for q is removed by delete('q'), in one UNLINK with the key (same slot)
    let releaseQ: () => void = () => {};
    const gateQ = new Promise<void>((resolve) => {
      releaseQ = resolve;
    });
    const loadingQ = loader.getOrSet('q', async () => {
      await gateQ;
      return 'stale';
    });
    await waitFor(
      () =>
        keysOnPrimaries('__cachette:lease:*').length === 1 &&
        keysOnPrimaries('__cachette:loading:*').length === 1,
      5000,
      'the lease of q',
    );
    expect(await invalidator.delete('q')).toBe(true);
    expect(keysOnPrimaries('__cachette:lease:*')).toEqual([]);
    releaseQ();
    await loadingQ;
    expect(read('default_q')).toBe('');
    expect(loader.stats().loading.storesSkipped).toBe(2);
  });

  it('serverInfo, countKeys and keys() cover every primary; the keys cursor walks from node to node', async () => {
    const cache = create();
    const entries = Array.from({ length: 50 }, (_, i) => ({ key: `item:${i}`, value: i }));
    expect(await cache.setMany(entries, { dbType: 'catalog' })).toBe(true);
    expect(await cache.set('alone', 1)).toBe(true);

    const info = await cache.serverInfo();
    expect(info).not.toBe(false);
    if (info === false) return;
    expect(info.keys).toBe(51);
    expect(info.version).toMatch(/^\d+\.\d+/);
    expect(info.connectedClients).toBeGreaterThanOrEqual(3);

    const census = await cache.countKeys({ budgetMs: 5000, maxCalls: 100 });
    expect(census).toMatchObject({ total: 51, exact: true, scanned: 51 });
    if (census !== false) expect(census.domains.catalog).toBe(50);

    const seen: string[] = [];
    const cursors: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 40; page++) {
      const result = await cache.keys({ dbType: 'catalog', limit: 7, cursor });
      expect(result).not.toBe(false);
      if (result === false) return;
      expect(result.keys.length).toBeLessThanOrEqual(7);
      for (const listed of result.keys) {
        seen.push(listed.key);
        expect(listed.ttl).toBeGreaterThan(7000);
      }
      if (result.cursor === null) break;
      cursors.push(result.cursor);
      cursor = result.cursor;
    }
    expect(seen.sort()).toEqual(entries.map((e) => e.key).sort());
    // the walk went through the three primaries (cursors name the first slot of each)
    expect(new Set(cursors.map((c) => c.split('-')[0])).size).toBeGreaterThanOrEqual(2);
    await expect(cache.keys({ cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'E_CACHE_KEY' });
  });
});

describe('Redis Cluster invalidation', () => {
  it("flushAll removes the app's keys on every primary (scope app) and empties every primary (scope database)", async () => {
    const cache = create();
    const entries = Array.from({ length: 12 }, (_, i) => ({ key: `f${i}`, value: i }));
    expect(await cache.setMany(entries, { dbType: 'catalog' })).toBe(true);
    expect(await cache.set('other', 1)).toBe(true);
    // another application's key survives an app flush
    const foreign = cluster.primaryOfSlot(keySlot('someone_else'));
    foreign.cli('SET', 'someone_else', 'x');
    expect(await cache.flushAll({ scope: 'app' })).toBe(13);
    expect(keysOnPrimaries('catalog_*')).toEqual([]);
    expect(foreign.cli('GET', 'someone_else')).toBe('x');
    expect(await cache.setMany(entries, { dbType: 'catalog' })).toBe(true);
    expect(await cache.flushAll({ scope: 'database', confirm: true })).toBe(13);
    expect(keysOnPrimaries('*')).toEqual([]);
  });
});

/** The members of every shard of `tag`'s index, with the slot of each shard and of each member. */
function shardsOf(tag: string): Array<{ shard: string; slot: number; members: string[] }> {
  return keysOnPrimaries('__cachette:tags:*')
    .filter(({ key }) => key.slice(key.indexOf('}') + 1) === tag)
    .map(({ key }) => ({
      shard: key,
      slot: keySlot(key),
      members: cluster.primaryOfSlot(keySlot(key)).cli('SMEMBERS', key).split('\n').filter(Boolean).sort(),
    }));
}

function indexedKeys(tag: string): string[] {
  return shardsOf(tag)
    .flatMap(({ members }) => members)
    .sort();
}

describe('Redis Cluster tags', () => {
  it('set, setMany and getOrSet index each value in a shard of its own slot; invalidateTags removes exactly the tagged keys on every primary and in every L1', async () => {
    const writer = create();
    const reader = create();
    await waitFor(
      () => writer.status().coherence.connected && reader.status().coherence.connected,
      10_000,
      'coherence on every primary',
    );
    const products = Array.from({ length: 24 }, (_, i) => ({ key: `product:${i}`, value: { id: i } }));
    expect(await writer.setMany(products, { dbType: 'catalog', tags: ['product'] })).toBe(true);
    expect(await writer.set('dashboard', 'counts', { tags: ['product', 'stats'] })).toBe(true);
    expect(await writer.set('untagged', 1)).toBe(true);
    expect(await writer.set('other', 1, { tags: ['other'] })).toBe(true);
    // braces in a tag cannot move its shard; a tag ending with another tag is another index
    expect(await writer.set('braced', 1, { tags: ['{x}b', 'a}b'] })).toBe(true);
    expect(await writer.set('plain', 1, { tags: ['b'] })).toBe(true);
    expect(await writer.getOrSet('loaded', async () => 'from the factory', { tags: ['product'] })).toBe(
      'from the factory',
    );

    const tagged = [...products.map((p) => `catalog_${p.key}`), 'default_dashboard', 'default_loaded'].sort();
    const shards = shardsOf('product');
    expect(shards.flatMap((s) => s.members).sort()).toEqual(tagged);
    // every member lives in its shard's slot, and the shards span every primary
    for (const { slot, members } of shards) for (const member of members) expect(keySlot(member)).toBe(slot);
    expect(new Set(shards.map(({ slot }) => cluster.primaryOfSlot(slot).port)).size).toBe(3);
    // each shard's slot is registered under its tag, for at least as long as the shard lives
    const registry = '__cachette:tagslots:product';
    const registered = read(registry, 'SMEMBERS').split('\n').filter(Boolean).sort();
    expect(registered).toEqual(
      shards.map(({ shard }) => shard.slice(shard.indexOf('{') + 1, shard.indexOf('}'))).sort(),
    );
    const registryTtl = Number(read(registry, 'PTTL'));
    // (the registry was read first: it may only have aged more)
    for (const { shard } of shards) expect(registryTtl).toBeGreaterThanOrEqual(Number(read(shard, 'PTTL')));
    expect(indexedKeys('b')).toEqual(['default_plain']);
    expect(indexedKeys('{x}b')).toEqual(['default_braced']);
    expect(indexedKeys('a}b')).toEqual(['default_braced']);

    // both caches hold the tagged values in L1
    for (const cache of [writer, reader]) {
      expect(await cache.get('product:3', { dbType: 'catalog' })).toEqual({ id: 3 });
      expect(await cache.get('dashboard')).toBe('counts');
      expect(await cache.get('loaded')).toBe('from the factory');
    }
    const scans = scanCalls();
    expect(await writer.invalidateTags(['product'])).toBe(tagged.length);
    // the registry named the shards: no primary's key space was walked
    expect(scanCalls()).toBe(scans);
    expect(keysOnPrimaries('catalog_*')).toEqual([]);
    expect(
      keysOnPrimaries('default_*')
        .map(({ key }) => key)
        .sort(),
    ).toEqual(['default_braced', 'default_other', 'default_plain', 'default_untagged']);
    expect(shardsOf('product')).toEqual([]);
    // the dashboard's entry in the 'stats' index is left to pruning; invalidating it finds nothing
    expect(await writer.invalidateTags(['stats'])).toBe(0);
    // the writer evicted its L1 copies itself, the reader through coherence
    expect(await writer.get('dashboard')).toBeUndefined();
    await waitFor(
      async () =>
        (await reader.get('dashboard')) === undefined &&
        (await reader.get('product:3', { dbType: 'catalog' })) === undefined &&
        (await reader.get('loaded')) === undefined,
      2000,
      "the tagged values to leave the reader's L1",
    );
    expect(await reader.get('untagged')).toBe(1);
    expect(await writer.invalidateTags(['b'])).toBe(1);
    expect(read('default_braced')).toBe('1');
    expect(await writer.invalidateTags(['{x}b'])).toBe(1);
    expect(read('default_braced')).toBe('');
    expect(writer.stats().total.errors).toBe(0);
    expect(reader.stats().total.errors).toBe(0);
  });

  it('a tag spread over more slots than one Lua call could unpack is registered and invalidated whole', async () => {
    const cache = create({ l1: { enabled: false } });
    const entries = Array.from({ length: 12_000 }, (_, i) => ({ key: `wide:${i}`, value: i }));
    expect(await cache.setMany(entries, { tags: ['wide'] })).toBe(true);
    const registered = Number(read('__cachette:tagslots:wide', 'SCARD'));
    // about 16 384 × (1 − e^(−12 000 / 16 384)) distinct slots
    expect(registered).toBeGreaterThan(8000);
    expect(await cache.invalidateTags(['wide'])).toBe(entries.length);
    expect(keysOnPrimaries('default_wide:*')).toEqual([]);
  });

  it('expires each shard with its longest-lived value, and pruning keeps a shard bounded', async () => {
    const cache = create();
    expect(
      await cache.setMany(
        [
          { key: 'a', value: 1, ttl: 1 },
          { key: 'b', value: 2, ttl: 2 },
        ],
        { tags: ['short'] },
      ),
    ).toBe(true);
    const shards = shardsOf('short');
    expect(shards.length).toBeGreaterThan(0);
    for (const { shard, slot } of shards) {
      const pttl = Number(cluster.primaryOfSlot(slot).cli('PTTL', shard));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(2000);
    }
    await waitFor(() => shardsOf('short').length === 0, 6000, 'the shards to expire with their values');

    // a load in progress in that slot: its lease (beside its key) keeps it listed through pruning
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    const loading = cache.getOrSet(
      '{churn}_loading',
      async () => {
        started = true;
        await gate;
        return 'old';
      },
      { tags: ['churn'] },
    );
    await waitFor(() => started, 5000, 'the load');
    // keys of one slot (one hash tag) that keep going away: their shard drops them as it is written
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 20; i++) await cache.set(`{churn}_${round}_${i}`, i, { tags: ['churn'] });
      await cache.deletePattern(`{churn}_${round}_*`);
    }
    const [churn] = shardsOf('churn');
    expect(shardsOf('churn')).toHaveLength(1);
    expect(churn!.members.length).toBeLessThan(3 * 20);
    expect(churn!.members).toContain('default_{churn}_loading');
    for (let i = 0; i < 20; i++) await cache.set(`{churn}_stay_${i}`, i, { tags: ['churn'] });
    expect(await cache.invalidateTags(['churn'])).toBe(20);
    release();
    expect(await loading).toBe('old');
    expect(read('default_{churn}_loading')).toBe('');
    expect(cache.stats().loading.storesSkipped).toBe(1);
  });

  it('a getOrSet load running during invalidateTags returns its result but does not store it', async () => {
    const loader = create();
    const invalidator = create();
    let calls = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const keys = Array.from({ length: 6 }, (_, i) => `report${i}`);
    const pending = keys.map((key) =>
      loader.getOrSet(
        key,
        async () => {
          calls++;
          await gate;
          return 'computed from old data';
        },
        { tags: ['dashboard'] },
      ),
    );
    await waitFor(() => calls === keys.length, 5000, 'the factories');
    // the loads are listed in the tag's shards before any value exists
    expect(indexedKeys('dashboard')).toEqual(keys.map((key) => `default_${key}`).sort());
    expect(await invalidator.invalidateTags(['dashboard'])).toBe(0);
    expect(keysOnPrimaries('__cachette:lease:*')).toEqual([]);
    release();
    expect(await Promise.all(pending)).toEqual(keys.map(() => 'computed from old data'));
    expect(keysOnPrimaries('default_*')).toEqual([]);
    expect(loader.stats().loading.storesSkipped).toBe(keys.length);
    expect(await loader.getOrSet('report0', () => 'fresh', { tags: ['dashboard'] })).toBe('fresh');
    expect(indexedKeys('dashboard')).toEqual(['default_report0']);
    await waitFor(() => keysOnPrimaries('__cachette:loading:*').length === 0, 5000, 'the registry to empty');
  });

  it("flushAll({scope:'app'}) removes the app's entries from every tag shard and leaves another app's", async () => {
    const cache = create();
    const entries = Array.from({ length: 12 }, (_, i) => ({ key: `f${i}`, value: i }));
    expect(await cache.setMany(entries, { dbType: 'catalog', tags: ['shared'] })).toBe(true);
    // another application's value indexed under the same tag, in a shard of this app's
    const shard = shardsOf('shared')[0]!.shard;
    const primary = cluster.primaryOfSlot(keySlot(shard));
    const foreign = `{${shard.slice(shard.indexOf('{') + 1, shard.indexOf('}'))}}someone_else`;
    expect(keySlot(foreign)).toBe(keySlot(shard));
    primary.cli('SET', foreign, 'x');
    primary.cli('SADD', shard, foreign);
    expect(await cache.flushAll({ scope: 'app' })).toBe(12);
    expect(keysOnPrimaries('catalog_*')).toEqual([]);
    expect(indexedKeys('shared')).toEqual([foreign]);
    expect(primary.cli('GET', foreign)).toBe('x');
  });
});

describe('Redis Cluster behind the admin API', () => {
  it.each<Adapter>(['fastify', 'express'])(
    'over %s: /keys pages through every primary, /stats sums them, /clear empties a domain on all',
    async (adapter) => {
      const cache = create();
      const server = await adminServer(adapter, { cache, logger: silentLogger, adminToken: 'admin-t0ken' });
      try {
        const headers = { authorization: 'Bearer admin-t0ken' };
        const entries = Array.from({ length: 40 }, (_, i) => ({ key: `p${i}`, value: i }));
        expect(await cache.setMany(entries, { dbType: 'catalog' })).toBe(true);
        const seen: string[] = [];
        let cursor: string | null = null;
        for (let page = 0; page < 40; page++) {
          const query = `dbType=catalog&limit=9${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
          const { status, body } = await server.request('GET', `/api/v1/cache/keys?${query}`, { headers });
          expect(status).toBe(200);
          seen.push(...(body.keys as Array<{ key: string }>).map((k) => k.key));
          cursor = body.cursor as string | null;
          if (cursor === null) break;
        }
        expect(seen.sort()).toEqual(entries.map((e) => e.key).sort());
        // the server facts are for the admin token
        const stats = await server.request('GET', '/api/v1/cache/stats', { headers });
        const l2 = stats.body.l2 as { state: string; redis: { keys: number }; keys: { total: number } };
        expect(l2.state).toBe('ready');
        expect(l2.redis.keys).toBe(40);
        expect(l2.keys.total).toBe(40);
        const clear = await server.request('POST', '/api/v1/cache/clear', {
          headers,
          json: { dbType: 'catalog' },
        });
        expect(clear.status).toBe(200);
        expect(clear.body.removed).toBe(40);
        expect(keysOnPrimaries('catalog_*')).toEqual([]);
      } finally {
        await server.close();
      }
    },
  );
});

describe('Redis Cluster with an ACL user', () => {
  it('does every core operation as a user holding the documented rule plus +cluster|slots', async () => {
    const page = readFileSync(new URL('../../docs/topologies.md', import.meta.url), 'utf8');
    const rule = page
      .split('\n')
      .find((line) => line.startsWith('ACL SETUSER cachette '))!
      .split(/\s+/)
      .slice(3);
    const password = 'cl@ster:pw/1';
    for (const node of cluster.nodes) {
      const withPassword = rule.map((part) => (part === '>CHANGE-ME' ? `>${password}` : part));
      expect(node.cli('ACL', 'SETUSER', 'cachette', ...withPassword, '+cluster|slots')).toBe('OK');
    }
    const logger = captureLogger();
    const cache = create({ redisUrl: `redis://cachette:${encodeURIComponent(password)}@ignored`, logger });
    expect(await cache.setMany(Array.from({ length: 10 }, (_, i) => ({ key: `acl${i}`, value: i })))).toBe(
      true,
    );
    expect(await cache.getMany(['acl0', 'acl9', 'none'])).toEqual([0, 9, undefined]);
    expect(await cache.getOrSet('loaded', async () => 'from the factory', { dbType: 'catalog' })).toBe(
      'from the factory',
    );
    expect(read('catalog_loaded')).toBe('"from the factory"');
    expect(await cache.delete('acl0')).toBe(true);
    expect(await cache.deletePattern('acl*')).toBe(9);
    // tag shards are under ~__cachette:*, and their scripts use only commands of the rule
    expect(await cache.set('tagged', 1, { tags: ['acl'] })).toBe(true);
    expect(await cache.getOrSet('tagged2', async () => 2, { tags: ['acl'] })).toBe(2);
    expect(await cache.invalidateTags(['acl'])).toBe(2);
    expect(cache.stats().total.errors).toBe(0);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
    expect(JSON.stringify(logger.lines)).not.toContain(password);
    expect(cache.status().l2.url).toMatch(/^redis\+cluster:\/\/cachette:\*\*\*@127\.0\.0\.1:/);
  });
});

describe('Redis Cluster coherence', () => {
  it('a change made outside cachette on any primary leaves L1 at once (tracking per primary)', async () => {
    const cache = create();
    await waitFor(() => cache.status().coherence.connected, 10_000, 'invalidations from every primary');
    expect(cache.status().coherence.mode).toBe('tracking');
    const keys = Array.from({ length: 9 }, (_, i) => `c${i}`);
    expect(await cache.setMany(keys.map((key) => ({ key, value: 'original' })))).toBe(true);
    for (const key of keys) expect(await cache.get(key)).toBe('original');
    const l1Hits = cache.stats().total.l1Hits;
    for (const key of keys) expect(await cache.get(key)).toBe('original');
    // served from L1 (l1.ttl is 5 s): only an invalidation can make the next reads see the change
    expect(cache.stats().total.l1Hits).toBe(l1Hits + keys.length);
    const ports = new Set<number>();
    for (const key of keys) {
      const primary = cluster.primaryOfSlot(keySlot(`default_${key}`));
      ports.add(primary.port);
      primary.cli('SET', `default_${key}`, '"changed outside"');
    }
    expect(ports.size).toBe(3);
    await waitFor(
      async () =>
        (await Promise.all(keys.map((key) => cache.get(key)))).every((v) => v === 'changed outside'),
      1000,
      'every change in L1',
    );
    expect(cache.status().coherence.invalidatedKeys).toBeGreaterThanOrEqual(keys.length);
  });
});

describe('Redis Cluster: one slow primary', () => {
  it('a stalled primary opens its own breaker: its keys are skipped at once, the other primaries keep serving', async () => {
    const logger = captureLogger();
    const cache = create({
      logger,
      l1: { enabled: false },
      operationTimeoutMs: 200,
      breaker: { failureThreshold: 3, probeIntervalMs: 100 },
    });
    const primaries = cluster.primaries();
    // one key per primary
    const keys = primaries.map((primary) => {
      for (let i = 0; ; i++) {
        if (cluster.primaryOfSlot(keySlot(`default_s${i}`)) === primary) return `s${i}`;
      }
    });
    for (const key of keys) expect(await cache.set(key, key)).toBe(true);
    const stalled = primaries[0]!;
    const stalledKey = keys[0]!;
    // CLIENT PAUSE stops answering clients but keeps the cluster bus alive: no failover. It ends by
    // itself (a CLIENT UNPAUSE from redis-cli would wait for the pause too)
    stalled.cli('CLIENT', 'PAUSE', '2500', 'ALL');
    await waitFor(
      async () => {
        expect(await cache.get(stalledKey)).toBeUndefined();
        return cache.status().breaker === 'open';
      },
      5000,
      'the breaker of the stalled primary to open',
    );
    const skipped = cache.stats().total.skipped;
    expect(await cache.get(stalledKey)).toBeUndefined();
    // skipped by the open breaker, without waiting for the deadline
    expect(cache.stats().total.skipped).toBe(skipped + 1);
    for (const key of keys.slice(1)) expect(await cache.get(key)).toBe(key);
    // a multi-key read over every primary loses only the stalled one's key, and loads only that one
    const errors = cache.stats().total.errors;
    expect(await cache.getMany(keys)).toEqual([undefined, ...keys.slice(1)]);
    expect(cache.stats().total.errors).toBe(errors + 1);
    const asked: string[][] = [];
    const loaded = await cache.getOrSetMany(keys, async (missing) => {
      asked.push([...missing]);
      return new Map(missing.map((key) => [key, `loaded ${key}`]));
    });
    expect(asked).toEqual([[stalledKey]]);
    expect(loaded).toEqual([`loaded ${stalledKey}`, ...keys.slice(1)]);
    expect(cache.status().l2.breakerOpens).toBeGreaterThanOrEqual(1);
    await waitFor(() => cache.status().breaker === 'closed', 5000, 'the breaker to close');
    // the load's store failed on the stalled primary: the older value there was deleted before its
    // breaker closed (a miss now, never the value the load replaced)
    expect(cache.status().pending.entries).toBe(0);
    expect(await cache.get(stalledKey)).toBeUndefined();
    for (const key of keys.slice(1)) expect(await cache.get(key)).toBe(key);
    expect(cache.status().l2.state).toBe('ready');
    const warnings = logger.lines.filter((l) => l.level === 'warn' && /Redis unavailable/.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields.redis).toContain(`(node 127.0.0.1:${stalled.port})`);
  });

  it('a setMany that one primary fails at once answers only when the other primaries have: nothing lands after the caller heard', async () => {
    const cache = create({
      l1: { enabled: false },
      operationTimeoutMs: 1000,
      breaker: { failureThreshold: 1 },
    });
    const [stalled, held] = cluster.primaries();
    const keyOn = (primary: TestRedis) => {
      for (let i = 0; ; i++) if (cluster.primaryOfSlot(keySlot(`default_m${i}`)) === primary) return `m${i}`;
    };
    const [stalledKey, heldKey] = [keyOn(stalled!), keyOn(held!)];
    expect(await cache.set(stalledKey, 'before')).toBe(true);
    stalled!.cli('CLIENT', 'PAUSE', '2500', 'ALL');
    expect(await cache.get(stalledKey)).toBeUndefined();
    await waitFor(() => cache.status().breaker === 'open', 3000, 'the stalled primary’s breaker to open');
    // the other primary holds writes for a while, well within the deadline: its write is in flight
    // when the stalled primary's part fails at once (breaker open)
    held!.cli('CLIENT', 'PAUSE', '300', 'WRITE');
    const startedAt = performance.now();
    expect(
      await cache.setMany([
        { key: stalledKey, value: 'new' },
        { key: heldKey, value: 'new' },
      ]),
    ).toBe(false);
    const answeredMs = performance.now() - startedAt;
    // the held write had landed when the caller heard "failed": nothing of it was still in flight
    expect(read(`default_${heldKey}`)).toBe('"new"');
    expect(answeredMs).toBeGreaterThan(150);
    // and the call owes the delete of every key it wrote (which part failed is not told apart):
    // applied at once on the primary that answers, nothing landing after it
    await waitFor(() => read(`default_${heldKey}`) === '', 3000, 'the owed delete on the answering primary');
    await sleep(1200);
    expect(read(`default_${heldKey}`)).toBe('');
  });
});

describe('Redis Cluster failover', () => {
  it('CLUSTER FAILOVER on a replica: calls resolve throughout, writes go to the promoted replica', async () => {
    const cache = create({ operationTimeoutMs: 1000, connectTimeoutMs: 1000 });
    expect(await cache.set('before', 'failover')).toBe(true);
    const { replica } = await syncedPair('default_before');

    const report = await measureSwitch(cache, replica, () => {
      replica.cli('CLUSTER', 'FAILOVER');
    });
    console.log(
      `cluster manual failover (CLUSTER FAILOVER): writes answered false for ${Math.round(report.failingMs)} ms ` +
        `(${report.failed} writes), slowest call ${Math.round(report.slowestMs)} ms`,
    );
    await waitFor(
      () => cluster.primaryOfSlot(keySlot('default_before')) === replica,
      10_000,
      'the promotion',
    );
    await cluster.settled();
    // a write after the switch lands on the promoted replica, through a map the driver refreshed itself
    expect(await cache.set('before', 'after')).toBe(true);
    expect(replica.cli('GET', 'default_before')).toBe('"after"');
    expect(report.slowestMs).toBeLessThan(2500);
    expect(cache.status().l2.state).toBe('ready');
  });

  it('SIGSTOP of a primary: calls end within their deadline while it hangs, and follow the promoted replica', async () => {
    const cache = create({ operationTimeoutMs: 300, connectTimeoutMs: 1000 });
    expect(await cache.set('before', 'failover')).toBe(true);
    const { primary, replica } = await syncedPair('default_before');
    let report: SwitchReport;
    try {
      report = await measureSwitch(cache, replica, () => primary.pause(), {
        read: 'before',
        expect: 'failover',
      });
    } finally {
      primary.resume();
    }
    console.log(
      `cluster failover (primary SIGSTOPped, cluster-node-timeout 1000 ms): writes resumed ${Math.round(report.resumedAfterMs)} ms ` +
        `after the pause, ${Math.round(report.followedAfterMs)} ms after the replica became primary ` +
        `(${report.failed} writes answered false meanwhile, slowest call ${Math.round(report.slowestMs)} ms)`,
    );
    expect(report.failed).toBeGreaterThan(0);
    // a hanging primary costs at most the deadline (300 ms), plus slack for a loaded machine
    expect(report.slowestMs).toBeLessThan(1500);
    expect(await cache.get('before')).toBe('failover');
    // the resumed node learns it was replaced and becomes a replica
    await waitFor(() => primary.cli('ROLE').startsWith('slave'), 10_000, 'the old primary to step down');
    await cluster.settled();
    expect(await cache.set('later', 2)).toBe(true);
    expect(await cache.get('later')).toBe(2);
  });

  it('SIGKILL of a primary: misses and false during the switch, never a rejection, writes resume without restart', async () => {
    const logger = captureLogger();
    const cache = create({ logger, operationTimeoutMs: 1000, connectTimeoutMs: 1000 });
    expect(await cache.set('before', 'failover')).toBe(true);
    const { primary, replica } = await syncedPair('default_before');

    const report = await measureSwitch(cache, replica, () => primary.kill(), {
      read: 'before',
      expect: 'failover',
    });
    console.log(
      `cluster failover (primary SIGKILLed, cluster-node-timeout 1000 ms): writes resumed ${Math.round(report.resumedAfterMs)} ms ` +
        `after the kill, ${Math.round(report.followedAfterMs)} ms after the replica became primary ` +
        `(${report.failed} writes answered false meanwhile, slowest call ${Math.round(report.slowestMs)} ms)`,
    );
    expect(report.failed).toBeGreaterThan(0);
    expect(report.slowestMs).toBeLessThan(2500);
    expect(cluster.primaryOfSlot(keySlot('default_before'))).toBe(replica);
    expect(await cache.get('before')).toBe('failover');
    expect(cache.status().l2.state).toBe('ready');
    expect(logger.lines.some((l) => l.level === 'info' && /primaries changed/.test(l.msg))).toBe(true);
    // coherence followed too: the promoted replica's invalidations flow, and a change made directly
    // on it reaches L1
    await waitFor(() => cache.status().coherence.connected, 5000, 'coherence on the new primary');
    expect(await cache.get('before')).toBe('failover');
    replica.cli('SET', 'default_before', '"changed on the new primary"');
    await waitFor(
      async () => (await cache.get('before')) === 'changed on the new primary',
      1000,
      'the change in L1',
    );

    // the killed node comes back as a replica of the promoted one: nothing to do on cachette's side
    await primary.start();
    await cluster.settled();
    expect(await cache.set('later', 1)).toBe(true);
    expect(await cache.get('later')).toBe(1);
  });
});

/**
 * The primary of `key` and a replica holding the same keys (after a previous failover the cluster
 * may still be re-attaching the old primary as a replica).
 */
async function syncedPair(key: string): Promise<{ primary: TestRedis; replica: TestRedis }> {
  await cluster.settled();
  let pair: { primary: TestRedis; replica: TestRedis } | undefined;
  await waitFor(
    () => {
      try {
        const primary = cluster.primaryOfSlot(keySlot(key));
        const replica = cluster.replicaOf(primary);
        const keys = primary.cli('DBSIZE');
        if (keys === '0' || replica.cli('DBSIZE') !== keys) return false;
        if (!replica.cli('INFO', 'replication').includes('master_link_status:up')) return false;
        pair = { primary, replica };
        return true;
      } catch {
        return false;
      }
    },
    20_000,
    `a replica in sync with the primary of ${key}`,
  );
  return pair!;
}

interface SwitchReport {
  failed: number;
  slowestMs: number;
  /** From the fault to the first write that succeeded after a failed one (or to the end when none failed). */
  resumedAfterMs: number;
  /** From the first failed write to the first one that succeeded again. */
  failingMs: number;
  /** From the moment the replica reported itself primary to the first write that succeeded there. */
  followedAfterMs: number;
}

/**
 * Applies `fault`, then writes (and reads) a key of the affected slot in a loop until a write succeeds
 * after at least one failed, or 3 s pass without any failing. Every call must resolve.
 */
async function measureSwitch(
  cache: ReturnType<typeof create>,
  replica: TestRedis,
  fault: () => unknown,
  check?: { read: string; expect: unknown },
): Promise<SwitchReport> {
  const faultAt = performance.now();
  await fault();
  let promotedAt = -1;
  let failed = 0;
  let slowestMs = 0;
  let firstFailureAt = -1;
  let writes = 0;
  while (performance.now() - faultAt < 60_000) {
    const started = performance.now();
    const [stored, read] = await Promise.all([
      cache.set('before', check ? 'failover' : `w${writes}`),
      check ? cache.get(check.read) : Promise.resolve(undefined),
    ]);
    slowestMs = Math.max(slowestMs, performance.now() - started);
    if (promotedAt < 0 && replica.cli('ROLE').startsWith('master')) promotedAt = performance.now();
    if (check) expect(read === undefined || read === check.expect).toBe(true);
    writes++;
    if (!stored) {
      if (firstFailureAt < 0) firstFailureAt = started;
      failed++;
    } else if (failed > 0 || performance.now() - faultAt > 3000) {
      const now = performance.now();
      return {
        failed,
        slowestMs,
        resumedAfterMs: now - faultAt,
        failingMs: firstFailureAt < 0 ? 0 : now - firstFailureAt,
        followedAfterMs: promotedAt < 0 ? -1 : now - promotedAt,
      };
    }
    await sleep(20);
  }
  throw new Error(`writes did not resume within 60 s (${failed} failed)`);
}

/** A getOrSet worker process on the cluster. */
function worker(job: Record<string, unknown>) {
  return forkGetOrSetWorker(
    { env: { REDIS_CLUSTER_NODES: cluster.addresses().join(',') }, ...job },
    children,
  );
}
