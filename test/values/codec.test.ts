import { describe, expect, it } from 'vitest';
import { L1 } from '../../src/l1/l1.js';
import { silentLogger } from '../../src/logger.js';
import { Codec } from '../../src/values/codec.js';
import { jsonSerializer } from '../../src/values/serializer.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';
import { captureLogger } from '../support/logs.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

/** Counters of a domain as `stats()` reports them. */
function counters() {
  return { l1Hits: 0, l2Hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0, refused: 0, skipped: 0 };
}

/** Warnings about an unreadable value, by operation. */
function unreadableWarnings(lines: Array<{ level: string; msg: string }>, operation: string) {
  return lines.filter(
    (line) =>
      line.level === 'warn' && line.msg.includes(`${operation} failed: the value in Redis cannot be read`),
  );
}

describe('Codec.decode: one answer to a value the serializer cannot read', () => {
  it('answers a miss, counts an error and evicts the key from L1', () => {
    const l1 = new L1(
      { enabled: true, ttl: 60, maxEntries: 10, maxBytes: 1 << 20, clone: false },
      JSON.parse,
    );
    const codec = new Codec(jsonSerializer, 1 << 20, silentLogger, l1);
    l1.fill('default_k', '"cached"', 60_000, l1.ticket('default_k'));
    expect(l1.get('default_k')).toBe('cached');
    const domain = counters();
    const read = codec.decode(
      'get',
      'default_k',
      { text: '{not json', pttlMs: 60_000 },
      l1.ticket('x'),
      domain,
    );
    expect(read).toEqual({ kind: 'miss' });
    expect(domain.errors).toBe(1);
    expect(l1.get('default_k')).toBeUndefined();
  });

  it('fills L1 with a fresh value only while the key is unchanged since the ticket', () => {
    const l1 = new L1(
      { enabled: true, ttl: 60, maxEntries: 10, maxBytes: 1 << 20, clone: false },
      JSON.parse,
    );
    const codec = new Codec(jsonSerializer, 1 << 20, silentLogger, l1);
    const ticket = l1.ticket('default_k');
    l1.evict('default_k');
    expect(codec.decode('get', 'default_k', { text: '1', pttlMs: 60_000 }, ticket, counters())).toMatchObject(
      {
        kind: 'fresh',
        value: 1,
      },
    );
    expect(l1.get('default_k')).toBeUndefined();
    codec.decode('get', 'default_k', { text: '2', pttlMs: 60_000 }, l1.ticket('default_k'), counters());
    expect(l1.get('default_k')).toBe(2);
  });
});

describe('an unreadable value in Redis, on every read path', () => {
  const paths = {
    get: (cache: ReturnType<typeof caches.create>) => cache.get('bad'),
    getMany: async (cache: ReturnType<typeof caches.create>) => (await cache.getMany(['bad']))[0],
    getOrSet: (cache: ReturnType<typeof caches.create>) => cache.getOrSet('bad', () => 'loaded'),
    getOrSetMany: async (cache: ReturnType<typeof caches.create>) =>
      (await cache.getOrSetMany(['bad'], (keys: string[]) => new Map(keys.map((key) => [key, 'loaded']))))[0],
  } as const;

  it.each(Object.keys(paths) as Array<keyof typeof paths>)(
    '%s answers it as a miss, counts it as an error, and warns once per key and interval',
    async (operation) => {
      const logger = captureLogger();
      // without L1 every call reads Redis again
      const cache = caches.create({ redisUrl: redis.url, logger, l1: { enabled: false } });
      const loads = operation.startsWith('getOrSet');
      for (let round = 0; round < 2; round++) {
        redis.cli('SET', 'default_bad', '{not json', 'EX', '60');
        expect(await paths[operation](cache)).toBe(loads ? 'loaded' : undefined);
        // the factory's value replaced the unreadable one
        if (loads) expect(redis.cli('GET', 'default_bad')).toBe('"loaded"');
      }
      const { errors, misses } = cache.stats().total;
      expect(misses).toBe(2);
      // a getOrSet reads the key again when it takes the lease: it may meet the unreadable value twice
      expect(errors).toBeGreaterThanOrEqual(2);
      expect(errors).toBeLessThanOrEqual(loads ? 4 : 2);
      expect(unreadableWarnings(logger.lines, operation).length).toBe(1);
    },
  );
});
