import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { CacheKeyError } from '../../src/errors.js';
import { CHANNEL_NAMES, type TraceContext } from '../../src/tracing/channels.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';
import { waitFor } from '../support/redis.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

type ChannelName = keyof typeof CHANNEL_NAMES;
interface Recorded {
  channel: ChannelName;
  event: 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';
  context: TraceContext & Record<string, unknown>;
}

/** Subscribes to every cachette tracing channel; `finished()` lists each call's context at its `asyncEnd`. */
function record() {
  const events: Recorded[] = [];
  const unsubscribers = (Object.keys(CHANNEL_NAMES) as ChannelName[]).map((channel) => {
    const tc = tracingChannel<unknown, Recorded['context']>(CHANNEL_NAMES[channel]);
    const on = (event: Recorded['event']) => (context: Recorded['context']) =>
      events.push({ channel, event, context });
    const handlers = {
      start: on('start'),
      end: on('end'),
      asyncStart: on('asyncStart'),
      asyncEnd: on('asyncEnd'),
      error: on('error'),
    };
    tc.subscribe(handlers);
    return () => tc.unsubscribe(handlers);
  });
  stops.push(() => {
    for (const unsubscribe of unsubscribers) unsubscribe();
  });
  return {
    events,
    finished: () =>
      events
        .filter((e) => e.event === 'asyncEnd')
        .map((e): Record<string, unknown> => ({ ...e.context, channel: e.channel })),
  };
}

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe('tracing channels: get and getMany', () => {
  it('publishes start, end, asyncStart and asyncEnd with key, dbType and the outcome l2, l1 or miss', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    redis.cli('SET', 'catalog_products_count', '1500', 'EX', '100');
    const trace = record();
    expect(await cache.get('products_count', { dbType: 'catalog' })).toBe(1500);
    expect(trace.events.map((e) => e.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(new Set(trace.events.map((e) => e.context)).size).toBe(1);
    await cache.get('products_count', { dbType: 'catalog' });
    await cache.get('nothing');
    expect(trace.finished()).toEqual([
      {
        channel: 'get',
        operation: 'get',
        key: 'products_count',
        dbType: 'catalog',
        outcome: 'l2',
        result: 1500,
      },
      {
        channel: 'get',
        operation: 'get',
        key: 'products_count',
        dbType: 'catalog',
        outcome: 'l1',
        result: 1500,
      },
      {
        channel: 'get',
        operation: 'get',
        key: 'nothing',
        dbType: 'default',
        outcome: 'miss',
        result: undefined,
      },
    ]);
  });

  it('says error when Redis failed, without an error event: the caller got a miss', async () => {
    const cache = caches.create({ redisUrl: redis.url, breaker: { failureThreshold: 1000 } });
    await cache.ready();
    await redis.kill();
    try {
      const trace = record();
      expect(await cache.get('k')).toBeUndefined();
      expect(trace.finished()).toMatchObject([{ operation: 'get', outcome: 'error', result: undefined }]);
      expect(trace.events.some((e) => e.event === 'error')).toBe(false);
    } finally {
      await redis.start();
    }
  });

  it('publishes an error event when the call rejects (a programming error)', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    const trace = record();
    await expect(cache.get('', { dbType: 'catalog' })).rejects.toBeInstanceOf(CacheKeyError);
    const failed = trace.events.find((e) => e.event === 'error');
    expect(failed?.context).toMatchObject({ operation: 'get', key: '', dbType: 'catalog' });
    expect(failed?.context.error).toBeInstanceOf(CacheKeyError);
  });

  it('traces getMany with its keys, how many were answered, and hit, partial or miss', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
    const trace = record();
    await cache.getMany(['a', 'b']);
    await cache.getMany(['a', 'x']);
    await cache.getMany(['x', 'y']);
    expect(
      trace.finished().map(({ operation, keys, hits, outcome }) => ({ operation, keys, hits, outcome })),
    ).toEqual([
      { operation: 'getMany', keys: ['a', 'b'], hits: 2, outcome: 'hit' },
      { operation: 'getMany', keys: ['a', 'x'], hits: 1, outcome: 'partial' },
      { operation: 'getMany', keys: ['x', 'y'], hits: 0, outcome: 'miss' },
    ]);
  });
});

describe('tracing channels: set, delete and invalidations', () => {
  it('traces set and setMany: stored, refused (no JSON form) or error (Redis down)', async () => {
    const cache = caches.create({ redisUrl: redis.url, breaker: { failureThreshold: 1000 } });
    await cache.ready();
    const trace = record();
    await cache.set('k', 1, { dbType: 'media' });
    await cache.set('big', 10n);
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
    await redis.kill();
    try {
      expect(await cache.set('k', 2)).toBe(false);
    } finally {
      await redis.start();
    }
    expect(
      trace.finished().map(({ channel, operation, key, keys, dbType, outcome }) => ({
        channel,
        operation,
        key,
        keys,
        dbType,
        outcome,
      })),
    ).toEqual([
      { channel: 'set', operation: 'set', key: 'k', keys: undefined, dbType: 'media', outcome: 'stored' },
      {
        channel: 'set',
        operation: 'set',
        key: 'big',
        keys: undefined,
        dbType: 'default',
        outcome: 'refused',
      },
      {
        channel: 'set',
        operation: 'setMany',
        key: undefined,
        keys: ['a', 'b'],
        dbType: 'default',
        outcome: 'stored',
      },
      { channel: 'set', operation: 'set', key: 'k', keys: undefined, dbType: 'default', outcome: 'error' },
    ]);
  });

  it('traces delete, deleteMany and deletePattern, with the number of keys removed', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.setMany(
      ['p1', 'p2', 'q'].map((key) => ({ key, value: key })),
      { dbType: 'catalog' },
    );
    const trace = record();
    expect(await cache.delete('q', { dbType: 'catalog' })).toBe(true);
    expect(await cache.deleteMany(['p1', 'x'], { dbType: 'catalog' })).toBe(1);
    expect(await cache.deletePattern('p*', { dbType: 'catalog' })).toBe(1);
    expect(trace.finished()).toMatchObject([
      { channel: 'delete', operation: 'delete', key: 'q', dbType: 'catalog', outcome: 'removed' },
      { channel: 'delete', operation: 'deleteMany', keys: ['p1', 'x'], outcome: 'removed', removed: 1 },
      {
        channel: 'delete',
        operation: 'deletePattern',
        pattern: 'p*',
        dbType: 'catalog',
        outcome: 'removed',
        removed: 1,
      },
    ]);
  });

  it('traces every invalidation function on cachette:invalidate, with what, why and how many', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.set('products_42', { id: 42 }, { dbType: 'catalog', tags: ['product:42'] });
    await cache.set('cover_42', 'c.png', { dbType: 'media', tags: ['product:42'] });
    await cache.set('products_43', { id: 43 }, { dbType: 'catalog' });
    const trace = record();
    expect(await cache.invalidateTags(['product:42'], { reason: 'product 42 updated' })).toBe(2);
    expect(await cache.invalidation.invalidate('products_43', 'catalog')).toBe(1);
    expect(await cache.flushAll({ scope: 'app', reason: 'deployment' })).toBe(0);
    expect(trace.finished()).toMatchObject([
      {
        channel: 'invalidate',
        operation: 'invalidate',
        invalidation: 'tags',
        tags: ['product:42'],
        reason: 'product 42 updated',
        outcome: 'removed',
        removed: 2,
      },
      {
        channel: 'invalidate',
        operation: 'invalidate',
        invalidation: 'key',
        key: 'products_43',
        dbType: 'catalog',
        outcome: 'removed',
        removed: 1,
      },
      {
        channel: 'invalidate',
        operation: 'invalidate',
        invalidation: 'flush',
        scope: 'app',
        reason: 'deployment',
        outcome: 'removed',
        removed: 0,
      },
    ]);
  });
});

describe('tracing channels: getOrSet and getOrSetMany', () => {
  it('says where the value came from: loaded by the factory, then l1, then l2 in another process', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    const other = caches.create({ redisUrl: redis.url });
    const trace = record();
    expect(await cache.getOrSet('k', () => 'v')).toBe('v');
    expect(await cache.getOrSet('k', () => 'never')).toBe('v');
    expect(await cache.getOrSet('k', () => 'never', { ttl: 60 })).toBe('v');
    expect(await other.getOrSet('k', () => 'never')).toBe('v');
    expect(
      trace.finished().map(({ channel, operation, key, outcome }) => ({ channel, operation, key, outcome })),
    ).toEqual([
      { channel: 'getOrSet', operation: 'getOrSet', key: 'k', outcome: 'loaded' },
      { channel: 'getOrSet', operation: 'getOrSet', key: 'k', outcome: 'l1' },
      { channel: 'getOrSet', operation: 'getOrSet', key: 'k', outcome: 'l1' },
      { channel: 'getOrSet', operation: 'getOrSet', key: 'k', outcome: 'l2' },
    ]);
  });

  it('says waited when another cache held the lease and stored the value', async () => {
    const holder = caches.create({ redisUrl: redis.url });
    const waiter = caches.create({ redisUrl: redis.url });
    let release: (value: string) => void = () => {};
    const loading = holder.getOrSet('k', () => new Promise<string>((resolve) => (release = resolve)));
    await waitFor(() => redis.cli('EXISTS', '__cachette:lease:default_k') === '1', 5000, 'the lease');
    const trace = record();
    const waited = waiter.getOrSet('k', () => 'never');
    await waitFor(() => waiter.stats().loading.leaseWaits === 1, 5000, 'the wait');
    release('v');
    expect(await loading).toBe('v');
    expect(await waited).toBe('v');
    expect(trace.finished()).toMatchObject([{ operation: 'getOrSet', outcome: 'waited', result: 'v' }]);
  });

  it('says stale when the factory failed and the graced value was served, error when nothing could be', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    redis.cli('SET', 'default_g', '{"__cachette":1,"ttl":60,"grace":30,"value":"old"}', 'PX', '20000');
    const failing = async () => {
      throw new Error('database down');
    };
    const trace = record();
    expect(await cache.getOrSet('g', failing, { ttl: 60, grace: 30 })).toBe('old');
    await expect(cache.getOrSet('none', failing, { grace: 30 })).rejects.toThrow('database down');
    expect(trace.finished()).toMatchObject([
      { operation: 'getOrSet', key: 'g', outcome: 'stale', result: 'old' },
      { operation: 'getOrSet', key: 'none', outcome: 'error', error: { message: 'database down' } },
    ]);
    expect(trace.events.filter((e) => e.event === 'error')).toHaveLength(1);
  });

  it('says stale when the soft timeout served the graced value while the factory went on', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    redis.cli('SET', 'default_g', '{"__cachette":1,"ttl":60,"grace":30,"value":"old"}', 'PX', '20000');
    let release: (value: string) => void = () => {};
    const trace = record();
    const answer = cache.getOrSet('g', () => new Promise<string>((resolve) => (release = resolve)), {
      ttl: 60,
      grace: 30,
      softTimeoutMs: 100,
    });
    const unblock = setTimeout(() => release('the stale value was never served'), 10_000);
    expect(await answer).toBe('old');
    clearTimeout(unblock);
    release('new');
    expect(trace.finished()).toMatchObject([{ operation: 'getOrSet', key: 'g', outcome: 'stale' }]);
  });

  it('traces getOrSetMany with how many keys its batch factory loaded: loaded, partial, hit', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    const batch = async (keys: string[]) => new Map(keys.map((key) => [key, key.toUpperCase()]));
    const trace = record();
    expect(await cache.getOrSetMany(['a', 'b'], batch)).toEqual(['A', 'B']);
    expect(await cache.getOrSetMany(['a', 'c'], batch)).toEqual(['A', 'C']);
    expect(await cache.getOrSetMany(['a', 'c'], batch)).toEqual(['A', 'C']);
    expect(
      trace.finished().map(({ operation, keys, loaded, outcome }) => ({ operation, keys, loaded, outcome })),
    ).toEqual([
      { operation: 'getOrSetMany', keys: ['a', 'b'], loaded: 2, outcome: 'loaded' },
      { operation: 'getOrSetMany', keys: ['a', 'c'], loaded: 1, outcome: 'partial' },
      { operation: 'getOrSetMany', keys: ['a', 'c'], loaded: undefined, outcome: 'hit' },
    ]);
  });
});

describe('tracing channels: subscribers', () => {
  it('publishes to a subscriber of one event of a channel, only its own calls, and nothing once it left', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    const events: string[] = [];
    const listener = (context: unknown) => {
      const { operation, key } = context as TraceContext;
      events.push(`${operation} ${key}`);
    };
    subscribe(`tracing:${CHANNEL_NAMES.set}:asyncEnd`, listener);
    await cache.set('a', 1);
    await cache.get('a');
    unsubscribe(`tracing:${CHANNEL_NAMES.set}:asyncEnd`, listener);
    await cache.set('b', 1);
    expect(events).toEqual(['set a']);
    expect(tracingChannel(CHANNEL_NAMES.set).hasSubscribers).toBe(false);
  });
});
