import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CacheRouterOptions, createCacheRouter } from '../../../src/admin/express.js';
import { cacheFactory } from '../../support/cache.js';
import { captureLogger } from '../../support/logs.js';
import { startRedis, type TestRedis } from '../../support/redis.js';

const TOKEN = 'express-suite-token';

/**
 * The Express router under the `express` module this file gets: Express 5 as installed, or
 * Express 4 where the test file maps `express` to it. Every failure must reach `next` (the
 * router's error handler answers 500), never become an unhandled rejection.
 */
export function describeExpressRouter(label: string): void {
  describe(`the cache router on ${label}`, () => {
    let redis: TestRedis;
    const caches = cacheFactory();
    const closers: Array<() => Promise<void>> = [];

    beforeAll(async () => {
      redis = await startRedis();
    });
    afterEach(async () => {
      await Promise.all(closers.splice(0).map((close) => close()));
      await caches.closeAll();
    });
    afterAll(async () => {
      await redis.stop();
    });

    async function serve(options: Partial<CacheRouterOptions> = {}) {
      const logger = captureLogger();
      const cache = caches.create({ redisUrl: redis.url });
      await cache.ready();
      const app = express();
      app.use(createCacheRouter({ cache, logger, adminToken: TOKEN, ...options }));
      const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
        const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
      });
      closers.push(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      );
      const { port } = server.address() as AddressInfo;
      const request = async (method: string, path: string, init: RequestInit = {}) => {
        const reply = await fetch(`http://127.0.0.1:${port}${path}`, { method, ...init });
        return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
      };
      return { request, logger };
    }

    it('answers /stats, and /clear with the token', async () => {
      const { request } = await serve();
      expect((await request('GET', '/api/v1/cache/stats')).status).toBe(200);
      const cleared = await request('POST', '/api/v1/cache/clear', {
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ dbType: 'catalog' }),
      });
      expect(cleared).toMatchObject({ status: 200, body: { scope: 'domain', removed: 0 } });
    });

    it('passes an authorize hook that throws or rejects to next: a 500 answer, logged, no unhandled rejection', async () => {
      const { request, logger } = await serve({
        authorize: (_request, action) => {
          if (action === 'read-stats') throw new Error('the policy store is down');
          return Promise.reject(new Error('the policy store is down'));
        },
      });
      for (const path of ['/api/v1/cache/stats', '/api/v1/cache/keys?dbType=catalog']) {
        expect(await request('GET', path)).toEqual({
          status: 500,
          body: { error: 'internal', message: 'internal error' },
        });
      }
      expect(logger.lines.filter((line) => line.msg === 'cachette admin: request failed')).toHaveLength(2);
    });

    it('answers a malformed JSON body with a 400 about the body', async () => {
      const { request } = await serve();
      const answer = await request('POST', '/api/v1/cache/clear', {
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: '{"dbType":',
      });
      expect(answer).toMatchObject({ status: 400, body: { error: 'bad_request', field: 'body' } });
    });
  });
}
