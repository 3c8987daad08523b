import { createCache, silentLogger } from './src/index.js';
import { startRedis } from './test/support/redis.js';

const r = await startRedis();
const cache = createCache({ redisUrl: r.url, logger: silentLogger, env: {}, operationTimeoutMs: 200 });
await cache.set('k', 'v');
r.pause();
const t = performance.now();
const w = (n: string, p: Promise<unknown>) => p.then((v) => console.log(n, v, performance.now() - t));
await Promise.race([
  Promise.all([
    w('get', cache.get('other')),
    w('set', cache.set('k2', 1)),
    w('del', cache.delete('k3')),
    w('pat', cache.deletePattern('x*')),
  ]),
  new Promise((r) => setTimeout(r, 3000)),
]);
r.resume();
await cache.close();
await r.stop();
