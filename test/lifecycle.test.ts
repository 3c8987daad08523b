import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, type TestRedis } from './support/redis.js';

const run = promisify(execFile);
let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

async function exitsAfterClose(url: string): Promise<number> {
  const start = performance.now();
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/exit-after-close.ts', url],
    {
      timeout: 15_000,
    },
  );
  expect(stdout).toContain('closed');
  return performance.now() - start;
}

describe('lifecycle', () => {
  it('leaves nothing that keeps the process alive after close()', async () => {
    expect(await exitsAfterClose(redis.url)).toBeLessThan(10_000);
  });

  it('lets the process exit after close() while Redis is unreachable', async () => {
    expect(await exitsAfterClose(`redis://127.0.0.1:${await freePort()}/0`)).toBeLessThan(12_000);
  });
});

describe('package', () => {
  it('packs into a tarball that installs and imports in an empty folder', { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachette-pack-'));
    try {
      // generous: pack builds with tsc, and install resolves the dependencies; both crawl on a busy machine
      const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], {
        timeout: 140_000,
      });
      const tarball = join(dir, stdout.trim().split('\n').pop()!);
      writeFileSync(join(dir, 'package.json'), '{"name":"consumer","version":"1.0.0","type":"module"}');
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
        cwd: dir,
        timeout: 140_000,
      });
      const script = `import { createCache, CacheKeyError, BUILTIN_DOMAINS } from 'cachette';
        const cache = createCache({ redisUrl: '${redis.url}', env: {} });
        await cache.set('products_count', 1500, { dbType: 'catalog' });
        console.log(JSON.stringify({ value: await cache.get('products_count', { dbType: 'catalog' }),
          error: typeof CacheKeyError, prefix: BUILTIN_DOMAINS.catalog.prefix }));
        await cache.close();`;
      writeFileSync(join(dir, 'use.mjs'), script);
      const result = await run(process.execPath, ['use.mjs'], { cwd: dir, timeout: 20_000 });
      expect(JSON.parse(result.stdout)).toEqual({ value: 1500, error: 'function', prefix: 'catalog_' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
