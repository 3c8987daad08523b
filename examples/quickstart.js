// The README's quick start, runnable against REDIS_URL (default redis://127.0.0.1:6379/0): `npm run quickstart`.
import { createCache } from '../dist/index.js';

// stands in for your database
const db = { product: async (id) => ({ id, name: `Product ${id}` }) };

const cache = createCache({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0',
  domains: { products: { prefix: 'products_', ttl: 600 } }, // TTL in seconds
});
const connected = await cache.ready();
console.log(`Redis ${connected ? 'connected' : 'unreachable: every call below answers as a miss or false'}`);

console.log('set 42 =', await cache.set('42', { id: 42, name: 'Lamp' }, { dbType: 'products' }));
console.log('get 42 =', await cache.get('42', { dbType: 'products' }));

// load once across every process, serve the old value for an hour if the database fails
const product = await cache.getOrSet('43', () => db.product(43), {
  dbType: 'products',
  grace: 3600,
  tags: ['product:43'],
});
console.log('getOrSet 43 =', product);
console.log(
  'invalidateTags product:43 removed',
  await cache.invalidateTags(['product:43'], { reason: 'product 43 updated' }),
);
console.log('stats =', JSON.stringify(cache.stats().total));
await cache.close();
