// A runnable quick start against REDIS_URL (default redis://127.0.0.1:6379/0): `npm run quickstart`.
import { createCache } from '../dist/index.js';

const cache = createCache();
const connected = await cache.ready();
console.log(`Redis ${connected ? 'connected' : 'unreachable: every call below answers as a miss or false'}`);

console.log('set catalog products_count =', await cache.set('products_count', 1500, { dbType: 'catalog' }));
console.log('get catalog products_count =', await cache.get('products_count', { dbType: 'catalog' }));
console.log('set default temp_data (ttl 300) =', await cache.set('temp_data', { a: 1 }, { ttl: 300 }));
const catalog = cache.db('catalog');
await catalog.setMany([
  { key: 'products_1', value: { id: 1 } },
  { key: 'products_2', value: { id: 2 } },
]);
console.log('getMany =', await catalog.getMany(['products_1', 'products_2', 'products_3']));
console.log('deletePattern products_* removed', await catalog.deletePattern('products_*'));
console.log('delete products_count =', await cache.delete('products_count', { dbType: 'catalog' }));
console.log('stats =', JSON.stringify(cache.stats().total));
await cache.close();
