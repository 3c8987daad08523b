import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FactoryTimeoutError } from '../../src/errors.js';
import { expectTtl } from '../support/assertions.js';
import { cacheFactory } from '../support/cache.js';
import { forkGetOrSetWorker } from '../support/get-or-set-worker.js';
import { captureLogger } from '../support/logs.js';
import { startProxy } from '../support/proxy.js';
import { commandCalls, freePort, startRedis, type TestRedis, waitFor } from '../support/redis.js';

let redis: TestRedis;
const caches = cacheFactory();
const children = new Set<ChildProcess>();

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await caches.closeAll();
  redis.cli('FLUSHALL');
});
afterAll(async () => {
  await redis.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function create(extra: Parameters<typeof caches.create>[0] = {}) {
  return caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000, ...extra });
}

/** A factory that counts its calls and answers `value` after `delayMs`. */
function slowFactory<T>(value: T, delayMs = 50) {
  const factory = async () => {
    factory.calls++;
    await sleep(delayMs);
    return value;
  };
  factory.calls = 0;
  return factory;
}

/** A getOrSet worker process on this file's Redis. */
function worker(job: Record<string, unknown>) {
  return forkGetOrSetWorker({ url: redis.url, ...job }, children);
}

describe('getOrSet: reading and storing', () => {
  it('calls the factory on a miss, stores plain JSON with the TTL, then serves the cached value', async () => {
    const cache = create();
    const factory = slowFactory({ count: 1500 }, 1);
    expect(await cache.getOrSet('products_count', factory, { dbType: 'catalog' })).toEqual({ count: 1500 });
    expect(redis.cli('GET', 'catalog_products_count')).toBe('{"count":1500}');
    expectTtl(redis, 'catalog_products_count', 7200);
    expect(await cache.getOrSet('products_count', factory, { dbType: 'catalog', ttl: 60 })).toEqual({
      count: 1500,
    });
    const other = create({ l1: { enabled: false } });
    expect(await other.db('catalog').getOrSet('products_count', factory)).toEqual({ count: 1500 });
    expect(factory.calls).toBe(1);
    expect(redis.cli('KEYS', '__cachette:lease:*')).toBe('');
  });

  it('stores null but not undefined', async () => {
    const cache = create();
    const nothing = slowFactory(undefined, 1);
    expect(await cache.getOrSet('absent', nothing)).toBeUndefined();
    expect(await cache.getOrSet('absent', nothing)).toBeUndefined();
    expect(nothing.calls).toBe(2);
    expect(redis.cli('EXISTS', 'default_absent')).toBe('0');
    const empty = slowFactory(null, 1);
    expect(await cache.getOrSet('empty', empty)).toBeNull();
    expect(await cache.getOrSet('empty', empty)).toBeNull();
    expect(empty.calls).toBe(1);
    expect(redis.cli('GET', 'default_empty')).toBe('null');
  });

  it('rejects bad options as programming errors', async () => {
    const cache = create();
    const factory = slowFactory(1, 1);
    await expect(cache.getOrSet('k', factory, { ttl: 0 })).rejects.toMatchObject({ code: 'E_CACHE_KEY' });
    await expect(cache.getOrSet('k', factory, { grace: -1 })).rejects.toMatchObject({ code: 'E_CACHE_KEY' });
    await expect(cache.getOrSet('k', factory, { refreshAhead: 1.5 })).rejects.toMatchObject({
      code: 'E_CACHE_KEY',
    });
    await expect(cache.getOrSet('', factory)).rejects.toMatchObject({ code: 'E_CACHE_KEY' });
    expect(factory.calls).toBe(0);
  });
});

describe('getOrSet: single-flight in one process', () => {
  it('500 concurrent callers of a missing key cause one factory call and all get its result', async () => {
    const cache = create();
    const factory = slowFactory({ n: 42 }, 50);
    const results = await Promise.all(Array.from({ length: 500 }, () => cache.getOrSet('hot', factory)));
    expect(factory.calls).toBe(1);
    expect(results.every((r) => r === results[0])).toBe(true);
    expect(results[0]).toEqual({ n: 42 });
  });

  it('500 concurrent callers all get the error of the one failing factory call', async () => {
    const cache = create();
    const boom = new Error('database down');
    let calls = 0;
    const factory = async () => {
      calls++;
      await sleep(20);
      throw boom;
    };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 500 }, () => cache.getOrSet('hot', factory)),
    );
    expect(calls).toBe(1);
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason === boom)).toBe(true);
    expect(redis.cli('EXISTS', 'default_hot')).toBe('0');
    expect(redis.cli('KEYS', '__cachette:lease:*')).toBe('');
  });

  it('stays single-flight per process when Redis is unreachable', async () => {
    const cache = caches.create({
      redisUrl: `redis://127.0.0.1:${await freePort()}/0`,
      connectTimeoutMs: 300,
    });
    const factory = slowFactory('from the database', 50);
    const results = await Promise.all(Array.from({ length: 500 }, () => cache.getOrSet('hot', factory)));
    expect(factory.calls).toBe(1);
    expect(new Set(results)).toEqual(new Set(['from the database']));
  });
});

describe('getOrSet: single-flight across processes', () => {
  for (const processes of [2, 4]) {
    it(`${processes} processes × 250 concurrent callers cause one factory call in total`, async () => {
      const workers = await Promise.all(
        Array.from({ length: processes }, () => worker({ key: 'stampede', callers: 250, factoryMs: 500 })),
      );
      for (const { child } of workers) child.send('go');
      const reports = await Promise.all(workers.map(({ next }) => next('done')));
      expect(reports.reduce((sum, r) => sum + r.calls, 0)).toBe(1);
      expect(reports.reduce((sum, r) => sum + r.errors, 0)).toBe(0);
      // everyone got the one value, and at least one process really waited on another's lease
      expect(new Set(reports.flatMap((r) => r.values)).size).toBe(1);
      expect(reports.reduce((sum, r) => sum + r.leaseWaits, 0)).toBeGreaterThanOrEqual(1);
      expect(redis.cli('KEYS', '__cachette:lease:*')).toBe('');
    });
  }

  it('a process whose miss came just before another one stored the value does not call the factory again', async () => {
    const proxy = await startProxy(redis.port);
    const distant = create({ redisUrl: proxy.url });
    const near = create();
    try {
      expect(await distant.ready(5000)).toBe(true);
      const misses = () => Number(/keyspace_misses:(\d+)/.exec(redis.cli('INFO', 'stats'))?.[1]);
      const missesBefore = misses();
      // every byte to and from the distant process takes 300 ms: its read misses in Redis, and its
      // lease request arrives 600 ms later, after the near process has loaded, stored and released
      proxy.latency(300);
      const late = slowFactory('distant value', 1);
      const distantLoad = distant.getOrSet('raced', late);
      await waitFor(() => misses() > missesBefore, 5000, "the distant process's miss");
      expect(await near.getOrSet('raced', slowFactory('near value', 1))).toBe('near value');
      expect(redis.cli('EXISTS', '__cachette:lease:default_raced')).toBe('0');
      expect(await distantLoad).toBe('near value');
      expect(late.calls).toBe(0);
    } finally {
      // the proxy stops once its connections are gone
      await distant.close();
      await proxy.close();
    }
  });

  it('a lease holder killed with SIGKILL blocks the others only until its lease expires', async () => {
    const holder = await worker({ key: 'orphan', callers: 1, factoryMs: 0, hang: true, leaseMs: 1500 });
    holder.child.send('go');
    await holder.next('factory-started');
    holder.child.kill('SIGKILL');
    const before = performance.now();
    const leasePttl = Number(redis.cli('PTTL', '__cachette:lease:default_orphan'));
    const after = performance.now();
    expect(leasePttl).toBeGreaterThan(0);

    const cache = create();
    let calledAt = 0;
    const factory = async () => {
      calledAt = performance.now();
      return 'recovered';
    };
    expect(await cache.getOrSet('orphan', factory, { lock: { waitMs: 10_000 } })).toBe('recovered');
    // the lease expired somewhere in [before + pttl, after + pttl]: the factory ran after that, promptly
    expect(calledAt).toBeGreaterThanOrEqual(before + leasePttl - 20);
    expect(calledAt).toBeLessThan(after + leasePttl + 2000);
    expect(redis.cli('GET', 'default_orphan')).toBe('"recovered"');
    expect(cache.stats().loading.leaseWaits).toBe(1);
  });

  it('a holder that closes mid-load gives its lease back: another process loads at once, not after leaseMs', async () => {
    const holder = create();
    const abandoned = slowFactory('abandoned value', 1500);
    const first = holder.getOrSet('handover', abandoned, { lock: { leaseMs: 60_000 } });
    await waitFor(() => redis.cli('EXISTS', '__cachette:lease:default_handover') === '1', 2000, 'the lease');
    await holder.close();
    expect(redis.cli('EXISTS', '__cachette:lease:default_handover')).toBe('0');
    expect(redis.cli('SCARD', '__cachette:loading:default_')).toBe('0');

    const next = create();
    const fresh = slowFactory('next value', 1);
    // waitMs at the lease's length: had the lease stayed, this caller would wait a minute
    expect(await next.getOrSet('handover', fresh, { lock: { leaseMs: 60_000, waitMs: 60_000 } })).toBe(
      'next value',
    );
    expect(fresh.calls).toBe(1);
    expect(next.stats().loading.leaseWaits).toBe(0);
    // the abandoned load still answers its caller, and stores nothing over the new value
    expect(await first).toBe('abandoned value');
    expect(redis.cli('GET', 'default_handover')).toBe('"next value"');
  });

  it('a process that waited longer than waitMs calls the factory itself and leaves the store to the holder', async () => {
    const holder = create();
    const waiter = create();
    const slow = slowFactory('holder value', 600);
    const first = holder.getOrSet('k', slow);
    await waitFor(() => redis.cli('EXISTS', '__cachette:lease:default_k') === '1', 2000, 'the lease');
    const impatient = slowFactory('waiter value', 1);
    expect(await waiter.getOrSet('k', impatient, { lock: { waitMs: 100 } })).toBe('waiter value');
    expect(redis.cli('EXISTS', 'default_k')).toBe('0');
    expect(await first).toBe('holder value');
    expect(redis.cli('GET', 'default_k')).toBe('"holder value"');
  });
});

describe('getOrSet: waiting for another process', () => {
  it("wakes the waiter when Redis reports the holder's store (coherence on), instead of its next poll", async () => {
    const holder = create();
    const waiter = create();
    await waitFor(() => waiter.status().coherence.connected, 2000, 'coherence up');
    // a poll may still happen to read the value first on a busy machine: of three waits, at least
    // one is woken by the report (none is, without the wake-up)
    for (const key of ['woken-1', 'woken-2', 'woken-3']) {
      const first = holder.getOrSet(key, slowFactory('holder value', 400));
      await waitFor(() => redis.cli('EXISTS', `__cachette:lease:default_${key}`) === '1', 2000, 'the lease');
      const factory = slowFactory('waiter value', 1);
      expect(await waiter.getOrSet(key, factory)).toBe('holder value');
      expect(await first).toBe('holder value');
      expect(factory.calls).toBe(0);
    }
    const { leaseWaits, waitsWoken } = waiter.stats().loading;
    expect(leaseWaits).toBe(3);
    expect(waitsWoken).toBeGreaterThanOrEqual(1);
  });

  it("polls when nothing reports the store (coherence 'none'), and still gets the holder's value", async () => {
    const holder = create({ coherence: 'none' });
    const waiter = create({ coherence: 'none' });
    const first = holder.getOrSet('polled', slowFactory('holder value', 400));
    await waitFor(() => redis.cli('EXISTS', '__cachette:lease:default_polled') === '1', 2000, 'the lease');
    expect(await waiter.getOrSet('polled', slowFactory('waiter value', 1))).toBe('holder value');
    expect(await first).toBe('holder value');
    expect(waiter.stats().loading).toMatchObject({ leaseWaits: 1, waitsWoken: 0 });
  });
});

describe('getOrSet: no stale write after invalidation', () => {
  type Cache = ReturnType<typeof create>;
  const invalidations: Array<[string, (own: Cache, other: Cache) => Promise<unknown>]> = [
    ['delete in this process', (own) => own.delete('report')],
    ['delete in another process', (_own, other) => other.delete('report')],
    ['pattern delete in another process', (_own, other) => other.deletePattern('rep*')],
    ['FLUSHDB', async () => redis.cli('FLUSHDB')],
  ];
  for (const [name, invalidate] of invalidations) {
    it(`returns but does not store a result computed before a ${name}`, async () => {
      const cache = create();
      const other = create();
      const factory = slowFactory('computed from old data', 300);
      const pending = cache.getOrSet('report', factory);
      await waitFor(() => factory.calls === 1, 2000, 'the factory');
      await sleep(20);
      await invalidate(cache, other);
      expect(await pending).toBe('computed from old data');
      expect(redis.cli('EXISTS', 'default_report')).toBe('0');
      expect(await cache.get('report')).toBeUndefined();
      expect(cache.stats().loading.storesSkipped).toBe(1);
      // the next load stores again
      expect(await cache.getOrSet('report', slowFactory('fresh', 1))).toBe('fresh');
      expect(redis.cli('GET', 'default_report')).toBe('"fresh"');
    });
  }

  it('does not store over a set() made in this process while the factory ran', async () => {
    const cache = create();
    const factory = slowFactory(10, 200);
    const pending = cache.getOrSet('price', factory);
    await waitFor(() => factory.calls === 1, 2000, 'the factory');
    await cache.set('price', 12);
    expect(await pending).toBe(10);
    expect(redis.cli('GET', 'default_price')).toBe('12');
    expect(await cache.get('price')).toBe(12);
  });
});

describe('getOrSet: grace and timeouts', () => {
  const staleEnvelope = '{"__cachette":1,"ttl":60,"grace":30,"value":"old"}';

  it('writes values with grace in the documented envelope, with TTL ttl + grace', async () => {
    const cache = create();
    await cache.getOrSet('g', slowFactory({ a: 1 }, 1), { ttl: 60, grace: 30 });
    expect(redis.cli('GET', 'default_g')).toBe('{"__cachette":1,"ttl":60,"grace":30,"value":{"a":1}}');
    expectTtl(redis, 'default_g', 90);
    const plain = create({ l1: { enabled: false } });
    expect(await plain.get('g')).toEqual({ a: 1 });
    expect(await plain.getMany(['g'])).toEqual([{ a: 1 }]);
  });

  it('serves the stale value when the factory throws, and logs and counts it', async () => {
    const logger = captureLogger();
    const cache = create({ logger });
    redis.cli('SET', 'default_g', staleEnvelope, 'PX', '20000');
    expect(await cache.get('g')).toBeUndefined();
    const failing = async () => {
      throw new Error('database down');
    };
    expect(await cache.getOrSet('g', failing, { ttl: 60, grace: 30 })).toBe('old');
    expect(cache.stats().loading).toMatchObject({ staleServed: 1, factoryErrors: 1 });
    expect(logger.lines.some((l) => l.level === 'warn' && l.text.includes('database down'))).toBe(true);
    await expect(cache.getOrSet('nothing-stale', failing, { grace: 30 })).rejects.toThrow('database down');
  });

  it('after softTimeoutMs serves the stale value and refreshes the cache in the background', async () => {
    const cache = create();
    redis.cli('SET', 'default_g', staleEnvelope, 'PX', '20000');
    let release: (value: string) => void = () => {};
    let calls = 0;
    const factory = () => {
      calls++;
      return new Promise<string>((resolve) => {
        release = resolve;
      });
    };
    const answer = cache.getOrSet('g', factory, { ttl: 60, grace: 30, softTimeoutMs: 500 });
    // if the stale value could not be read, getOrSet waits for the factory: end it so the test fails instead of hanging
    const unblock = setTimeout(() => release('the stale value was never read'), 10_000);
    expect(await answer).toBe('old');
    clearTimeout(unblock);
    release('new');
    await waitFor(() => redis.cli('GET', 'default_g').includes('"new"'), 3000, 'the background refresh');
    expect(await cache.get('g')).toBe('new');
    expect(calls).toBe(1);
  });

  it('after hardTimeoutMs rejects with FactoryTimeoutError when there is no stale value', async () => {
    const cache = create();
    const factory = slowFactory('late', 600);
    const error = await cache.getOrSet('slow', factory, { hardTimeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FactoryTimeoutError);
    expect(error).toMatchObject({ code: 'E_FACTORY_TIMEOUT', timeoutMs: 100 });
    expect(cache.stats().loading.factoryTimeouts).toBe(1);
    // the factory goes on, and its result is stored for the next caller
    await waitFor(() => redis.cli('EXISTS', 'default_slow') === '1', 3000, 'the late result');
    expect(factory.calls).toBe(1);
  });

  it('after hardTimeoutMs serves the stale value when there is one', async () => {
    const cache = create();
    redis.cli('SET', 'default_g', staleEnvelope, 'PX', '20000');
    // the timeouts count from the call, the stale read included: room for a slow read on a busy machine
    expect(await cache.getOrSet('g', slowFactory('new', 5000), { grace: 30, hardTimeoutMs: 1000 })).toBe(
      'old',
    );
  });

  it('refreshes ahead in the background once the given fraction of the TTL has passed', async () => {
    const cache = create({ l1: { enabled: false } });
    redis.cli('SET', 'default_r', '"old"', 'PX', '900');
    const factory = slowFactory('new', 20);
    // 2 s TTL, 0.9 s left: 55% elapsed
    expect(await cache.getOrSet('r', factory, { ttl: 2, refreshAhead: 0.5 })).toBe('old');
    await waitFor(() => redis.cli('GET', 'default_r') === '"new"', 3000, 'the refresh');
    expect(factory.calls).toBe(1);
    expect(cache.stats().loading.refreshes).toBe(1);
    expect(await cache.getOrSet('r', factory, { ttl: 2, refreshAhead: 0.5 })).toBe('new');
    expect(factory.calls).toBe(1);
  });
});

describe('getOrSet with an ACL user', () => {
  it('works with exactly the rule docs/topologies.md documents, and leaves no lease behind', async () => {
    const page = readFileSync(new URL('../../docs/topologies.md', import.meta.url), 'utf8');
    const rule = page.split('\n').find((l) => l.startsWith('ACL SETUSER cachette '));
    const parts = rule!
      .split(/\s+/)
      .slice(3)
      .map((p) => (p === '>CHANGE-ME' ? '>secret' : p));
    expect(redis.cli('ACL', 'SETUSER', 'loader', ...parts)).toBe('OK');
    const cache = create({ redisUrl: `redis://loader:secret@127.0.0.1:${redis.port}/0` });
    const factory = slowFactory('v', 50);
    const pending = cache.getOrSet('k', factory, { dbType: 'catalog' });
    await waitFor(() => factory.calls === 1, 2000, 'the factory');
    expect(await cache.deletePattern('k*', { dbType: 'catalog' })).toBe(0);
    expect(await pending).toBe('v');
    expect(await cache.getOrSet('k', factory, { dbType: 'catalog' })).toBe('v');
    expect(await cache.delete('k', { dbType: 'catalog' })).toBe(true);
    expect(factory.calls).toBe(2);
    expect(cache.stats().total.errors).toBe(0);
    expect(redis.cli('DBSIZE')).toBe('0');
    redis.cli('ACL', 'DELUSER', 'loader');
  });
});

describe('getOrSetMany', () => {
  /** A batch factory that records the keys it was asked for and answers `value of <key>` (except `skip`). */
  function batchFactory(delayMs = 20) {
    const batch = async (keys: string[]) => {
      batch.calls.push(keys);
      await sleep(delayMs);
      return new Map(keys.filter((k) => k !== 'skip').map((k) => [k, `value of ${k}`]));
    };
    batch.calls = [] as string[][];
    return batch;
  }

  it('reads L1, then L2 in one round trip, then calls the batch factory once with only the missing keys', async () => {
    const cache = create();
    await cache.set('a', 'cached a', { dbType: 'media' });
    redis.cli('SET', 'media_b', '"cached b"', 'EX', '100');
    redis.cli('CONFIG', 'RESETSTAT');
    const batch = batchFactory();
    const values = await cache
      .db('media')
      .getOrSetMany(['a', 'b', 'c', 'skip', 'd', 'c'], batch, { ttl: 120 });
    expect(values).toEqual(['cached a', 'cached b', 'value of c', undefined, 'value of d', 'value of c']);
    expect(batch.calls).toEqual([['c', 'skip', 'd']]);
    expect(commandCalls(redis, 'mget')).toBe(1);
    expect(redis.cli('GET', 'media_c')).toBe('"value of c"');
    expectTtl(redis, 'media_d', 120);
    expect(redis.cli('EXISTS', 'media_skip')).toBe('0');
    expect(redis.cli('KEYS', '__cachette:*')).toBe('');
  });

  it('shares loads with concurrent getOrSet and getOrSetMany calls for the same keys', async () => {
    const cache = create();
    const batch = batchFactory(50);
    const single = slowFactory('single x', 50);
    const calls = [
      ...Array.from({ length: 50 }, () => cache.getOrSetMany(['x', 'y'], batch)),
      cache.getOrSet('x', single),
      ...Array.from({ length: 50 }, () => cache.getOrSetMany(['y', 'z'], batch)),
    ];
    const results = await Promise.all(calls);
    // one load of x and y, shared by every caller, and one of z; which starts first is up to Redis's replies
    expect([...batch.calls].sort((a, b) => a.length - b.length)).toEqual([['z'], ['x', 'y']]);
    expect(single.calls).toBe(0);
    expect(results[0]).toEqual(['value of x', 'value of y']);
    expect(results[50]).toBe('value of x');
    expect(results[51]).toEqual(['value of y', 'value of z']);
  });

  it('waits for a key another process is loading instead of loading it again', async () => {
    const holder = create();
    const cache = create();
    const slow = slowFactory('from the other process', 300);
    const other = holder.getOrSet('k1', slow);
    await waitFor(() => slow.calls === 1, 2000, 'the other process factory');
    const batch = batchFactory();
    expect(await cache.getOrSetMany(['k1', 'k2'], batch)).toEqual(['from the other process', 'value of k2']);
    expect(batch.calls).toEqual([['k2']]);
    expect(cache.stats().loading.leaseWaits).toBe(1);
    await other;
  });

  it('propagates the batch error, or serves stale values with grace', async () => {
    const cache = create();
    const failing = async () => {
      throw new Error('bulk query failed');
    };
    await expect(cache.getOrSetMany(['m', 'n'], failing)).rejects.toThrow('bulk query failed');
    redis.cli('SET', 'default_m', '{"__cachette":1,"ttl":60,"grace":30,"value":"old m"}', 'PX', '20000');
    redis.cli('SET', 'default_n', '{"__cachette":1,"ttl":60,"grace":30,"value":"old n"}', 'PX', '20000');
    expect(await cache.getOrSetMany(['m', 'n'], failing, { grace: 30 })).toEqual(['old m', 'old n']);
    expect(redis.cli('KEYS', '__cachette:*')).toBe('');
  });

  it('does not store a key invalidated while the batch factory ran, and stores the others', async () => {
    const cache = create();
    const other = create();
    const batch = batchFactory(300);
    const pending = cache.getOrSetMany(['p', 'q'], batch);
    await waitFor(() => batch.calls.length === 1, 2000, 'the batch factory');
    await other.delete('p');
    expect(await pending).toEqual(['value of p', 'value of q']);
    expect(redis.cli('EXISTS', 'default_p')).toBe('0');
    expect(redis.cli('GET', 'default_q')).toBe('"value of q"');
  });
});

describe('getOrSet options on an L1 hit', () => {
  it('answers from L1 without the factory, yet refuses every bad option as a miss would', async () => {
    const cache = create();
    let calls = 0;
    const factory = async () => {
      calls++;
      return 'loaded';
    };
    const good = { ttl: '5m', grace: 60, tags: ['t:1'], lock: { leaseMs: 1000 }, refreshAhead: 0.5 } as const;
    expect(await cache.getOrSet('hit', factory, good)).toBe('loaded');
    expect(await cache.getOrSet('hit', factory, good)).toBe('loaded');
    expect(calls).toBe(1);
    const bad: Array<Record<string, unknown>> = [
      { ttl: 0 },
      { ttl: 'soon' },
      { ttlJitter: 1 },
      { grace: -1 },
      { refreshAhead: 1.5 },
      { lock: { leaseMs: 0 } },
      { lock: { waitMs: 'x' } },
      { softTimeoutMs: -5 },
      { hardTimeoutMs: '1 minute' },
      { tags: 'product:1' },
      { tags: ['bad\ntag'] },
    ];
    for (const options of bad) {
      // the same refusal on the hit as on a miss of another key
      const onMiss = await cache
        .getOrSet(`miss-${calls}`, factory, options)
        .catch((err: Error) => err.message);
      const onHit = await cache.getOrSet('hit', factory, options).catch((err: Error) => err.message);
      expect(onHit, JSON.stringify(options)).toBe(onMiss);
      expect(onHit).toMatch(/ttl|jitter|grace|refreshAhead|lock|TimeoutMs|tag/);
    }
    expect(calls).toBe(1);
    // forceFresh skips L1
    expect(await cache.getOrSet('hit', async () => 'fresh', { forceFresh: true })).toBe('fresh');
  });
});
