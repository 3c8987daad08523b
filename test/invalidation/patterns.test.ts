import { describe, expect, it } from 'vitest';
import { CacheKeyError } from '../../src/errors.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

/** Keys whose names hold every glob character. */
const KEYS = [
  'a',
  'b',
  'x',
  'y',
  'ax',
  'ay',
  ']',
  ']a',
  '^',
  '^x',
  '-',
  '[y',
  'za',
  'é',
  'a]b',
  'a\\b',
  '*',
  '?',
  'z-a',
  'yy',
];

/** Patterns on which L1 and Redis disagreed, and ranges Redis accepts backwards. */
const PATTERNS = [
  '[',
  '[a',
  '[a-]',
  '[]a]',
  '*[y',
  '[^ax^',
  '[^',
  '[a-',
  '[z-a]*',
  '[\\]]*',
  '*\\*',
  '[y-]*',
];

describe('deletePattern with hostile patterns', () => {
  it('evicts from L1 exactly the keys Redis removes, whatever the pattern (coherence off)', async () => {
    const cache = caches.create({ redisUrl: redis.url, coherence: 'none', l1: { ttl: 600 } });
    for (const pattern of PATTERNS) {
      await cache.setMany(KEYS.map((key) => ({ key, value: key })));
      expect(await cache.deletePattern(pattern)).not.toBe(false);
      const left = new Set(redis.cli('KEYS', 'default_*').split('\n'));
      for (const key of KEYS) {
        const inRedis = left.has(`default_${key}`);
        // a key left in L1 answers get() from memory even once Redis has lost it
        const answered = (await cache.get(key)) !== undefined;
        expect(answered, `${pattern} on ${key}: in Redis ${inRedis}`).toBe(inRedis);
      }
    }
  });

  it('takes ranges given backwards as Redis does instead of throwing a SyntaxError', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.setMany(['a1', 'm2', 'z3', 'A4'].map((key) => ({ key, value: 1 })));
    expect(await cache.deletePattern('[z-a]*')).toBe(3);
    expect(await cache.get('A4')).toBe(1);
    expect(await cache.get('m2')).toBeUndefined();
  });

  it('returns at once on a 13-star pattern over 5 000 L1 keys, and the worker keeps answering', async () => {
    const cache = caches.create({ redisUrl: redis.url, coherence: 'none', l1: { ttl: 600 } });
    const entries = Array.from({ length: 5000 }, (_, i) => ({ key: `${'a'.repeat(30)}_${i}`, value: i }));
    for (let i = 0; i < entries.length; i += 1000) {
      const batch = entries.slice(i, i + 1000);
      await cache.setMany(batch);
    }
    expect(cache.status().l1.entries).toBe(5000);
    expect(await cache.deletePattern(`${'*a'.repeat(13)}*Z`)).toBe(0);
    expect(cache.status().l1.entries).toBe(5000);
    expect(await cache.deletePattern(`${'*a'.repeat(13)}*_1*`)).toBe(1111);
    expect(cache.status().l1.entries).toBe(5000 - 1111);
  });

  it('still refuses an empty pattern or control characters with CacheKeyError', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await expect(cache.deletePattern('')).rejects.toThrow(CacheKeyError);
    await expect(cache.deletePattern('a\nb')).rejects.toThrow(CacheKeyError);
  });
});
