import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13 } from '../../examples/products-manager/ean.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { SEED_PRODUCTS, send, startService } from './support/service.js';

describe('Products Manager lifecycle', () => {
  let redis: TestRedis;
  let dataDir: string;

  beforeAll(async () => {
    redis = await startRedis();
    dataDir = mkdtempSync(join(tmpdir(), 'products-manager-lifecycle-'));
  });

  afterAll(async () => {
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops on SIGTERM with exit code 0, and the next start finds its data without seeding again', async () => {
    const first = await startService({ redisUrl: redis.url, dataDir });
    expect(first.output()).toMatch(/seeded 2000 products/);
    const created = await first.request('POST', '/api/v1/products', {
      json: {
        ean: ean13(700000000000),
        name: 'Survivor',
        category: 'books',
        priceCents: 10,
        stock: 1,
        supplierId: 2,
      },
    });
    expect(created.status).toBe(201);
    expect(await first.stop()).toBe(0);
    expect(first.output()).toMatch(/SIGTERM: stopping the workers[\s\S]*stopped/);
    await expect(send(first.port, 'GET', '/health')).rejects.toThrow(/ECONNREFUSED/);

    const second = await startService({ redisUrl: redis.url, dataDir });
    try {
      expect(second.output()).not.toMatch(/seeded/);
      const again = await second.request('GET', `/api/v1/products/${created.body.id}`);
      expect(again.body).toMatchObject({ name: 'Survivor' });
      expect((await second.request('GET', '/api/v1/products?pageSize=1')).body.total).toBe(SEED_PRODUCTS + 1);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  }, 300_000);

  it('exits with the reason when its port is taken, instead of restarting workers forever', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as net.AddressInfo;
    try {
      await expect(
        startService({ redisUrl: redis.url, dataDir, env: { PORT: String(port) } }),
      ).rejects.toThrow(/EADDRINUSE[\s\S]*cannot start: Error: worker \d exited during start-up/);
    } finally {
      squatter.close();
    }
  }, 120_000);

  it('with LOAD_CEILING=1 answers the product route from every worker with a product of the same fields, opening no database', async () => {
    const ceilingDir = mkdtempSync(join(tmpdir(), 'products-manager-ceiling-'));
    const service = await startService({
      redisUrl: redis.url,
      dataDir: ceilingDir,
      env: { LOAD_CEILING: '1' },
    });
    try {
      for (const worker of [1, 2]) {
        const answer = await service.getVia(worker, '/api/v1/products/42');
        expect(answer.status).toBe(200);
        expect(Object.keys(answer.body).sort()).toEqual([
          'category',
          'ean',
          'id',
          'name',
          'priceCents',
          'stock',
          'supplierId',
          'supplierName',
          'updatedAt',
        ]);
      }
      expect((await service.request('GET', '/api/v1/products/0')).status).toBe(400);
      expect(service.output()).not.toMatch(/opening the embedded database|seeded/);
      expect(existsSync(join(ceilingDir, 'pglite'))).toBe(false);
    } finally {
      expect(await service.stop()).toBe(0);
      rmSync(ceilingDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses to start with a clear message when a setting is malformed', async () => {
    await expect(startService({ redisUrl: redis.url, env: { WEB_CONCURRENCY: 'lots' } })).rejects.toThrow(
      /WEB_CONCURRENCY must be a whole number from 1 to 64, got "lots"/,
    );
  });
});
