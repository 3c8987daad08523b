import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cacheFactory } from '../support/cache.js';
import { type Adapter, type AdminServer, adminServer } from '../support/http.js';
import { commandCalls, startRedis, type TestRedis } from '../support/redis.js';

const TOKEN = 'token-of-the-stats-tests';
const BEARER = { authorization: `Bearer ${TOKEN}` };
const USER = 'statsuser';

let redis: TestRedis;
const caches = cacheFactory();
const servers: AdminServer[] = [];

beforeAll(async () => {
  redis = await startRedis({ password: 'admin-pass' });
  redis.cli('ACL', 'SETUSER', USER, 'on', '>user-pass', '~*', '&*', '+@all');
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  await caches.closeAll();
});
afterAll(async () => {
  await redis.stop();
});

/** INFO commands Redis ran since `since` (a reading of this function), not counting the readings' own. */
function infoCalls(since?: number): number {
  const calls = commandCalls(redis, 'info');
  return since === undefined ? calls : calls - since - 1;
}

describe.each<Adapter>(['fastify', 'express'])('the open /stats over %s', (adapter) => {
  async function mount(options: Record<string, unknown> = {}) {
    const cache = caches.create({ redisUrl: `redis://${USER}:user-pass@127.0.0.1:${redis.port}/3` });
    await cache.ready();
    const server = await adminServer(adapter, { cache, adminToken: TOKEN, ...options });
    servers.push(server);
    return { cache, server };
  }

  it('answers counters and states to anyone, but neither where Redis is nor its INFO', async () => {
    const { server } = await mount();
    const before = infoCalls();
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await server.request('GET', '/api/v1/cache/stats'));
    for (const { status, body } of answers) {
      expect(status).toBe(200);
      expect(body).toMatchObject({
        status: 'ok',
        breaker: { state: 'closed' },
        coherence: { mode: 'tracking' },
      });
      expect(body.l2).toMatchObject({ state: 'ready', connected: true, hits: 0 });
      expect(body.l2).not.toHaveProperty('url');
      expect(body.l2).not.toHaveProperty('redis');
      const text = JSON.stringify(body);
      for (const secret of [String(redis.port), USER, '127.0.0.1', 'redis://'])
        expect(text).not.toContain(secret);
    }
    expect(infoCalls(before)).toBe(0);
  });

  it('adds the connection and the server facts for the admin token, with one INFO for several callers', async () => {
    const { server } = await mount();
    const before = infoCalls();
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => server.request('GET', '/api/v1/cache/stats', { headers: BEARER })),
    );
    answers.push(await server.request('GET', '/api/v1/cache/stats', { headers: BEARER }));
    for (const { body } of answers) {
      const l2 = body.l2 as Record<string, unknown>;
      expect(l2.url).toBe(`redis://${USER}:***@127.0.0.1:${redis.port}/3`);
      expect((l2.redis as Record<string, unknown>).version).toMatch(/^\d+\.\d+/);
    }
    expect(infoCalls(before)).toBe(1);
    const wrong = await server.request('GET', '/api/v1/cache/stats', {
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(200);
    expect(wrong.body.l2).not.toHaveProperty('url');
  });

  it('asks an authorize hook for read-server, and leaves the details out when it says no', async () => {
    const asked: string[] = [];
    const { server } = await mount({
      authorize: (_request: unknown, action: string) => {
        asked.push(action);
        return action === 'read-stats';
      },
    });
    const { status, body } = await server.request('GET', '/api/v1/cache/stats');
    expect(status).toBe(200);
    expect(body.l2).not.toHaveProperty('redis');
    expect(asked).toEqual(['read-stats', 'read-server']);
  });
});
