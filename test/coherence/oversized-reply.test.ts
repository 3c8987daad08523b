import { createClient } from '@redis/client';
import { describe, expect, it } from 'vitest';
import { MAX_REPLY_BYTES } from '../../src/coherence/resp.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';
import { waitFor } from '../support/redis.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);

describe('a reply over the size limit on the invalidation connection', () => {
  it('closes that connection and counts as a coherence outage: L1 is emptied, invalidations resume', async () => {
    const cache = caches.create({ redisUrl: redis.url, l1: { ttl: 600 } });
    await cache.ready();
    await waitFor(() => cache.status().coherence.connected, 5000, 'coherence to connect');
    await cache.set('k', 'v');
    expect(cache.status().l1.entries).toBe(1);
    const flushes = cache.status().coherence.l1Flushes;
    // anyone may publish on the channel tracking reports on; nothing but a size limit stops this
    const publisher = createClient({ url: redis.url });
    await publisher.connect();
    try {
      await publisher.sendCommand(['PUBLISH', '__redis__:invalidate', 'x'.repeat(MAX_REPLY_BYTES + 1)]);
    } finally {
      await publisher.close();
    }
    await waitFor(() => cache.status().coherence.disconnects === 1, 10_000, 'the connection to be dropped');
    await waitFor(() => cache.status().coherence.connected, 10_000, 'coherence to reconnect');
    expect(cache.status().coherence.l1Flushes).toBeGreaterThan(flushes);
    expect(cache.status().l1.entries).toBe(0);
    // and invalidations flow again
    await cache.get('k');
    redis.cli('SET', 'default_k', '"changed"');
    await waitFor(async () => (await cache.get('k')) === 'changed', 5000, 'the change to be seen');
  });
});
