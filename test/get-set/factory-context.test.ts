import { describe, expect, expectTypeOf, it } from 'vitest';
import { CacheKeyError, FactoryTimeoutError } from '../../src/errors.js';
import type { BatchFactoryContext, FactoryContext } from '../../src/index.js';
import { expectTtl } from '../support/assertions.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';
import { waitFor } from '../support/redis.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

function create(extra: Parameters<typeof caches.create>[0] = {}) {
  return caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000, ...extra });
}

/** Resolves once `signal` aborts, with its reason. */
function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}

/** An answer from a database: a row or `null`, and the TTL chosen from it (404s briefly, rows for long). */
async function lookup(ctx: FactoryContext, id: number) {
  const row = id === 404 ? null : { id };
  ctx.setTtl(row === null ? 30 : '1h');
  if (row !== null) ctx.setTags([`product:${id}`]);
  return row;
}

describe('getOrSet factory context', () => {
  it('keeps the value type inferred from what the factory returns, with or without the context', async () => {
    const cache = create();
    const row = await cache.getOrSet('row', (ctx) => {
      ctx.setTtl(60);
      return { id: 1 };
    });
    expectTypeOf(row).toEqualTypeOf<{ id: number }>();
    expectTypeOf(await cache.getOrSet('n', (ctx) => ctx.skip(5))).toEqualTypeOf<number>();
    expectTypeOf(await cache.getOrSet('s', () => 'x')).toEqualTypeOf<string>();
    const many = await cache.getOrSetMany(['a'], async (keys, ctx) => {
      ctx.setTtl('1m', keys[0]);
      return new Map(keys.map((key) => [key, key.length]));
    });
    expectTypeOf(many).toEqualTypeOf<Array<number | undefined>>();
    expect([row, many]).toEqual([{ id: 1 }, [1]]);
  });

  it('stores with the TTL and tags the factory chose from what it loaded', async () => {
    const cache = create();
    expect(await cache.getOrSet('p_404', (ctx) => lookup(ctx, 404), { dbType: 'catalog' })).toBeNull();
    expect(
      await cache.getOrSet('p_7', (ctx) => lookup(ctx, 7), { dbType: 'catalog', tags: ['list'] }),
    ).toEqual({ id: 7 });
    expectTtl(redis, 'catalog_p_404', 30);
    expectTtl(redis, 'catalog_p_7', 3600);
    // its own tags and the call's
    expect(redis.cli('SMEMBERS', '__cachette:tag:product:7')).toBe('catalog_p_7');
    expect(redis.cli('SMEMBERS', '__cachette:tag:list')).toBe('catalog_p_7');
    expect(await cache.invalidateTags(['product:7'])).toBe(1);
    expect(redis.cli('EXISTS', 'catalog_p_7', 'catalog_p_404')).toBe('1');
  });

  it('rejects a bad TTL or tag from the factory with a CacheKeyError naming it, and stores nothing', async () => {
    const cache = create();
    await expect(
      cache.getOrSet('k', (ctx) => {
        ctx.setTtl('an hour' as never);
        return 1;
      }),
    ).rejects.toThrow(
      new CacheKeyError(
        `ctx.setTtl ttl must be a number of seconds or a string such as '30s', '5m', '2h', '1d' >= 1, got "an hour"`,
      ),
    );
    await expect(
      cache.getOrSet('k', (ctx) => {
        ctx.setTags(['']);
        return 1;
      }),
    ).rejects.toThrow(CacheKeyError);
    expect(redis.cli('EXISTS', 'default_k')).toBe('0');
  });

  it('skip: every caller gets the value, and neither tier keeps it', async () => {
    const cache = create();
    let calls = 0;
    const factory = async (ctx: FactoryContext) => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return ctx.skip('do not cache me');
    };
    const answers = await Promise.all([1, 2, 3].map(() => cache.getOrSet('volatile', factory)));
    expect(answers).toEqual(['do not cache me', 'do not cache me', 'do not cache me']);
    expect(calls).toBe(1);
    expect(redis.cli('KEYS', '*')).toBe('');
    expect(await cache.get('volatile')).toBeUndefined();
    expect(await cache.getOrSet('volatile', factory)).toBe('do not cache me');
    expect(calls).toBe(2);
  });

  it('stale: the graced value being replaced, undefined on a plain miss', async () => {
    const cache = create({ l1: { enabled: false } });
    const seen: Array<string | undefined> = [];
    const factory = (value: string) => (ctx: FactoryContext) => {
      seen.push(ctx.stale as string | undefined);
      return value;
    };
    expect(await cache.getOrSet('report', factory('v1'), { ttl: 1, grace: 60 })).toBe('v1');
    // fresh while its remaining TTL is above the grace
    await waitFor(() => Number(redis.cli('PTTL', 'default_report')) <= 60_000, 5000, 'the TTL to pass');
    expect(await cache.getOrSet('report', factory('v2'), { ttl: 1, grace: 60 })).toBe('v2');
    expect(seen).toEqual([undefined, 'v1']);
  });

  it('signal: aborted at the hard timeout with FactoryTimeoutError, and at close()', async () => {
    const cache = create();
    let reason: unknown;
    const slow = (ctx: FactoryContext): Promise<string> =>
      aborted(ctx.signal).then((why) => {
        reason = why;
        throw why;
      });
    await expect(cache.getOrSet('slow', slow, { hardTimeoutMs: '100ms' })).rejects.toThrow(
      FactoryTimeoutError,
    );
    await waitFor(() => reason !== undefined, 2000, 'the abort');
    expect(reason).toBeInstanceOf(FactoryTimeoutError);

    let closedWith: unknown;
    let started = false;
    const pending = cache.getOrSet('held', async (ctx) => {
      started = true;
      closedWith = await aborted(ctx.signal);
      return 'after close';
    });
    await waitFor(() => started, 2000, 'the factory');
    await cache.close();
    expect(await pending).toBe('after close');
    expect(closedWith).toBeInstanceOf(DOMException);
    expect((closedWith as DOMException).name).toBe('AbortError');
    // a factory that asks for its signal after close gets an aborted one
    let late: AbortSignal | undefined;
    await cache.getOrSet('late', (ctx) => {
      late = ctx.signal;
      return 1;
    });
    expect(late?.aborted).toBe(true);
  });

  it('keeps the signal quiet for a factory that settles in time', async () => {
    const cache = create();
    let signal: AbortSignal | undefined;
    expect(
      await cache.getOrSet(
        'quick',
        (ctx) => {
          signal = ctx.signal;
          return 'done';
        },
        { hardTimeoutMs: 50 },
      ),
    ).toBe('done');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(signal?.aborted).toBe(false);
  });

  it('forceFresh skips both tiers and stores its result; an older load of the key does not overwrite it', async () => {
    const cache = create({ l1: { ttl: 60 } });
    const other = create({ l1: { ttl: 60 } });
    await cache.set('price', 10);
    expect(await other.get('price')).toBe(10);
    expect(await cache.getOrSet('price', () => 11)).toBe(10);
    // another process's load of the key (it read before the change), still running
    await other.delete('price');
    let release = () => {};
    let started = false;
    const older = other.getOrSet('price', async () => {
      started = true;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return 12;
    });
    await waitFor(() => started, 2000, 'the older load');
    expect(await cache.getOrSet('price', () => 13, { forceFresh: true })).toBe(13);
    expect(redis.cli('GET', 'default_price')).toBe('13');
    expect(await cache.get('price')).toBe(13);
    release();
    // its callers get its result; Redis keeps the forced one, and so does the other process's L1
    expect(await older).toBe(12);
    expect(redis.cli('GET', 'default_price')).toBe('13');
    expect(other.stats().loading.storesSkipped).toBe(1);
    await waitFor(async () => (await other.get('price')) === 13, 5000, 'the other process to read 13');
  });

  it('forceFresh joins no load already running in the process', async () => {
    const cache = create();
    let release = () => {};
    let started = false;
    const older = cache.getOrSet('k', async () => {
      started = true;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return 'older';
    });
    await waitFor(() => started, 2000, 'the older load');
    expect(await cache.getOrSet('k', () => 'forced', { forceFresh: true })).toBe('forced');
    release();
    expect(await older).toBe('older');
    expect(cache.stats().loading.factoryCalls).toBe(2);
    expect(await cache.get('k')).toBe('forced');
  });
});

describe('getOrSetMany factory context', () => {
  it('sets TTLs and tags for the batch or per key, and refuses a key outside the batch', async () => {
    const cache = create();
    const values = await cache.getOrSetMany(['a', 'b', 'gone'], async (keys, ctx: BatchFactoryContext) => {
      ctx.setTtl('10m');
      ctx.setTtl(30, 'gone');
      ctx.setTags(['batch']);
      ctx.setTags(['only-a'], 'a');
      expect(() => ctx.setTtl(5, 'elsewhere')).toThrow(/"elsewhere" is not one of the keys/);
      return new Map(keys.map((key) => [key, key === 'gone' ? null : key]));
    });
    expect(values).toEqual(['a', 'b', null]);
    expectTtl(redis, 'default_a', 600);
    expectTtl(redis, 'default_b', 600);
    expectTtl(redis, 'default_gone', 30);
    expect(redis.cli('SMEMBERS', '__cachette:tag:only-a')).toBe('default_a');
    expect(redis.cli('SCARD', '__cachette:tag:batch')).toBe('3');
  });

  it('skip stores nothing of the batch; stale holds the graced values; signal aborts at the hard timeout', async () => {
    const cache = create({ l1: { enabled: false } });
    expect(
      await cache.getOrSetMany(['x', 'y'], (keys, ctx) => ctx.skip(new Map(keys.map((k) => [k, k])))),
    ).toEqual(['x', 'y']);
    expect(redis.cli('KEYS', '*')).toBe('');

    await cache.getOrSetMany(['x', 'y'], (keys) => new Map(keys.map((k) => [k, `${k}1`])), {
      ttl: 1,
      grace: 60,
    });
    await waitFor(() => Number(redis.cli('PTTL', 'default_y')) <= 60_000, 5000, 'the TTL to pass');
    let stale: ReadonlyMap<string, unknown> | undefined;
    await cache.getOrSetMany(
      ['x', 'y', 'z'],
      (keys, ctx) => {
        stale = ctx.stale;
        return new Map(keys.map((k) => [k, `${k}2`]));
      },
      { ttl: 1, grace: 60 },
    );
    expect(stale).toEqual(
      new Map([
        ['x', 'x1'],
        ['y', 'y1'],
      ]),
    );

    let reason: unknown;
    await expect(
      cache.getOrSetMany(
        ['slow'],
        async (_keys, ctx) => {
          reason = await aborted(ctx.signal);
          throw reason;
        },
        { hardTimeoutMs: 100 },
      ),
    ).rejects.toThrow(FactoryTimeoutError);
    await waitFor(() => reason !== undefined, 2000, 'the abort');
    expect(reason).toBeInstanceOf(FactoryTimeoutError);
  });

  it('forceFresh loads every key again, values in either tier included', async () => {
    const cache = create();
    await cache.setMany([
      { key: 'm', value: 'old' },
      { key: 'n', value: 'old' },
    ]);
    expect(await cache.getOrSetMany(['m', 'n'], () => new Map())).toEqual(['old', 'old']);
    let asked: string[] = [];
    expect(
      await cache.getOrSetMany(
        ['m', 'n'],
        (keys) => {
          asked = keys;
          return new Map(keys.map((k) => [k, 'new']));
        },
        { forceFresh: true },
      ),
    ).toEqual(['new', 'new']);
    expect(asked).toEqual(['m', 'n']);
    expect(redis.cli('MGET', 'default_m', 'default_n')).toBe('"new"\n"new"');
    expect(await cache.getMany(['m', 'n'])).toEqual(['new', 'new']);
  });
});
