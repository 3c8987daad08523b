import { tracingChannel } from 'node:diagnostics_channel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheError } from '../src/errors.js';
import { CHANNEL_NAMES } from '../src/tracing/channels.js';
import { cacheFactory, redisPerFile } from './support/cache.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

/** Arguments a hostile or careless caller may pass: anything, and near misses of the right shapes. */
const hostile = fc.oneof(
  fc.anything(),
  fc.string(),
  fc.constantFrom(
    '',
    '[z-a]*',
    '*a*a*a*a*a*a*a*a*a*a*a*a*a*Z',
    '\u0000',
    'x'.repeat(2000),
    '__proto__',
    'constructor',
  ),
  fc.array(fc.oneof(fc.string(), fc.anything()), { maxLength: 5 }),
  fc.record(
    {
      dbType: fc.oneof(fc.string(), fc.anything()),
      ttl: fc.anything(),
      tags: fc.anything(),
      lock: fc.anything(),
      grace: fc.anything(),
      softTimeoutMs: fc.anything(),
      hardTimeoutMs: fc.anything(),
      refreshAhead: fc.anything(),
      pattern: fc.anything(),
      cursor: fc.anything(),
      limit: fc.anything(),
      scope: fc.constantFrom('app', 'database', 'all', undefined),
      reason: fc.anything(),
    },
    { requiredKeys: [] },
  ),
);

/** Every public call, with its arguments taken from `args`. */
const CALLS: Record<string, (cache: ReturnType<typeof caches.create>, a: unknown[]) => unknown> = {
  get: (c, [k, o]) => c.get(k as string, o as never),
  set: (c, [k, v, o]) => c.set(k as string, v, o as never),
  delete: (c, [k, o]) => c.delete(k as string, o as never),
  deletePattern: (c, [p, o]) => c.deletePattern(p as string, o as never),
  deleteMany: (c, [k, o]) => c.deleteMany(k as string[], o as never),
  getMany: (c, [k, o]) => c.getMany(k as string[], o as never),
  setMany: (c, [e, o]) => c.setMany(e as never, o as never),
  getOrSet: (c, [k, f, o]) => c.getOrSet(k as string, f as never, o as never),
  getOrSetMany: (c, [k, f, o]) => c.getOrSetMany(k as string[], f as never, o as never),
  claim: (c, [n, t]) => c.claim(n as string, t as number),
  invalidateTags: (c, [t, o]) => c.invalidateTags(t as string[], o as never),
  flushAll: (c, [o]) => c.flushAll(o as never),
  keys: (c, [o]) => c.keys(o as never),
  countKeys: (c, [o]) => c.countKeys(o as never),
  db: (c, [d]) => c.db(d as never),
  ready: (c, [t]) => c.ready(t as number),
  invalidate: (c, [k, d, r]) => c.invalidation.invalidate(k as string, d as never, r as string),
  invalidatePattern: (c, [p, d, r]) => c.invalidation.invalidatePattern(p as string, d as never, r as string),
  invalidateDomain: (c, [d, r]) => c.invalidation.invalidateDomain(d as never, r as string),
  invalidateGroup: (c, [g, r]) => c.invalidation.invalidateGroup(g as never, r as string),
  invalidator: (c, [g]) => c.invalidator(g as never),
};

/** Calls random public methods with random arguments; each must resolve or fail with a `CacheError`. */
async function onlyCachetteErrors(numRuns: number): Promise<void> {
  const cache = caches.create({ redisUrl: redis.url, connectTimeoutMs: 500, operationTimeoutMs: 1000 });
  await cache.ready();
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...Object.keys(CALLS)),
      fc.array(hostile, { minLength: 0, maxLength: 3 }),
      async (name, args) => {
        try {
          await CALLS[name]!(cache, args);
        } catch (err) {
          expect(err, `${name}(${fc.stringify(args)})`).toBeInstanceOf(CacheError);
        }
      },
    ),
    { numRuns },
  );
}

describe('the public API under hostile arguments', () => {
  it('throws or rejects with cachette errors only, whatever it is given', async () => {
    await onlyCachetteErrors(2000);
  }, 120_000);

  it('does so too while every tracing channel has a subscriber (the traced paths)', async () => {
    const channels = Object.values(CHANNEL_NAMES).map((name) => tracingChannel(name));
    const listener = () => {};
    for (const channel of channels) channel.asyncEnd.subscribe(listener);
    try {
      await onlyCachetteErrors(500);
    } finally {
      for (const channel of channels) channel.asyncEnd.unsubscribe(listener);
    }
  }, 120_000);
});
