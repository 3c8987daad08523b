// The CLI as users run it: built with tsc, started as a child process per command, against real
// redis-server processes.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache, silentLogger } from '../../src/index.js';
import { startProxy, type TestProxy } from '../support/proxy.js';
import { freePort, startRedis, type TestRedis } from '../support/redis.js';

// inside the repository, so that the built files resolve node_modules
const BUILD_DIR = join('test-output', 'cli-build');
const CLI = resolve(BUILD_DIR, 'cli.js');
const PASSWORD = 'cli-Pa55-secret';

let redis: TestRedis;
let guarded: TestRedis;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI with `args` in `cwd`; REDIS_URL and the other variables from `env` only. */
function cli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000, cwd },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr, ms: performance.now() - started });
      },
    );
  });
}

function json(run: Run): Record<string, unknown> {
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

beforeAll(async () => {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  execFileSync(process.execPath, [
    'node_modules/typescript/bin/tsc',
    '-p',
    'tsconfig.build.json',
    '--outDir',
    BUILD_DIR,
  ]);
  [redis, guarded] = await Promise.all([startRedis(), startRedis({ password: PASSWORD })]);
}, 180_000);

afterAll(async () => {
  await Promise.all([redis?.stop(), guarded?.stop()]);
  rmSync(BUILD_DIR, { recursive: true, force: true });
});

describe('cachette CLI', () => {
  it('is the package bin, built from src/cli.ts with a node shebang', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin.cachette).toBe('./dist/cli.js');
    expect(readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('prints help for the CLI and for every command, exit 0', async () => {
    const main = await cli(['--help']);
    expect(main.code).toBe(0);
    for (const command of ['stats', 'keys', 'clear', 'flush', 'ping', 'warm']) {
      expect(main.stdout).toContain(`  ${command} `);
      const help = await cli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: cachette ${command}`);
    }
  });

  it('ping: version and round trip, as text and as JSON', async () => {
    const text = await cli(['ping', '--url', redis.url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^PONG from redis:\/\/127\.0\.0\.1:\d+\/0 \(Redis \d+\.\d+\.\d+\) in [\d.]+ ms\n$/,
    );
    const parsed = json(await cli(['ping', '--json'], { REDIS_URL: redis.url }));
    expect(parsed).toMatchObject({ ok: true, url: redis.url });
    expect(typeof parsed.latencyMs).toBe('number');
  });

  it('stats: Redis facts and the keys of each domain', async () => {
    redis.cli('FLUSHDB');
    for (let i = 0; i < 30; i++) redis.cli('SET', `catalog_p${i}`, '1', 'EX', '600');
    redis.cli('SET', 'media_m1', '1');
    redis.cli('SET', 'unrelated', '1');
    const run = await cli(['stats', '--json', '--url', redis.url]);
    expect(run.code).toBe(0);
    const report = json(run) as {
      url: string;
      redis: { version: string; keys: number; usedMemoryBytes: number };
      keys: { total: number; other: number; exact: boolean };
      domains: Record<string, { prefix: string; ttl: number; keys: number }>;
    };
    expect(report.url).toBe(redis.url);
    expect(report.redis.keys).toBe(32);
    expect(report.redis.usedMemoryBytes).toBeGreaterThan(0);
    expect(report.keys).toMatchObject({ total: 32, other: 1, exact: true });
    expect(report.domains.catalog).toEqual({ prefix: 'catalog_', ttl: 7200, keys: 30 });
    expect(report.domains.media!.keys).toBe(1);
    const text = await cli(['stats', '--url', redis.url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/catalog\s+catalog_\s+7200 s\s+30/);
    expect(text.stdout).toMatch(/Keys\s+32 in the database/);
  });

  it('keys: a domain page by page with --limit and --cursor, TTLs included, never values', async () => {
    redis.cli('FLUSHDB');
    redis.cli(
      'EVAL',
      "for i = 1, 2500 do redis.call('SET', 'catalog_products_' .. i, 'v', 'EX', 900) end",
      '0',
    );
    redis.cli('SET', 'catalog_other', 'secret-value');
    redis.cli('SET', 'media_products_1', 'v');
    const base = ['keys', '--db', 'catalog', '--pattern', 'products_*', '--json', '--url', redis.url];
    const first = json(await cli([...base, '--limit', '1500'])) as {
      dbType: string;
      keys: Array<{ key: string; redisKey: string; ttl: number }>;
      cursor: string | null;
    };
    expect(first.dbType).toBe('catalog');
    expect(first.keys).toHaveLength(1500);
    expect(first.cursor).not.toBeNull();
    for (const k of first.keys) {
      expect(k.key).toMatch(/^products_\d+$/);
      expect(k.redisKey).toBe(`catalog_${k.key}`);
      expect(k.ttl).toBeGreaterThan(800);
    }
    const rest = json(await cli([...base, '--limit', '5000', '--cursor', first.cursor!])) as typeof first;
    expect(rest.cursor).toBeNull();
    const all = new Set([...first.keys, ...rest.keys].map((k) => k.key));
    expect(all.size).toBe(2500);
    const text = await cli(['keys', '--db', 'catalog', '--limit', '3', '--url', redis.url]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\S+\s+(\d+ s|no TTL)$/);
    expect(lines[3]).toMatch(/^3 keys in catalog; more with --cursor \S+$/);
    expect(text.stdout).not.toContain('secret-value');
  });

  it('clear: one key, a pattern, a whole domain, and nothing outside the domain', async () => {
    redis.cli('FLUSHDB');
    for (const key of ['catalog_a1', 'catalog_a2', 'catalog_b1', 'catalog_b2', 'media_a1'])
      redis.cli('SET', key, '1');
    const one = await cli(['clear', '--db', 'catalog', '--key', 'b1', '--json', '--url', redis.url]);
    expect(one.code).toBe(0);
    expect(json(one)).toEqual({ scope: 'key', dbType: 'catalog', key: 'b1', removed: null });
    expect(redis.cli('EXISTS', 'catalog_b1')).toBe('0');
    const pattern = await cli(['clear', '--db', 'catalog', '--pattern', 'a*', '--url', redis.url]);
    expect(pattern.code).toBe(0);
    expect(pattern.stdout).toBe('removed 2 keys from catalog matching a*\n');
    expect(redis.cli('EXISTS', 'catalog_a1', 'catalog_a2', 'media_a1')).toBe('1');
    const domain = json(await cli(['clear', '--db', 'catalog', '--json', '--url', redis.url]));
    expect(domain).toEqual({ scope: 'domain', dbType: 'catalog', removed: 1 });
    expect(redis.cli('KEYS', '*')).toBe('media_a1');
  });

  it('clear --tag: every value stored with the tag, in every domain', async () => {
    redis.cli('FLUSHDB');
    const cache = createCache({ redisUrl: redis.url, logger: silentLogger, env: {} });
    try {
      expect(await cache.set('p1', 1, { dbType: 'catalog', tags: ['promo'] })).toBe(true);
      expect(await cache.set('m1', 1, { dbType: 'media', tags: ['promo', 'summer'] })).toBe(true);
      expect(await cache.set('p2', 1, { dbType: 'catalog', tags: ['summer'] })).toBe(true);
      expect(await cache.set('p3', 1, { dbType: 'catalog' })).toBe(true);
    } finally {
      await cache.close();
    }
    const run = await cli(['clear', '--tag', 'promo', '--json', '--url', redis.url]);
    expect(run.code).toBe(0);
    expect(json(run)).toEqual({ scope: 'tags', tags: ['promo'], removed: 2 });
    expect(redis.cli('EXISTS', 'catalog_p1', 'media_m1', 'catalog_p2', 'catalog_p3')).toBe('2');
    const text = await cli(['clear', '--tag', 'summer', '--tag', 'winter', '--url', redis.url]);
    expect(text.stdout).toBe('removed 1 key tagged summer, winter\n');
    expect(redis.cli('EXISTS', 'catalog_p2', 'catalog_p3')).toBe('1');
    const mixed = await cli(['clear', '--tag', 'promo', '--db', 'catalog', '--url', redis.url]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/--tag reaches every domain/);
  });

  it("flush: nothing without --yes; --scope app keeps other applications' keys; --scope database empties it", async () => {
    redis.cli('FLUSHDB');
    for (const key of ['catalog_a', 'media_b', 'default_c', 'someone_else']) redis.cli('SET', key, '1');
    for (const scope of ['app', 'database']) {
      const refused = await cli(['flush', '--scope', scope, '--url', redis.url]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/add --yes/);
    }
    const badScope = await cli(['flush', '--scope', 'everything', '--yes', '--url', redis.url]);
    expect(badScope.code).toBe(2);
    expect(redis.cli('DBSIZE')).toBe('4');
    const app = await cli(['flush', '--scope', 'app', '--yes', '--json', '--url', redis.url]);
    expect(app.code).toBe(0);
    expect(json(app)).toEqual({ scope: 'app', removed: 3 });
    expect(redis.cli('KEYS', '*')).toBe('someone_else');
    const database = await cli(['flush', '--scope', 'database', '--yes', '--url', redis.url]);
    expect(database.code).toBe(0);
    expect(database.stdout).toMatch(
      /^flushed the database of redis:\/\/127\.0\.0\.1:\d+\/0: 1 key removed\n$/,
    );
    expect(redis.cli('DBSIZE')).toBe('0');
  });

  it('refuses bad usage with exit 2 and a message that says what to do', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /no command given/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['keys'], /--db is required; one of .*catalog/],
      [['keys', '--db', 'nope'], /--db must be one of/],
      [['keys', '--db', 'catalog', '--limit', 'ten'], /--limit: limit must be a whole number/],
      [['ping', '--db', 'catalog'], /ping does not take --db/],
      [['clear', '--db', 'catalog', '--key', 'a', '--pattern', 'b*'], /either key or pattern/],
      [['ping', '--timeout', '-5'], /--timeout/],
      [['warm'], /warm is not available from the command line/],
    ];
    for (const [args, message] of cases) {
      const run = await cli([...args, '--url', redis.url]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    const asJson = await cli(['keys', '--json', '--url', redis.url]);
    expect(json(asJson)).toMatchObject({ ok: false, error: { code: 'E_CLI_USAGE' } });
  });

  it('a bad URL is a clear error (exit 2) that does not print the password', async () => {
    for (const url of [`redis://:${PASSWORD}@127.0.0.1:notaport/0`, `http://:${PASSWORD}@127.0.0.1:6379`]) {
      const run = await cli(['ping', '--url', url]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/--url/);
      expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    }
    const positional = await cli(['ping', `redis://:${PASSWORD}@127.0.0.1:6379/0`]);
    expect(positional.code).toBe(2);
    expect(positional.stderr).toMatch(/unexpected argument .*redis:\/\/:\*\*\*@.*--url/);
    expect(positional.stdout + positional.stderr).not.toContain(PASSWORD);
    const fromEnv = await cli(['ping'], { REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:99999/0` });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/REDIS_URL/);
    expect(fromEnv.stdout + fromEnv.stderr).not.toContain(PASSWORD);
  });

  it('Redis unreachable: exit 1 at once with the reason, as text and as JSON', async () => {
    const url = `redis://127.0.0.1:${await freePort()}/0`;
    const run = await cli(['stats', '--url', url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/0: .*ECONNREFUSED/);
    // a refused connection is known at once: no waiting for the connect timeout
    expect(run.ms).toBeLessThan(5000);
    const asJson = await cli(['keys', '--db', 'catalog', '--json', '--url', url]);
    expect(asJson.code).toBe(1);
    expect(json(asJson)).toMatchObject({ ok: false, error: { code: 'E_CLI_REDIS' } });
  });

  it('a Redis that accepts but never answers: exit 1 after one connect timeout, not more', async () => {
    const proxy: TestProxy = await startProxy(redis.port);
    try {
      // what starting the CLI and failing at once costs on this machine right now
      const refused = await cli(['ping', '--url', `redis://127.0.0.1:${await freePort()}/0`]);
      proxy.blackhole();
      const run = await cli(['ping', '--timeout', '2000', '--url', proxy.url]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/cannot reach Redis/);
      // one connect timeout, not a second one (nor the reconnections that follow)
      expect(run.ms - refused.ms).toBeLessThan(2 * 2000);
    } finally {
      await proxy.close();
    }
  });

  it('password-protected Redis: works with the password, fails clearly without it, never prints it', async () => {
    const runs = [
      await cli(['ping', '--url', guarded.url]),
      await cli(['stats', '--url', guarded.url]),
      await cli(['stats', '--json'], { REDIS_URL: guarded.url }),
      await cli(['keys', '--db', 'catalog', '--json', '--url', guarded.url]),
    ];
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    // the URL is shown with the password masked
    for (const run of runs.slice(0, 3))
      expect(run.stdout).toContain(`redis://:***@127.0.0.1:${guarded.port}/0`);
    const wrong = await cli(['ping', '--url', `redis://:wrong-${PASSWORD}@127.0.0.1:${guarded.port}/0`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/WRONGPASS|invalid username-password/);
    const none = await cli(['ping', '--json', '--url', `redis://127.0.0.1:${guarded.port}/0`]);
    expect(none.code).toBe(1);
    expect(json(none)).toMatchObject({ ok: false, error: { code: 'E_CLI_REDIS' } });
    expect(none.stderr).toMatch(/NOAUTH|Authentication required/);
    for (const run of [...runs, wrong, none]) expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it("learns the app's domains and key prefix from cachette.config.json, --config or --prefix", async () => {
    redis.cli('FLUSHDB');
    const dir = resolve(BUILD_DIR, 'app');
    mkdirSync(dir, { recursive: true });
    const config = {
      keyPrefix: 'reports:',
      builtinDomains: false,
      domains: { reports: { prefix: 'r_', ttl: '10m' } },
    };
    writeFileSync(join(dir, 'cachette.config.json'), JSON.stringify(config));
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ ...config, keyPrefix: 'other:' }));
    for (const key of ['reports:r_weekly', 'reports:r_daily', 'other:r_weekly', 'r_weekly', 'catalog_x']) {
      redis.cli('SET', key, '1');
    }
    const keys = json(await cli(['keys', '--db', 'reports', '--json', '--url', redis.url], {}, dir));
    expect(keys).toMatchObject({
      dbType: 'reports',
      keys: [
        { key: 'daily', redisKey: 'reports:r_daily' },
        { key: 'weekly', redisKey: 'reports:r_weekly' },
      ],
    });
    const stats = await cli(['stats', '--url', redis.url], {}, dir);
    expect(stats.stdout).toMatch(/App\s+keys under "reports:"/);
    expect(stats.stdout).toMatch(/reports\s+reports:r_\s+600 s\s+2/);
    expect(stats.stdout).not.toMatch(/catalog/);
    // the built-in domains are not there: --db catalog is refused
    const builtin = await cli(['keys', '--db', 'catalog', '--url', redis.url], {}, dir);
    expect(builtin.code).toBe(2);
    expect(builtin.stderr).toMatch(/--db must be one of reports, got "catalog"/);
    // --prefix wins over the file, --config names another file
    const flagged = json(
      await cli(['keys', '--db', 'reports', '--json', '--prefix', '', '--url', redis.url], {}, dir),
    );
    expect(flagged).toMatchObject({ keys: [{ redisKey: 'r_weekly' }] });
    const other = await cli(
      ['clear', '--db', 'reports', '--config', 'other.json', '--url', redis.url],
      {},
      dir,
    );
    expect(other.stdout).toBe('removed 1 key from reports\n');
    const flushed = await cli(['flush', '--scope', 'app', '--yes', '--url', redis.url], {}, dir);
    expect(flushed.stdout).toMatch(/^flushed every domain under "reports:" at .*: 2 keys removed\n$/);
    expect(redis.cli('KEYS', '*').split('\n').sort()).toEqual(['catalog_x', 'r_weekly']);
    // CACHE_KEY_PREFIX without a config file; a bad file is a usage error naming it
    const fromEnv = json(
      await cli(['keys', '--db', 'catalog', '--json', '--url', redis.url], { CACHE_KEY_PREFIX: 'none:' }),
    );
    expect(fromEnv).toMatchObject({ keys: [] });
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ keyPrefix: 'x:', domain: {} }));
    const bad = await cli(['ping', '--config', 'bad.json', '--url', redis.url], {}, dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.json: "domain" is not a field of the config file/);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ domains: { r: { prefix: 'r_', ttl: 'soon' } } }));
    expect((await cli(['ping', '--config', 'bad.json', '--url', redis.url], {}, dir)).stderr).toMatch(
      /bad\.json: domains\.r\.ttl must be/,
    );
    const missing = await cli(['ping', '--config', 'absent.json', '--url', redis.url], {}, dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the config file .*absent\.json: ENOENT/);
  });
});
