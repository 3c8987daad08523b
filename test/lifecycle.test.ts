import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  const fixtures = fileURLToPath(new URL('./fixtures/package-consumer/', import.meta.url));
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  const peers = ['express@5.3.0', 'prom-client@15.1.3', '@opentelemetry/api@1.9.1'];

  it('packs into a tarball that CommonJS and ES module consumers require and import, with types for both', {
    timeout: 300_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachette-pack-'));
    try {
      // generous: pack builds with tsc twice, and install resolves the dependencies; both crawl on a busy machine
      const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], {
        timeout: 140_000,
      });
      const tarball = join(dir, stdout.trim().split('\n').pop()!);
      writeFileSync(join(dir, 'package.json'), '{"name":"consumer","version":"1.0.0","private":true}');
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...peers], {
        cwd: dir,
        timeout: 140_000,
      });
      for (const file of readdirSync(fixtures)) copyFileSync(join(fixtures, file), join(dir, file));
      const consume = async (...args: string[]) => {
        const result = await run(process.execPath, [...args, redis.url], { cwd: dir, timeout: 20_000 });
        return JSON.parse(result.stdout);
      };
      const seen = {
        value: 1500,
        stored: '{"value":"through Keyv"}',
        prefix: 'catalog_',
        error: 'E_CACHE_KEY',
        entries: {
          cacheAdmin: 'function',
          createCacheRouter: 'function',
          registerCacheMetrics: 'function',
          KeyvCachette: 'function',
          instrumentCachette: 'function',
        },
      };
      expect(await consume('use.mjs')).toEqual({ ...seen, loaded: 'dist/index.js' });
      // Node 20.19+ loads the ES module for require() too (one copy of the package in a process)...
      expect(await consume('use.cjs')).toEqual({ ...seen, loaded: 'dist/index.js' });
      // ...and an older Node, or a runtime without require(esm), the CommonJS build
      expect(await consume('--no-experimental-require-module', 'use.cjs')).toEqual({
        ...seen,
        loaded: 'dist/cjs/index.js',
      });
      const typecheck = [
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--skipLibCheck',
        'types.cts',
        'types.mts',
      ];
      await expect(
        run(process.execPath, [tsc, ...typecheck], { cwd: dir, timeout: 60_000 }),
      ).resolves.toBeDefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
