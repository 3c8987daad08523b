// cachette, as its README recommends: createCache() with the default L1 (5 s, 10 000 entries, 64 MiB).
import diagnostics from 'node:diagnostics_channel';
import { createCache, silentLogger } from '../../dist/index.js';
import { L2_TTL_S, l1Bounds } from './common.js';

function options(o) {
  const { maxBytes, maxEntries } = l1Bounds(o);
  return { redisUrl: o.url, defaultTtl: L2_TTL_S, l1: { maxEntries, maxBytes } };
}

export default {
  name: 'cachette',
  role: 'subject',
  packages: ['@redis/client', 'lru-cache'],
  config: (o) =>
    `createCache(${JSON.stringify(options(o))}) — L1 ttl 5 s, coherence 'tracking' (the defaults); get/set with { dbType: 'default' }`,
  /** Reference rows of the L1-hit case: the features an L1 hit does not use, turned on. */
  l1Variants: [
    ["get, keyPrefix 'app:' — for reference", (o) => open(o, { keyPrefix: 'app:' })],
    [
      'get, tracing on for set only — for reference',
      async (o) => {
        const onSet = () => {};
        diagnostics.channel('tracing:cachette:set:start').subscribe(onSet);
        const cache = await open(o);
        return {
          ...cache,
          close: async () => {
            diagnostics.channel('tracing:cachette:set:start').unsubscribe(onSet);
            await cache.close();
          },
        };
      },
    ],
  ],
  open: (o) => open(o),
};

async function open(o, extra = {}) {
  const cache = createCache({ ...options(o), ...extra, logger: silentLogger, env: {} });
  if (!(await cache.ready(5000))) throw new Error('cachette did not connect');
  return {
    get: (key) => cache.get(key, { dbType: 'default' }),
    set: (key, value) => cache.set(key, value, { dbType: 'default' }),
    getMany: (keys) => cache.getMany(keys, { dbType: 'default' }),
    getOrSet: (key, factory) => cache.getOrSet(key, factory, { dbType: 'default' }),
    delete: (key) => cache.delete(key, { dbType: 'default' }),
    close: () => cache.close(),
    l1: () => cache.status().l1,
    breaker: () => cache.status().breaker,
  };
}
