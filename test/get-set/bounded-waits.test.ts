import { describe, expect, it } from 'vitest';
import { cacheFactory, redisPerFile } from '../support/cache.js';
import { captureLogger } from '../support/logs.js';
import { waitFor } from '../support/redis.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

/** A factory that settles only when the test says so. */
function controlled<T>() {
  let settle: (value: T) => void = () => {};
  let calls = 0;
  const factory = () => {
    calls++;
    return new Promise<T>((resolve) => {
      settle = resolve;
    });
  };
  return { factory, settle: (value: T) => settle(value), calls: () => calls };
}

const never = () => new Promise<never>(() => {});
/** The lease outlives the test: only the bound on waiting can free the callers. */
const LOCK = { leaseMs: 60_000, waitMs: 150 };

describe('waits on another caller are bounded by lock.waitMs', () => {
  it('a second getOrSet of a key whose factory never settles runs its own factory after lock.waitMs', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    const stuck = cache.getOrSet('k', never, { lock: LOCK });
    stuck.catch(() => {});
    expect(await cache.getOrSet('k', () => 'second', { lock: LOCK })).toBe('second');
    // the holder of the lease stores, not a caller that gave up on it
    expect(redis.cli('EXISTS', 'default_k')).toBe('0');
    // once the stuck load is older than waitMs, a new caller loads on its own instead of joining it
    expect(await cache.getOrSet('k', () => 'third', { lock: LOCK })).toBe('third');
    expect(cache.stats().loading).toMatchObject({ factoryCalls: 3, waitTimeouts: 2 });
  });

  it('each joiner waits its own lock.waitMs from when it joined, not until an earlier joiner gives up', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    const stuck = cache.getOrSet('k', never, { lock: LOCK });
    stuck.catch(() => {});
    const calledAt: Record<string, number> = {};
    const own = (name: string) => () => {
      calledAt[name] = performance.now();
      return name;
    };
    const earlyJoinedAt = performance.now();
    const early = cache.getOrSet('k', own('early'), { lock: LOCK });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lateJoinedAt = performance.now();
    const late = cache.getOrSet('k', own('late'), { lock: LOCK });
    expect(await Promise.all([early, late])).toEqual(['early', 'late']);
    // Node's timers count from the event loop's clock, read (in whole ms) when the loop's current
    // turn began: a timer set late in a busy turn fires that much before performance.now() says its
    // delay passed (0.4 ms seen in CI). 10 ms of slack keeps the check far from the 100 ms it tells apart.
    const timerSlackMs = 10;
    expect(calledAt.early!).toBeGreaterThanOrEqual(earlyJoinedAt + LOCK.waitMs - timerSlackMs);
    // the late joiner's wait is not cut short to the early joiner's deadline (100 ms sooner)
    expect(calledAt.late!).toBeGreaterThanOrEqual(lateJoinedAt + LOCK.waitMs - timerSlackMs);
    expect(cache.stats().loading).toMatchObject({ factoryCalls: 3, waitTimeouts: 2 });
  });

  it('a joiner still gets the first caller’s value when it comes within lock.waitMs', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    const first = controlled<string>();
    const starting = cache.getOrSet('k', first.factory, { lock: { waitMs: 60_000 } });
    const joining = cache.getOrSet('k', () => 'not called', { lock: { waitMs: 60_000 } });
    await waitFor(() => first.calls() === 1, 5000, 'the first factory to run');
    first.settle('first');
    expect(await Promise.all([starting, joining])).toEqual(['first', 'first']);
    expect(cache.stats().loading).toMatchObject({ factoryCalls: 1, waitTimeouts: 0 });
  });

  it('a joiner whose own factory fails gets the stale value when there is one', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    // past its TTL, within its grace: stale
    redis.cli('SET', 'default_k', '{"__cachette":1,"ttl":60,"grace":300,"value":"old"}', 'EX', '100');
    const stuck = cache.getOrSet('k', never, { lock: LOCK, grace: 300 });
    stuck.catch(() => {});
    const failing = () => Promise.reject(new Error('database down'));
    expect(await cache.getOrSet('k', failing, { lock: LOCK, grace: 300 })).toBe('old');
    expect(cache.stats().loading).toMatchObject({ factoryErrors: 1, staleServed: 1, waitTimeouts: 1 });
  });

  it('getOrSetMany gives up on a key another caller is stuck loading and asks its batch factory for it alone', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    const stuck = cache.getOrSet('a', never, { lock: LOCK });
    stuck.catch(() => {});
    const asked: string[][] = [];
    const values = await cache.getOrSetMany(
      ['a', 'b'],
      async (keys) => {
        asked.push(keys);
        return new Map(keys.map((key) => [key, key.toUpperCase()]));
      },
      { lock: LOCK },
    );
    expect(values).toEqual(['A', 'B']);
    expect(asked).toEqual([['b'], ['a']]);
  });
});

describe('close() with factories pending', () => {
  it('resolves at once, and a factory settling afterwards is returned to its caller but not stored', async () => {
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: redis.url, logger });
    const slow = controlled<string>();
    const loading = cache.getOrSet('k', slow.factory);
    const stuck = cache.getOrSet('other', never);
    stuck.catch(() => {});
    await waitFor(() => slow.calls() === 1, 5000, 'the factory to run');
    await cache.close();
    slow.settle('late');
    expect(await loading).toBe('late');
    expect(redis.cli('EXISTS', 'default_k')).toBe('0');
    expect(logger.lines.filter((line) => line.level === 'warn')).toEqual([]);
  });
});
