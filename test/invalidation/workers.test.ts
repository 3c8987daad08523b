import { type ChildProcess, fork } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InvalidationGroup } from '../../src/index.js';
import { startRedis, type TestRedis, waitFor } from '../support/redis.js';

let redis: TestRedis;
const children = new Set<ChildProcess>();

const groups = {
  dashboard: { tags: ['dashboard'], keys: [{ key: 'products_count', dbType: 'catalog' }] },
  media: { patterns: [{ pattern: 'cover_*', dbType: 'media' }] },
} satisfies Record<string, InvalidationGroup>;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await redis.stop();
});

interface Reply {
  id?: number;
  type?: string;
  result?: unknown;
  error?: string;
}

/** Forks a worker process with its own cache (test/fixtures/invalidation-worker.ts). */
async function worker(coherence: 'tracking' | 'pubsub') {
  const child = fork(
    'test/fixtures/invalidation-worker.ts',
    [JSON.stringify({ url: redis.url, groups, coherence })],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    },
  );
  children.add(child);
  const replies: Reply[] = [];
  child.on('message', (m) => replies.push(m as Reply));
  await waitFor(() => replies.some((r) => r.type === 'ready'), 20_000, 'the worker to start');
  let sequence = 0;
  const call = async (target: 'cache' | 'invalidation', op: string, ...args: unknown[]): Promise<unknown> => {
    const id = ++sequence;
    child.send({ id, target, op, args });
    await waitFor(() => replies.some((r) => r.id === id), 10_000, `${op} in the worker`);
    const reply = replies.find((r) => r.id === id)!;
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.result;
  };
  return {
    cache: (op: string, ...args: unknown[]) => call('cache', op, ...args),
    invalidation: (op: string, ...args: unknown[]) => call('invalidation', op, ...args),
  };
}

type Worker = Awaited<ReturnType<typeof worker>>;

/** One way to invalidate `catalog_products_42` (or, for groups, what the group covers) from worker B. */
const cases: Array<
  [
    string,
    { key: string; dbType: string; tags?: string[] },
    (b: Worker) => Promise<unknown>,
    number | boolean,
  ]
> = [
  [
    'invalidate',
    { key: 'products_42', dbType: 'catalog' },
    (b) => b.invalidation('invalidate', 'products_42', 'catalog', 'crud'),
    1,
  ],
  [
    'invalidatePattern',
    { key: 'products_42', dbType: 'catalog' },
    (b) => b.invalidation('invalidatePattern', 'products_*', 'catalog'),
    1,
  ],
  [
    'invalidateDomain',
    { key: 'products_42', dbType: 'catalog' },
    (b) => b.invalidation('invalidateDomain', 'catalog'),
    1,
  ],
  [
    'invalidateTags',
    { key: 'products_42', dbType: 'catalog', tags: ['product:42'] },
    (b) => b.invalidation('invalidateTags', ['product:42']),
    1,
  ],
  [
    'invalidateGroup',
    { key: 'products_count', dbType: 'catalog' },
    (b) => b.invalidation('invalidateGroup', 'dashboard'),
    1,
  ],
  [
    'invalidateDashboardCache',
    { key: 'top', dbType: 'analytics', tags: ['dashboard'] },
    (b) => b.invalidation('invalidateDashboardCache', 'order'),
    1,
  ],
  [
    'invalidateMediaCache',
    { key: 'cover_42', dbType: 'media' },
    (b) => b.invalidation('invalidateMediaCache'),
    1,
  ],
  [
    'flushAll app',
    { key: 'products_42', dbType: 'catalog' },
    (b) => b.invalidation('flushAll', { scope: 'app' }),
    1,
  ],
  [
    'cache.delete',
    { key: 'products_42', dbType: 'catalog' },
    (b) => b.cache('delete', 'products_42', { dbType: 'catalog' }),
    true,
  ],
  [
    'cache.deletePattern',
    { key: 'products_42', dbType: 'catalog' },
    (b) => b.cache('deletePattern', 'products_4*', { dbType: 'catalog' }),
    1,
  ],
  [
    'cache.invalidateTags',
    { key: 'products_42', dbType: 'media', tags: ['a', 'b'] },
    (b) => b.cache('invalidateTags', ['b']),
    1,
  ],
];

/** Polls worker `w`'s read of `key` until it is `expected`; coherence delivers within milliseconds. */
async function readsSoon(w: Worker, key: string, dbType: string, expected: unknown): Promise<void> {
  await waitFor(
    async () => (await w.cache('get', key, { dbType })) === expected,
    2000,
    `worker A to read ${String(expected)}`,
  );
}

describe.each(['tracking', 'pubsub'] as const)(
  'invalidation across worker processes (coherence %s)',
  (mode) => {
    let a: Worker;
    let b: Worker;
    beforeAll(async () => {
      [a, b] = await Promise.all([worker(mode), worker(mode)]);
    }, 60_000);
    beforeEach(async () => {
      // flushAll app also empties each worker's own L1, so every case starts clean
      await Promise.all([a, b].map((w) => w.invalidation('flushAll', { scope: 'app' })));
    });

    it.each(cases)(
      "%s in worker B reaches what worker A wrote and read: Redis, B, and A's L1",
      async (_name, seed, invalidate, expected) => {
        const { key, dbType, tags } = seed;
        expect(await a.cache('set', key, 'old', { dbType, tags })).toBe(true);
        expect(await a.cache('get', key, { dbType })).toBe('old');
        expect(await b.cache('get', key, { dbType })).toBe('old');
        expect(await invalidate(b)).toBe(expected);
        const redisKey = `${dbType}_${key}`;
        expect(redis.cli('EXISTS', redisKey)).toBe('0');
        expect(await b.cache('get', key, { dbType })).toBeUndefined();
        // A held 'old' in L1 (L1 TTL 5 s): only coherence can make it miss now
        await readsSoon(a, key, dbType, undefined);
        // and a new value written by B is what A reads next
        expect(await b.cache('set', key, 'new', { dbType, tags })).toBe(true);
        expect(redis.cli('GET', redisKey)).toBe('"new"');
        await readsSoon(a, key, dbType, 'new');
      },
    );
  },
);
