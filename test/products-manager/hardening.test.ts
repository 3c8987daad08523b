import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13 } from '../../examples/products-manager/ean.js';
import { startRedis, type TestRedis, waitFor } from '../support/redis.js';
import {
  type Answer,
  createPostgresDatabase,
  type Json,
  type RunningService,
  startService,
} from './support/service.js';

const REDIS_SECRET = 'redis-secret-4f1c';
const DATABASE_SECRET = 'database-secret-9a7e';
const SENTINEL_SECRET = 'sentinel-secret-2b8d';
const HEADER = 'ean,name,category,priceCents,stock,supplierId';

const row = (i: number) => ({
  ean: ean13(880000000000 + i),
  name: `Hardened ${i}`,
  category: 'garden',
  priceCents: 100,
  stock: 1,
  supplierId: 1,
});

describe('Products Manager against hostile input and failing workers', () => {
  let redis: TestRedis;
  let database: { url: string; drop(): Promise<void> };
  let svc: RunningService;

  beforeAll(async () => {
    redis = await startRedis({ password: REDIS_SECRET });
    database = await createPostgresDatabase();
    // a password in the query string (PostgreSQL on this machine trusts local connections: unused)
    const databaseUrl = new URL(database.url);
    databaseUrl.searchParams.set('password', DATABASE_SECRET);
    svc = await startService({
      redisUrl: redis.url,
      databaseUrl: databaseUrl.toString(),
      env: { IMPORT_CONCURRENCY: '1', REDIS_SENTINEL_PASSWORD: SENTINEL_SECRET },
    });
  }, 240_000);

  afterAll(async () => {
    await svc?.stop();
    await database?.drop();
    await redis?.stop();
  }, 60_000);

  /** The products table locked by another session: an import's inserts wait until `release()`. */
  async function lockProducts(): Promise<{ release(): Promise<void> }> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('BEGIN');
    await client.query('LOCK TABLE products IN EXCLUSIVE MODE');
    return {
      async release() {
        await client.query('COMMIT');
        await client.end();
      },
    };
  }

  async function lastJobId(): Promise<number> {
    return (await svc.request('GET', '/api/v1/imports')).body.jobs[0]?.id ?? 0;
  }

  it('never shows a credential: not at start-up, not on /api/v1/cluster, not in the admin stats', async () => {
    const cluster = await svc.request('GET', '/api/v1/cluster');
    const stats = await svc.request('GET', '/api/v1/cache/stats', { admin: true });
    expect(cluster.body.primary.database).toContain('password=***');
    expect(cluster.body.primary.redisUrl).toContain(':***@');
    const shown = [svc.output(), JSON.stringify(cluster.body), JSON.stringify(stats.body)].join('\n');
    for (const secret of [REDIS_SECRET, DATABASE_SECRET, SENTINEL_SECRET])
      expect(shown).not.toContain(secret);
  });

  it('answers a 400 that names the query field it refuses', async () => {
    const answer = await svc.request('GET', '/api/v1/products?limit=5');
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'bad_request', field: 'limit' });
    expect(answer.body.message).toContain('"limit"');
  });

  it('stops reading an import at the row limit: 413 naming the limit, and nothing written', async () => {
    const before = await lastJobId();
    // what follows row 100 001 is never read: a reader that parsed the whole body would answer 400
    const rows = JSON.stringify(Array.from({ length: 100_001 }, (_, i) => row(i)));
    const json = await svc.request('POST', '/api/v1/imports', {
      raw: `${rows.slice(0, -1)}, {"unreadable": tru`,
      contentType: 'application/json',
    });
    expect(json.status).toBe(413);
    expect(json.body.message).toContain('at most 100000 rows');
    const csvRows = Array.from({ length: 100_001 }, (_, i) => Object.values(row(i)).join(','));
    const csv = await svc.request('POST', '/api/v1/imports', {
      raw: `${HEADER}\n${csvRows.join('\n')}\n"never closed,x\n`,
      contentType: 'text/csv',
    });
    expect(csv.status).toBe(413);
    expect(csv.body.message).toContain('at most 100000 rows');
    expect(await lastJobId()).toBe(before);
    const count = await svc.request('GET', '/api/v1/products?q=Hardened&pageSize=1');
    expect(count.body.total).toBe(0);
  });

  it('names the right line of a CSV error, past blank lines and quoted fields on several lines', async () => {
    const csv = [
      HEADER,
      '',
      Object.values(row(1)).join(','),
      `${ean13(880000000002)},"a name on`,
      `two lines",garden,100,1,1`,
      '',
      '',
      `${ean13(880000000003)},too few,garden`,
    ].join('\n');
    const answer = await svc.request('POST', '/api/v1/imports', { raw: csv, contentType: 'text/csv' });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/^the CSV cannot be read: line 8: /);
    const unclosed = `${HEADER}\n\n${Object.values(row(1)).join(',')}\n${ean13(880000000004)},"never closed,garden,1,1,1\n${Object.values(row(5)).join(',')}\n`;
    const second = await svc.request('POST', '/api/v1/imports', { raw: unclosed, contentType: 'text/csv' });
    expect(second.body.message).toBe('the CSV cannot be read: line 4: a quoted field is not closed');
  });

  it('runs at most IMPORT_CONCURRENCY imports per worker and answers 429 with Retry-After beyond', async () => {
    const lock = await lockProducts();
    const accepted: Json[] = [];
    let refused: Answer | undefined;
    try {
      // one import per worker is held by the lock; the next one on either worker is refused
      for (let i = 0; i < 3 && refused === undefined; i++) {
        const answer = await svc.request('POST', '/api/v1/imports', { json: [row(10 + i)] });
        if (answer.status === 429) refused = answer;
        else {
          expect(answer.status).toBe(202);
          accepted.push(answer.body);
        }
      }
    } finally {
      await lock.release();
    }
    expect(refused?.headers['retry-after']).toBe('5');
    expect(refused?.body.message).toMatch(/runs 1 imports at most \(IMPORT_CONCURRENCY\)/);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(accepted.length).toBeLessThanOrEqual(2);
    for (const job of accepted) {
      await waitFor(
        async () => (await svc.request('GET', `/api/v1/imports/${job.id}`)).body.status === 'done',
        30_000,
        `import ${job.id} to finish`,
      );
    }
    expect((await svc.request('POST', '/api/v1/imports', { json: [row(20)] })).status).toBe(202);
  });

  // last: it kills workers
  it('the primary survives a worker that exits in the middle of /api/v1/cluster and of an import', async () => {
    const pids = async () =>
      new Map<number, number>(
        (await svc.request('GET', '/api/v1/cluster')).body.workers.map((w: Json) => [w.workerId, w.pid]),
      );
    const before = await pids();
    // the next connection goes to the other worker (round robin); this one is paused, so the
    // primary waits 2 s for its status while the other worker waits for the primary's answer
    const paused = (await svc.request('GET', '/health')).worker;
    process.kill(before.get(paused)!, 'SIGSTOP');
    const asking = svc.request('GET', '/api/v1/cluster').catch(() => undefined);
    const asker = [...before.keys()].find((id) => id !== paused)!;
    // within those 2 s (the request needs a few ms to reach the primary), the asking worker dies
    await new Promise((resolve) => setTimeout(resolve, 500));
    process.kill(before.get(asker)!, 'SIGKILL');
    process.kill(before.get(paused)!, 'SIGCONT');
    await asking;
    const poll = async (path: string) =>
      (await svc.request('GET', path, { timeoutMs: 5000 }).catch(() => undefined))?.body;
    await waitFor(
      async () => (await poll('/api/v1/cluster'))?.workers?.length === 2,
      30_000,
      'a replacement',
    );

    // an import held by a lock: its worker is killed in the middle of it
    const lock = await lockProducts();
    try {
      const accepted = await svc.request('POST', '/api/v1/imports', { json: [row(30)] });
      expect(accepted.status).toBe(202);
      const current = await pids();
      process.kill(current.get(accepted.worker)!, 'SIGKILL');
      await waitFor(
        async () => {
          const workers = (await poll('/api/v1/cluster'))?.workers ?? [];
          return (
            workers.length === 2 &&
            workers.every((w: Json) => !w.unresponsive && w.pid !== current.get(accepted.worker))
          );
        },
        30_000,
        'a replacement for the worker killed mid-import',
      );
    } finally {
      await lock.release();
    }
    expect(svc.output()).not.toMatch(/ERR_IPC_CHANNEL_CLOSED|Unhandled 'error' event/);
    expect((await svc.request('GET', '/api/v1/products/1')).status).toBe(200);
  }, 120_000);
});
