import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cacheFactory } from '../../support/cache.js';
import { captureLogger } from '../../support/logs.js';
import { startRedis, type TestRedis, waitFor } from '../../support/redis.js';

const caches = cacheFactory();
let redis: TestRedis;
const password = 'p@ss:w/rd #1';

/**
 * An ACL rule exactly as docs/topologies.md documents it (`ACL SETUSER <name> …`), so the
 * documentation cannot drift from what is tested: `cachette`, the rule of the built-in domains, or
 * `reports`, the rule of an application with a key prefix.
 */
function documentedRule(name = 'cachette'): string[] {
  const page = readFileSync(new URL('../../../docs/topologies.md', import.meta.url), 'utf8');
  const line = page.split('\n').find((l) => l.startsWith(`ACL SETUSER ${name} `));
  if (!line) throw new Error(`docs/topologies.md has no \`ACL SETUSER ${name} …\` line`);
  return line.split(/\s+/).slice(3);
}

/** Creates `user` with the documented rule, its password replaced, then applies `changes`. */
function createUser(user: string, ...changes: string[]): void {
  createUserWith('cachette', user, ...changes);
}

function createUserWith(ruleName: string, user: string, ...changes: string[]): void {
  const rule = documentedRule(ruleName).map((part) => (part === '>CHANGE-ME' ? `>${password}` : part));
  expect(redis.cli('ACL', 'SETUSER', user, ...rule, ...changes)).toBe('OK');
}

function urlFor(user: string, db = 0): string {
  return `redis://${user}:${encodeURIComponent(password)}@127.0.0.1:${redis.port}/${db}`;
}

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());
afterEach(() => caches.closeAll());

describe('ACL users (redis://user:password@…)', () => {
  it('does every core operation as a user holding only the documented rule', async () => {
    createUser('cachette');
    const cache = caches.create({ redisUrl: urlFor('cachette'), operationTimeoutMs: 2000 });
    expect(await cache.set('products_count', 1500, { dbType: 'catalog' })).toBe(true);
    expect(await cache.get('products_count', { dbType: 'catalog' })).toBe(1500);
    const media = cache.db('media');
    expect(
      await media.setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
      ]),
    ).toBe(true);
    const fresh = caches.create({ redisUrl: urlFor('cachette'), operationTimeoutMs: 2000 });
    expect(await fresh.getMany(['a', 'b', 'c'], { dbType: 'media' })).toEqual([1, 2, undefined]);
    expect(await fresh.get('products_count', { dbType: 'catalog' })).toBe(1500);
    expect(await media.deletePattern('*')).toBe(2);
    expect(await cache.delete('products_count', { dbType: 'catalog' })).toBe(true);
    expect(redis.cli('DBSIZE')).toBe('0');
    expect(cache.stats().total.errors + fresh.stats().total.errors).toBe(0);
  });

  it('tags, invalidates and flushes the app as a user holding only the documented rule', async () => {
    createUser('cachette');
    const cache = caches.create({
      redisUrl: urlFor('cachette'),
      operationTimeoutMs: 2000,
      invalidation: {
        groups: { dashboard: { tags: ['dashboard'], keys: [{ key: 'count', dbType: 'catalog' }] } },
      },
    });
    expect(await cache.set('p1', 1, { dbType: 'catalog', tags: ['dashboard', 'product:1'] })).toBe(true);
    expect(await cache.setMany([{ key: 'c1', value: 1 }], { dbType: 'media', tags: ['product:1'] })).toBe(
      true,
    );
    expect(await cache.getOrSet('count', () => 2, { dbType: 'catalog', tags: ['dashboard'] })).toBe(2);
    expect(await cache.invalidateTags(['product:1'])).toBe(2);
    expect(await cache.invalidation.invalidateDashboardCache()).toBe(1);
    await cache.set('k', 1);
    expect(await cache.invalidation.invalidate('k', 'default')).toBe(1);
    await cache.set('k', 1, { tags: ['t'] });
    expect(await cache.flushAll({ scope: 'app' })).toBe(1);
    expect(redis.cli('DBSIZE')).toBe('0');
    expect(cache.stats().total.errors).toBe(0);
    expect(await cache.flushAll({ scope: 'database', confirm: true })).toBe(false);
  });

  for (const coherence of ['tracking', 'pubsub'] as const) {
    it(`does everything under its key prefix as a user holding only the documented prefix rule (${coherence})`, async () => {
      redis.cli('FLUSHALL');
      createUserWith('reports', 'reports');
      const options = {
        redisUrl: urlFor('reports'),
        operationTimeoutMs: 2000,
        keyPrefix: 'reports:',
        coherence,
        l1: { ttl: 60 },
      };
      const cache = caches.create(options);
      const other = caches.create(options);
      await waitFor(
        () => cache.status().coherence.connected && other.status().coherence.connected,
        3000,
        'coherence',
      );
      expect(await cache.set('p1', 1, { dbType: 'catalog', tags: ['product:1'] })).toBe(true);
      expect(await cache.setMany([{ key: 'm', value: 2 }], { dbType: 'media', tags: ['product:1'] })).toBe(
        true,
      );
      expect(await cache.getOrSet('count', () => 3, { dbType: 'analytics', tags: ['dashboard'] })).toBe(3);
      expect(await other.getMany(['m', 'x'], { dbType: 'media' })).toEqual([2, undefined]);
      expect(await cache.set('m', 4, { dbType: 'media' })).toBe(true);
      await waitFor(async () => (await other.get('m', { dbType: 'media' })) === 4, 2000, 'coherence');
      expect(await cache.claim(`warming-${coherence}`, 1000)).toBe(true);
      expect(await cache.invalidateTags(['product:1'])).toBe(2);
      expect(await cache.deletePattern('*', { dbType: 'analytics' })).toBe(1);
      expect(await cache.getOrSet('count', () => 5, { dbType: 'analytics', forceFresh: true })).toBe(5);
      expect(await cache.flushAll({ scope: 'app' })).toBe(1);
      expect(cache.stats().total.errors + other.stats().total.errors).toBe(0);
      expect(
        redis
          .cli('KEYS', '*')
          .split('\n')
          .filter((key) => key !== '' && !key.startsWith('reports:')),
      ).toEqual([]);
    });
  }

  it('indexes tags with plain commands for a user who may not run scripts', async () => {
    createUser('cachette_noscripts', '-evalsha', '-eval', '-time', '-script|load');
    const cache = caches.create({ redisUrl: urlFor('cachette_noscripts'), operationTimeoutMs: 2000 });
    expect(await cache.set('a', 1, { ttl: 100, tags: ['t'] })).toBe(true);
    expect(await cache.set('b', 2, { ttl: 300, tags: ['t'] })).toBe(true);
    expect(await cache.set('c', 3, { ttl: 50, tags: ['t'] })).toBe(true);
    expect(redis.cli('SMEMBERS', '__cachette:tag:t').split('\n').sort()).toEqual([
      'default_a',
      'default_b',
      'default_c',
    ]);
    expect(Number(redis.cli('PTTL', '__cachette:tag:t'))).toBeGreaterThan(290_000);
    // invalidation runs a script: refused, answered false
    expect(await cache.invalidateTags(['t'])).toBe(false);
  });

  it('selects a database other than 0 with the documented rule', async () => {
    createUser('cachette');
    const cache = caches.create({ redisUrl: urlFor('cachette', 2), operationTimeoutMs: 2000 });
    expect(await cache.set('k', 'in db 2')).toBe(true);
    expect(redis.cli('-n', '2', 'GET', 'default_k')).toBe('"in db 2"');
  });

  it('confines the documented user to the domain prefixes', () => {
    createUser('cachette');
    const asUser = (...args: string[]) =>
      execFileSync(
        'redis-cli',
        ['-p', String(redis.port), '--user', 'cachette', '--pass', password, '--no-auth-warning', ...args],
        { encoding: 'utf8' },
      ).trim();
    expect(asUser('SET', 'sessions_1', 'x')).toMatch(/NOPERM/);
    expect(asUser('FLUSHALL')).toMatch(/NOPERM/);
    expect(asUser('SUBSCRIBE', 'anything')).toMatch(/NOPERM/);
  });

  it('answers false and logs a clear, password-free NOPERM warning when a command is not granted', async () => {
    createUser('cachette_nounlink', '-unlink');
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: urlFor('cachette_nounlink'), logger, operationTimeoutMs: 2000 });
    expect(await cache.set('k', 1)).toBe(true);
    await expect(cache.delete('k')).resolves.toBe(false);
    const line = logger.lines.find((l) => l.level === 'warn' && /delete failed/.test(l.msg));
    expect(String(line?.fields.err)).toMatch(
      /L2PermissionError: the Redis user lacks a permission.*NOPERM.*'unlink'/,
    );
    expect(String(line?.fields.err)).toContain('ACL users');
    expect(cache.stats().total.errors).toBe(1);
    for (const l of logger.lines) expect(l.text).not.toContain(password);
  });

  it('answers a miss for a domain whose prefix the rule does not cover, and says NOPERM', async () => {
    createUser('cachette');
    const logger = captureLogger();
    const cache = caches.create({
      redisUrl: urlFor('cachette'),
      domains: { reports: { prefix: 'reports_', ttl: 60 } },
      logger,
      operationTimeoutMs: 2000,
    });
    expect(await cache.set('r', 1, { dbType: 'reports' })).toBe(false);
    expect(await cache.get('r', { dbType: 'reports' })).toBeUndefined();
    expect(logger.lines.some((l) => /NOPERM .*keys/.test(String(l.fields.err)))).toBe(true);
    // the other domains keep working on the same connection
    expect(await cache.set('k', 1)).toBe(true);
  });

  it('keeps L1 coherent through tracking as a user holding only the documented rule', async () => {
    createUser('cachette');
    const reader = caches.create({ redisUrl: urlFor('cachette'), operationTimeoutMs: 2000 });
    const writer = caches.create({ redisUrl: urlFor('cachette'), operationTimeoutMs: 2000 });
    await waitFor(() => reader.status().coherence.connected, 3000, 'coherence up');
    expect(reader.status().coherence.mode).toBe('tracking');
    expect(await writer.set('k', 1)).toBe(true);
    expect(await reader.get('k')).toBe(1);
    redis.cli('SET', 'default_k', '2');
    await waitFor(async () => (await reader.get('k')) === 2, 1000, 'the change in L1');
  });

  it('falls back to pub/sub coherence, with one warning, when the user may not use CLIENT TRACKING', async () => {
    createUser('cachette_notracking', '-client|tracking');
    const logger = captureLogger();
    const options = { redisUrl: urlFor('cachette_notracking'), operationTimeoutMs: 2000 };
    const reader = caches.create({ ...options, logger });
    const writer = caches.create(options);
    await waitFor(() => reader.status().coherence.connected, 3000, 'coherence up');
    expect(reader.status().coherence.mode).toBe('pubsub');
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/falls back to pub\/sub/);
    expect(await writer.set('k', 'v1')).toBe(true);
    expect(await reader.get('k')).toBe('v1');
    expect(await writer.set('k', 'v2')).toBe(true);
    await waitFor(async () => (await reader.get('k')) === 'v2', 1000, "the other process's write in L1");
    expect(await writer.delete('k')).toBe(true);
    await waitFor(async () => (await reader.get('k')) === undefined, 1000, "the other process's delete");
    for (const l of logger.lines) expect(l.text).not.toContain(password);
  });

  it('reports a wrong password once, as WRONGPASS, without echoing it', async () => {
    createUser('cachette');
    const logger = captureLogger();
    const wrong = 'not-the-password';
    const cache = caches.create({
      redisUrl: `redis://cachette:${wrong}@127.0.0.1:${redis.port}/0`,
      logger,
      connectTimeoutMs: 1000,
    });
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.fields.err)).toMatch(/WRONGPASS/);
    for (const l of logger.lines) expect(l.text).not.toContain(wrong);
    expect(cache.status().l2.url).toBe(`redis://cachette:***@127.0.0.1:${redis.port}/0`);
  });
});
