import { createCache, silentLogger } from '../dist/index.js';
import { startRedisServer } from './lib/redis-server.js';
import { setTimeout as sleep } from 'node:timers/promises';
const redis = await startRedisServer();
const cache = createCache({ redisUrl: redis.url, logger: silentLogger, env: {} });
await cache.ready(5000);
for (let r = 0; r < 6; r++) {
  const t0 = performance.now(); let tf0, tf1;
  const factory = async () => { tf0 = performance.now(); await sleep(20); tf1 = performance.now(); return { r }; };
  await Promise.all(Array.from({ length: 500 }, () => cache.getOrSet(`k${r}`, factory)));
  const t2 = performance.now();
  console.log(`to factory ${(tf0 - t0).toFixed(2)} factory ${(tf1 - tf0).toFixed(2)} after ${(t2 - tf1).toFixed(2)} total ${(t2 - t0).toFixed(2)}`);
}
await cache.close(); redis.stop();
