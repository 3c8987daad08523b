// Error replies a live Redis sends: OOM (maxmemory + noeviction), READONLY (a replica), a wrong
// password, LOADING (a restart reading its dump). Pass criterion 6 of issue 5, under a load of
// concurrent cache calls: every call settles, nothing rejects, one log line per episode, the
// password never appears. NOPERM (ACL) is covered in test/acl.test.ts.
import { describe, expect, it } from 'vitest';
import { chaosHarness } from '../support/chaos.js';
import { type LoadReport, startLoad, valueFor } from '../support/load.js';
import { type CapturedLine, captureLogger } from '../support/logs.js';
import { waitFor } from '../support/redis.js';

const { caches, redisServer } = chaosHarness();

const PASSWORD = 's3cret-Pa55word';

/** Runs the load until `calls` more calls have settled; returns its report. */
async function loadFor(cache: Parameters<typeof startLoad>[0], calls: number): Promise<LoadReport> {
  const load = startLoad(cache);
  try {
    await waitFor(() => load.report.calls.length >= calls, 20_000, `${calls} calls`);
  } finally {
    await load.stop();
  }
  return load.report;
}

function warnings(lines: CapturedLine[]): CapturedLine[] {
  return lines.filter((l) => l.level === 'warn' || l.level === 'error');
}

function expectNoPassword(lines: CapturedLine[]) {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(line.text).not.toContain(PASSWORD);
}

describe('chaos: error replies from a live Redis', () => {
  it('OOM (maxmemory + noeviction): writes answer false, reads still hit, one warning, breaker stays closed', async () => {
    const redis = await redisServer({ password: PASSWORD });
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: redis.url, logger, l1: { ttl: 0 } });
    for (let i = 0; i < 200; i++) expect(await cache.set(`load-${i}`, valueFor(`load-${i}`))).toBe(true);
    const filler = 'x'.repeat(900_000);
    for (let i = 0; i < 3; i++) expect(await cache.set(`filler-${i}`, filler)).toBe(true);
    redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    redis.cli('CONFIG', 'SET', 'maxmemory', '1mb');
    expect(redis.cli('SET', 'probe', '1')).toMatch(/^OOM/);

    const { calls, rejected, wrongValues } = await loadFor(cache, 4000);
    expect(rejected).toEqual([]);
    expect(wrongValues).toBe(0);
    expect(cache.stats().total.l2Hits).toBeGreaterThan(1000);
    expect(cache.stats().total.sets).toBe(203);
    expect(cache.status().breaker).toBe('closed');
    const warned = warnings(logger.lines);
    expect(warned).toHaveLength(1);
    expect(warned[0]!.text).toMatch(/OOM command not allowed/);
    expectNoPassword(logger.lines);
    expect(calls.length).toBeGreaterThanOrEqual(4000);

    redis.cli('CONFIG', 'SET', 'maxmemory', '0');
    expect(await cache.set('after', 1)).toBe(true);
    expect(await cache.get('after')).toBe(1);
  });

  it('READONLY (a replica): writes and deletes answer false, reads hit, one warning per operation', async () => {
    const primary = await redisServer({ password: PASSWORD, args: ['--repl-diskless-sync-delay', '0'] });
    const replica = await redisServer({
      password: PASSWORD,
      args: ['--replicaof', '127.0.0.1', String(primary.port), '--masterauth', PASSWORD],
    });
    // the load reads the even keys
    primary.cli('SET', 'default_load-2', JSON.stringify(valueFor('load-2')));
    await waitFor(() => replica.cli('EXISTS', 'default_load-2') === '1', 10_000, 'the replica to sync');
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: replica.url, logger, l1: { ttl: 0 } });
    await cache.ready();

    const { rejected, wrongValues } = await loadFor(cache, 4000);
    expect(await cache.delete('load-2')).toBe(false);
    expect(rejected).toEqual([]);
    expect(wrongValues).toBe(0);
    expect(cache.stats().total.sets).toBe(0);
    expect(cache.stats().total.l2Hits).toBeGreaterThan(0);
    expect(cache.status().breaker).toBe('closed');
    const warned = warnings(logger.lines);
    expect(warned.map((l) => l.fields.operation).sort()).toEqual(['delete', 'set']);
    for (const line of warned) expect(line.text).toMatch(/READONLY/);
    expectNoPassword(logger.lines);
  });

  it('wrong password: calls answer at once without Redis, one warning, the password is never logged', async () => {
    const redis = await redisServer({ password: 'the-right-one' });
    const logger = captureLogger();
    const cache = caches.create({
      redisUrl: `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${redis.port}/0`,
      logger,
    });
    const { rejected, calls } = await loadFor(cache, 4000);
    expect(rejected).toEqual([]);
    expect(calls.length).toBeGreaterThanOrEqual(4000);
    expect(cache.status().l2.state).not.toBe('ready');
    const warned = warnings(logger.lines);
    expect(warned).toHaveLength(1);
    expect(warned[0]!.text).toMatch(/WRONGPASS|invalid username-password/);
    expectNoPassword(logger.lines);
    expect(JSON.stringify(cache.status())).not.toContain(PASSWORD);
  });

  it('LOADING (a restarted Redis reading its dump): calls skip Redis until it has loaded, then the data is there', async () => {
    // key-load-delay slows loading down (µs per key); events are served every KB, so clients see LOADING
    const redis = await redisServer({
      args: ['--key-load-delay', '100', '--loading-process-events-interval-bytes', '1024'],
    });
    const logger = captureLogger();
    const cache = caches.create({ redisUrl: redis.url, logger, l1: { ttl: 0 } });
    expect(await cache.set('kept', 'from before')).toBe(true);
    redis.cli('EVAL', "for i = 1, 20000 do redis.call('SET', 'filler:' .. i, i) end", '0');
    redis.cli('SAVE');
    await redis.kill();
    await redis.start();
    expect(redis.cli('PING')).toMatch(/LOADING/);

    const load = startLoad(cache);
    let report: LoadReport;
    try {
      await waitFor(() => !/LOADING/.test(redis.cli('PING')), 30_000, 'Redis to finish loading');
      await waitFor(() => cache.status().breaker === 'closed', 5000, 'the breaker to close');
    } finally {
      report = await load.stop();
    }
    expect(report.rejected).toEqual([]);
    expect(report.calls.filter((c) => c.breaker === 'open').length).toBeGreaterThan(0);
    expect(await cache.get('kept')).toBe('from before');
    expect(warnings(logger.lines)).toHaveLength(1);
    expect(logger.lines.filter((l) => /restored/.test(l.msg))).toHaveLength(1);
  });
});
