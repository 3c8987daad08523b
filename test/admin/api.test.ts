import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { CacheWarmingService } from '../../src/warming/warming.js';
import { cacheFactory } from '../support/cache.js';
import { type Adapter, type AdminServer, adminServer } from '../support/http.js';
import { captureLogger } from '../support/logs.js';
import { startRedis, type TestRedis, waitFor } from '../support/redis.js';

const TOKEN = 'k3y-for-the-admin-tests';
const BEARER = { authorization: `Bearer ${TOKEN}` };

let redis: TestRedis;
const caches = cacheFactory();
const servers: AdminServer[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  await caches.closeAll();
  redis.cli('FLUSHALL');
});
afterAll(async () => {
  await redis.stop();
});

/** Fills Redis through redis-cli in one pipe-free call per 500 keys. */
function seed(prefix: string, count: number, ttl = 3600): void {
  for (let start = 0; start < count; start += 500) {
    const args: string[] = [];
    for (let i = start; i < Math.min(count, start + 500); i++) args.push(`${prefix}${i}`, String(i));
    redis.cli('MSET', ...args);
  }
  if (ttl > 0)
    redis.cli(
      'EVAL',
      `for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('EXPIRE', k, ${ttl}) end`,
      '0',
      `${prefix}*`,
    );
}

describe.each<Adapter>(['fastify', 'express'])('admin API over %s', (adapter) => {
  async function mount(options: Record<string, unknown> = {}, url = redis.url) {
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: url, operationTimeoutMs: 2000 });
    await cache.ready();
    const server = await adminServer(adapter, { cache, logger, adminToken: TOKEN, ...options });
    servers.push(server);
    return { cache, server, logger };
  }

  it('GET /stats reports tiers, domains, bounds, and Redis facts with the admin token', async () => {
    const { cache, server } = await mount();
    await cache.set('products_count', 1500, { dbType: 'catalog' });
    await cache.get('products_count', { dbType: 'catalog' }); // L1 hit
    await cache.get('absent', { dbType: 'catalog' }); // miss
    redis.cli('SET', 'catalog_from_python', '1');
    redis.cli('SET', 'unrelated_key', '1');
    const { status, body } = await server.request('GET', '/api/v1/cache/stats', { headers: BEARER });
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    const l1 = body.l1 as Record<string, number>;
    expect(l1).toMatchObject({
      entries: 1,
      maxEntries: 10_000,
      maxBytes: 64 * 1024 * 1024,
      hits: 1,
      misses: 1,
    });
    expect(l1.bytes).toBeGreaterThan(0);
    const l2 = body.l2 as Record<string, unknown>;
    expect(l2).toMatchObject({ connected: true, state: 'ready', hits: 0, misses: 1, errors: 0 });
    const info = l2.redis as Record<string, unknown>;
    expect(info.version).toMatch(/^\d+\.\d+/);
    expect(info.usedMemoryBytes).toBeGreaterThan(0);
    expect(info.keys).toBe(3);
    expect(info.keyspaceMisses).toBeGreaterThanOrEqual(1);
    expect(l2.keys).toMatchObject({ exact: true, total: 3, other: 1 });
    const catalog = (body.domains as Record<string, Record<string, unknown>>).catalog!;
    expect(catalog).toMatchObject({ prefix: 'catalog_', ttl: 7200, keys: 2, hitRate: 0.5 });
    expect(catalog.l1).toEqual({ hits: 1, misses: 1, hitRate: 0.5 });
  });

  it('GET /stats shows the breaker, coherence, the deletes owed to Redis and, when given, the warming service', async () => {
    const probe = caches.create({ redisUrl: redis.url, operationTimeoutMs: 2000 });
    const warming = new CacheWarmingService(probe, { logger: silentLogger });
    warming.registerTask('dashboard_stats', () => undefined, true);
    await warming.warmCriticalCaches();
    const { server } = await mount({ warming });
    const { body } = await server.request('GET', '/api/v1/cache/stats');
    expect(body.breaker).toEqual({ state: 'closed', opens: 0 });
    expect(body.coherence).toMatchObject({ mode: 'tracking', degradedL1TtlMs: 1000, l1Flushes: 0 });
    expect(body.pending).toEqual({ entries: 0, maxEntries: 10_000, applied: 0, widened: 0, dropped: 0 });
    const shown = body.warming as Record<string, unknown>;
    expect(shown.warmingInProgress).toBe(false);
    expect((shown.tasks as Record<string, Record<string, unknown>>).dashboard_stats).toMatchObject({
      critical: true,
      executionCount: 1,
      successCount: 1,
    });
    const { body: without } = await (await mount()).server.request('GET', '/api/v1/cache/stats');
    expect(without).not.toHaveProperty('warming');
    await warming.close();
  });

  it('GET /stats reuses the key count for keyCountTtlMs, then counts again', async () => {
    const mediaKeys = (answer: { body: Record<string, unknown> }) =>
      (answer.body.domains as Record<string, { keys: number }>).media!.keys;
    redis.cli('SET', 'media_a', '1');
    const { server: slow } = await mount({ keyCountTtlMs: 60_000 });
    const { server: quick } = await mount({ keyCountTtlMs: 50 });
    expect(mediaKeys(await slow.request('GET', '/api/v1/cache/stats'))).toBe(1);
    expect(mediaKeys(await quick.request('GET', '/api/v1/cache/stats'))).toBe(1);
    redis.cli('SET', 'media_b', '1');
    expect(mediaKeys(await slow.request('GET', '/api/v1/cache/stats'))).toBe(1);
    await waitFor(
      async () => mediaKeys(await quick.request('GET', '/api/v1/cache/stats')) === 2,
      10_000,
      'a fresh key count',
    );
  });

  it('answers 403 on /keys and /clear when no admin token is configured, saying how to enable them', async () => {
    const { server } = await mount({ adminToken: undefined, env: {} });
    const saved = process.env.CACHE_ADMIN_TOKEN;
    delete process.env.CACHE_ADMIN_TOKEN;
    try {
      const keys = await server.request('GET', '/api/v1/cache/keys?dbType=catalog', { headers: BEARER });
      expect(keys.status).toBe(403);
      expect(keys.body.message).toContain('CACHE_ADMIN_TOKEN');
      const clear = await server.request('POST', '/api/v1/cache/clear', { json: { dbType: 'catalog' } });
      expect(clear.status).toBe(403);
      expect((await server.request('GET', '/api/v1/cache/stats')).status).toBe(200);
    } finally {
      if (saved !== undefined) process.env.CACHE_ADMIN_TOKEN = saved;
    }
  });

  it('answers 401 to a missing or wrong token and 200 to the right one', async () => {
    const { server } = await mount();
    const missing = await server.request('GET', '/api/v1/cache/keys?dbType=catalog');
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toContain('Bearer');
    const wrong = await server.request('GET', '/api/v1/cache/keys?dbType=catalog', {
      headers: { authorization: `Bearer ${TOKEN}x` },
    });
    expect(wrong.status).toBe(401);
    const otherScheme = await server.request('POST', '/api/v1/cache/clear', {
      headers: { authorization: `Basic ${TOKEN}` },
      json: { dbType: 'catalog' },
    });
    expect(otherScheme.status).toBe(401);
    const right = await server.request('GET', '/api/v1/cache/keys?dbType=catalog', {
      headers: { authorization: `bearer ${TOKEN}` },
    });
    expect(right.status).toBe(200);
    expect(right.body).toEqual({ dbType: 'catalog', keys: [], cursor: null });
  });

  it('pages through a few thousand keys of one domain, names and TTLs only, each key once', async () => {
    const { server } = await mount();
    seed('catalog_products_', 3000);
    seed('media_products_', 200);
    redis.cli('SET', 'catalog_forever', '{"secret":"value"}');
    const seen = new Map<string, unknown>();
    let cursor: string | null = '';
    let pages = 0;
    do {
      const answer = await server.request(
        'GET',
        `/api/v1/cache/keys?dbType=catalog&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
        { headers: BEARER },
      );
      expect(answer.status).toBe(200);
      const keys = answer.body.keys as Array<{ key: string; redisKey: string; ttl: number | null }>;
      expect(keys.length).toBeLessThanOrEqual(500);
      for (const entry of keys) {
        expect(seen.has(entry.key)).toBe(false);
        expect(entry.redisKey).toBe(`catalog_${entry.key}`);
        expect(Object.keys(entry).sort()).toEqual(['key', 'redisKey', 'ttl']);
        seen.set(entry.key, entry.ttl);
      }
      cursor = answer.body.cursor as string | null;
      pages++;
    } while (cursor !== null && pages < 100);
    expect(seen.size).toBe(3001);
    expect(pages).toBeGreaterThanOrEqual(7);
    expect(seen.get('forever')).toBeNull();
    expect(seen.get('products_42')).toBeGreaterThan(3500);
    expect(seen.get('products_42')).toBeLessThanOrEqual(3600);
  });

  it('confines the pattern to the domain and caps the limit at 1000', async () => {
    const { server } = await mount();
    seed('catalog_p', 1500, 0);
    redis.cli('SET', 'media_p1', '1');
    redis.cli('SET', 'catalog_*weird', '1');
    const capped = await server.request('GET', '/api/v1/cache/keys?dbType=catalog&limit=5000', {
      headers: BEARER,
    });
    expect(capped.status).toBe(200);
    expect((capped.body.keys as unknown[]).length).toBeLessThanOrEqual(1000);
    expect((capped.body.keys as unknown[]).length).toBeGreaterThan(0);
    const narrow = await server.request(
      'GET',
      `/api/v1/cache/keys?dbType=catalog&pattern=${encodeURIComponent('p1?')}`,
      {
        headers: BEARER,
      },
    );
    const names = (narrow.body.keys as Array<{ key: string }>).map((k) => k.key).sort();
    expect(names).toEqual(['p10', 'p11', 'p12', 'p13', 'p14', 'p15', 'p16', 'p17', 'p18', 'p19']);
    // the prefix's glob characters are escaped: '*' here is the domain's own text, not a wildcard
    const escaped = await server.request(
      'GET',
      `/api/v1/cache/keys?dbType=catalog&pattern=${encodeURIComponent('\\*w*')}`,
      {
        headers: BEARER,
      },
    );
    expect((escaped.body.keys as Array<{ key: string }>).map((k) => k.key)).toEqual(['*weird']);
  });

  it.each([
    ['', 'dbType'],
    ['dbType=nope', 'dbType'],
    ['dbType=catalog&limit=abc', 'limit'],
    ['dbType=catalog&limit=0', 'limit'],
    ['dbType=catalog&cursor=not-a-cursor', 'cursor'],
  ])('answers 400 naming the field for GET /keys?%s', async (query, field) => {
    const { server } = await mount();
    const answer = await server.request('GET', `/api/v1/cache/keys?${query}`, { headers: BEARER });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'bad_request', field });
  });

  it('clears one key, a pattern or a whole domain, answers what was removed and logs who and how many', async () => {
    const { cache, server, logger } = await mount();
    seed('catalog_products_', 30);
    seed('catalog_brands_', 5);
    seed('media_products_', 10);
    await cache.set('dashboard', { n: 1 }, { dbType: 'analytics' });
    expect(await cache.get('dashboard', { dbType: 'analytics' })).toEqual({ n: 1 });

    const one = await server.request('POST', '/api/v1/cache/clear', {
      headers: BEARER,
      json: { dbType: 'analytics', key: 'dashboard' },
    });
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ scope: 'key', dbType: 'analytics', key: 'dashboard', removed: null });
    expect(await cache.get('dashboard', { dbType: 'analytics' })).toBeUndefined();

    const pattern = await server.request('POST', '/api/v1/cache/clear', {
      headers: BEARER,
      json: { dbType: 'catalog', pattern: 'products_*' },
    });
    expect(pattern.body).toEqual({ scope: 'pattern', dbType: 'catalog', pattern: 'products_*', removed: 30 });
    expect(redis.cli('DBSIZE')).toBe('15');

    const domain = await server.request('POST', '/api/v1/cache/clear', {
      headers: BEARER,
      json: { dbType: 'catalog' },
    });
    expect(domain.body).toEqual({ scope: 'domain', dbType: 'catalog', removed: 5 });
    expect(redis.cli('DBSIZE')).toBe('10');

    const logged = logger.lines.filter((line) => line.msg === 'cachette: cache cleared');
    expect(logged.map((line) => line.fields)).toEqual([
      expect.objectContaining({ who: 'admin-token', scope: 'key', key: 'dashboard', removed: null }),
      expect.objectContaining({ who: 'admin-token', scope: 'pattern', pattern: 'products_*', removed: 30 }),
      expect.objectContaining({ who: 'admin-token', scope: 'domain', dbType: 'catalog', removed: 5 }),
    ]);
    expect(logged[0]!.fields.ip).toBeTruthy();
  });

  it('clears by tags across domains and everything of the app with { all: true }, logging who and how many', async () => {
    const { cache, server, logger } = await mount();
    await cache.set('products_42', 42, { dbType: 'catalog', tags: ['product:42'] });
    await cache.set('cover_42', 'c', { dbType: 'media', tags: ['product:42', 'dashboard'] });
    await cache.set('products_7', 7, { dbType: 'catalog', tags: ['product:7'] });
    redis.cli('SET', 'sessions_1', 'another app');

    const tags = await server.request('POST', '/api/v1/cache/clear', {
      headers: BEARER,
      json: { tags: ['product:42', 'dashboard'] },
    });
    expect(tags.status).toBe(200);
    expect(tags.body).toEqual({ scope: 'tags', tags: ['product:42', 'dashboard'], removed: 2 });
    expect(await cache.get('cover_42', { dbType: 'media' })).toBeUndefined();
    expect(await cache.get('products_7', { dbType: 'catalog' })).toBe(7);

    const all = await server.request('POST', '/api/v1/cache/clear', { headers: BEARER, json: { all: true } });
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ scope: 'all', removed: 1 });
    expect(redis.cli('KEYS', '*')).toBe('sessions_1');

    const logged = logger.lines.filter((line) => line.msg === 'cachette: cache cleared');
    expect(logged.map((line) => line.fields)).toEqual([
      expect.objectContaining({
        who: 'admin-token',
        scope: 'tags',
        tags: ['product:42', 'dashboard'],
        removed: 2,
      }),
      expect.objectContaining({ who: 'admin-token', scope: 'all', removed: 1 }),
    ]);
  });

  it.each<[string, { json?: unknown; raw?: string; headers?: Record<string, string> }, string]>([
    ['no body', {}, 'body'],
    ['an empty object', { json: {} }, 'body'],
    ['malformed JSON', { raw: '{"dbType":', headers: { 'content-type': 'application/json' } }, 'body'],
    ['an array', { json: ['catalog'] }, 'body'],
    ['a misspelt field', { json: { dbType: 'catalog', patern: 'x*' } }, 'patern'],
    ['key and pattern together', { json: { dbType: 'catalog', key: 'a', pattern: 'b*' } }, 'pattern'],
    ['an unknown dbType', { json: { dbType: 'nope' } }, 'dbType'],
    ['a key without dbType', { json: { key: 'products_1' } }, 'dbType'],
    ['a key that is not text', { json: { dbType: 'catalog', key: { a: 1 } } }, 'key'],
    ['an empty tag list', { json: { tags: [] } }, 'tags'],
    ['tags that are not a list', { json: { tags: 'dashboard' } }, 'tags'],
    ['an empty tag', { json: { tags: [''] } }, 'tags'],
    ['tags with a dbType', { json: { tags: ['x'], dbType: 'catalog' } }, 'dbType'],
    ['all: false', { json: { all: false } }, 'all'],
    ['all with a dbType', { json: { all: true, dbType: 'catalog' } }, 'all'],
  ])('answers 400 to POST /clear with %s and removes nothing', async (_name, send, field) => {
    const { server } = await mount();
    seed('catalog_x', 3);
    const answer = await server.request('POST', '/api/v1/cache/clear', {
      ...send,
      headers: { ...BEARER, ...send.headers },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'bad_request', field });
    expect(redis.cli('DBSIZE')).toBe('3');
  });

  it('lets an authorize hook decide with the framework request, and logs who it names', async () => {
    const seen: string[] = [];
    const { server, logger } = await mount({
      authorize: (request: { headers: Record<string, unknown> }, action: string) => {
        seen.push(action);
        if (request.headers['x-role'] === 'ops') return { allow: true, who: 'ops-user' };
        return action === 'read-stats' ? { allow: false, status: 401, message: 'log in first' } : false;
      },
    });
    expect((await server.request('GET', '/api/v1/cache/stats')).status).toBe(401);
    const denied = await server.request('GET', '/api/v1/cache/keys?dbType=catalog', { headers: BEARER });
    expect(denied.status).toBe(403);
    const allowed = await server.request('POST', '/api/v1/cache/clear', {
      headers: { 'x-role': 'ops' },
      json: { dbType: 'media' },
    });
    expect(allowed.status).toBe(200);
    expect(seen).toEqual(['read-stats', 'read-keys', 'clear']);
    expect(logger.lines.find((line) => line.msg === 'cachette: cache cleared')?.fields.who).toBe('ops-user');
  });

  it('mounts under another prefix when asked', async () => {
    const { server } = await mount({ prefix: '/ops/cache' });
    expect((await server.request('GET', '/ops/cache/stats')).status).toBe(200);
    expect((await server.request('GET', '/api/v1/cache/stats', { expectJson: false })).status).toBe(404);
  });

  it('answers 200 degraded for stats and 503 for keys and clear while Redis is down', async () => {
    const own = await startRedis();
    try {
      const { cache, server } = await mount({}, own.url);
      await own.kill();
      await waitFor(() => cache.status().l2.state !== 'ready', 5000, 'the cache to see Redis gone');
      const stats = await server.request('GET', '/api/v1/cache/stats', { headers: BEARER });
      expect(stats.status).toBe(200);
      expect(stats.body.status).toBe('degraded');
      expect(stats.body.l2).toMatchObject({ connected: false, redis: null, keys: null });
      const keys = await server.request('GET', '/api/v1/cache/keys?dbType=catalog', { headers: BEARER });
      expect(keys.status).toBe(503);
      expect(keys.body.error).toBe('redis_unavailable');
      const clear = await server.request('POST', '/api/v1/cache/clear', {
        headers: BEARER,
        json: { dbType: 'catalog' },
      });
      expect(clear.status).toBe(503);
      // bad input is still a 400, not a 503
      const bad = await server.request('POST', '/api/v1/cache/clear', { headers: BEARER, json: {} });
      expect(bad.status).toBe(400);
    } finally {
      await own.stop();
    }
  });
});
