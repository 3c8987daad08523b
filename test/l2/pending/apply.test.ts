import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config/resolve.js';
import type { OwedWork } from '../../../src/l2/driver.js';
import { applyOwed } from '../../../src/l2/pending/apply.js';
import { PendingWork } from '../../../src/l2/pending/work.js';
import { RedisDriver } from '../../../src/l2/redis/driver.js';
import { silentLogger } from '../../../src/logger.js';
import { startRedis, type TestRedis } from '../../support/redis.js';

let redis: TestRedis;
let driver: RedisDriver;
beforeAll(async () => {
  redis = await startRedis();
  driver = new RedisDriver(resolveConfig({ redisUrl: redis.url, env: {}, logger: silentLogger }));
  await driver.ready(5000);
});
afterEach(() => {
  redis.cli('FLUSHALL');
});
afterAll(async () => {
  await driver.close();
  await redis.stop();
});

/** Applies `works` on the test server as the pending work would; resolves to the work's status. */
async function apply(...works: OwedWork[]) {
  const pending = new PendingWork({
    maxEntries: 100,
    prefixes: ['default_', 'catalog_'],
    log: silentLogger,
    redis: redis.url,
    servers: () => ['here'],
  });
  for (const work of works) pending.add(work);
  await applyOwed(
    pending.owedBy('here', () => true),
    {
      commands: driver,
      prefixes: pending.prefixes,
      settle: (entry, refusal) => pending.settle('here', entry, refusal),
    },
  );
  return pending.status();
}

const keys = () => redis.cli('KEYS', '*').split('\n').filter(Boolean).sort();

describe('applying pending work on a server', () => {
  it('a key entry removes the key and its getOrSet lease', async () => {
    redis.cli('MSET', 'default_a', '1', '__cachette:lease:default_a', 't', 'default_b', '2');
    expect(await apply({ kind: 'keys', prefix: 'default_', keys: ['default_a'] })).toMatchObject({
      entries: 0,
      applied: 1,
    });
    expect(keys()).toEqual(['default_b']);
  });

  it("a pattern removes the domain's matching values and their leases, nothing else", async () => {
    redis.cli(
      'MSET',
      'default_list:1',
      '1',
      'default_list:2',
      '2',
      '__cachette:lease:default_list:2',
      't',
      'default_other',
      '3',
      'catalog_list:1',
      '4',
      'other_app:list:1',
      '5',
    );
    expect(await apply({ kind: 'pattern', prefix: 'default_', pattern: 'list:*' })).toMatchObject({
      applied: 1,
    });
    expect(keys()).toEqual(['catalog_list:1', 'default_other', 'other_app:list:1']);
  });

  it("a tag removes the app's values its index lists, with their leases and index entries", async () => {
    redis.cli(
      'MSET',
      'default_p42',
      '1',
      'catalog_p42',
      '2',
      '__cachette:lease:catalog_p42',
      't',
      'other_app:p42',
      '3',
    );
    redis.cli('SADD', '__cachette:tag:product:42', 'default_p42', 'catalog_p42', 'other_app:p42');
    expect(await apply({ kind: 'tags', indexes: ['__cachette:tag:product:42'] })).toMatchObject({
      applied: 1,
    });
    expect(keys()).toEqual(['__cachette:tag:product:42', 'other_app:p42']);
    expect(redis.cli('SMEMBERS', '__cachette:tag:product:42')).toBe('other_app:p42');
  });

  it("a flush removes every key under the app's prefixes, their leases and the app's index entries", async () => {
    redis.cli(
      'MSET',
      'default_a',
      '1',
      'catalog_b',
      '2',
      '__cachette:lease:default_a',
      't',
      'other_app:c',
      '3',
    );
    redis.cli('SADD', '__cachette:tag:t', 'default_a', 'other_app:c');
    expect(await apply({ kind: 'flush' })).toMatchObject({ applied: 1 });
    expect(keys()).toEqual(['__cachette:tag:t', 'other_app:c']);
  });

  it('patterns, tags and keys together: one pass, each settled', async () => {
    redis.cli('MSET', 'default_x1', '1', 'default_y1', '2', 'default_z', '3', 'catalog_k', '4');
    redis.cli('SADD', '__cachette:tag:t', 'catalog_k');
    const status = await apply(
      { kind: 'pattern', prefix: 'default_', pattern: 'x*' },
      { kind: 'pattern', prefix: 'default_', pattern: 'y?' },
      { kind: 'tags', indexes: ['__cachette:tag:t'] },
      { kind: 'keys', prefix: 'default_', keys: ['default_z'] },
    );
    expect(status).toMatchObject({ entries: 0, applied: 4, dropped: 0 });
    expect(keys()).toEqual([]);
  });

  it('an entry Redis refuses for good (a missing permission) is dropped, not retried', async () => {
    redis.cli('ACL', 'SETUSER', 'noscan', 'on', '>pw', '~*', '+@all', '-scan');
    const limited = new RedisDriver(
      resolveConfig({
        redisUrl: `redis://noscan:pw@127.0.0.1:${redis.port}/0`,
        env: {},
        logger: silentLogger,
      }),
    );
    try {
      await limited.ready(5000);
      redis.cli('SET', 'default_list:1', '1');
      const pending = new PendingWork({
        maxEntries: 100,
        prefixes: ['default_'],
        log: silentLogger,
        redis: redis.url,
        servers: () => ['here'],
      });
      pending.add({ kind: 'pattern', prefix: 'default_', pattern: 'list:*' });
      await applyOwed(
        pending.owedBy('here', () => true),
        {
          commands: limited,
          prefixes: pending.prefixes,
          settle: (entry, refusal) => pending.settle('here', entry, refusal),
        },
      );
      expect(pending.status()).toMatchObject({ entries: 0, applied: 0, dropped: 1 });
    } finally {
      await limited.close();
      redis.cli('ACL', 'DELUSER', 'noscan');
    }
  });
});
