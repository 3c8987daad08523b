// BentoCache as its multi-tier guide recommends: memory L1 + Redis L2 + Redis bus (L1 coherence).
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import { L2_TTL_S, l1Bounds } from './common.js';

/** How long BentoCache's own L2 circuit breaker stays open, where the scenario turns it on. */
const BREAKER = '1s';

function memory(o) {
  const { maxBytes, maxEntries } = l1Bounds(o);
  return { maxItems: maxEntries, maxSize: `${Math.round(maxBytes / 1024 / 1024)}mb` };
}

export default {
  name: 'bentocache',
  role: 'peer',
  packages: ['bentocache', 'ioredis'],
  config: (o) =>
    `new BentoCache({ default: 'multitier', ttl: '${L2_TTL_S}s', stores: { multitier: bentostore()` +
    `.useL1Layer(memoryDriver(${JSON.stringify(memory(o))})).useL2Layer(redisDriver({ connection }))` +
    '.useBus(redisBusDriver({ connection })) } }) — L1 keeps serialised text (default), same TTL as L2; no getMany: emulated with parallel gets' +
    `; in the Redis-down scenario also l2CircuitBreakerDuration: '${BREAKER}' (its circuit breaker, off by default)`,
  async open(o) {
    const connection = { host: o.host, port: o.port };
    const bento = new BentoCache({
      default: 'multitier',
      ttl: `${L2_TTL_S}s`,
      ...(o.faults ? { l2CircuitBreakerDuration: BREAKER } : {}),
      stores: {
        multitier: bentostore()
          .useL1Layer(memoryDriver(memory(o)))
          .useL2Layer(redisDriver({ connection }))
          .useBus(redisBusDriver({ connection })),
      },
    });
    await bento.set({ key: '__warm__', value: 1 });
    return {
      get: (key) => bento.get({ key }),
      set: (key, value) => bento.set({ key, value }),
      getMany: (keys) => Promise.all(keys.map((key) => bento.get({ key }))),
      getOrSet: (key, factory) => bento.getOrSet({ key, factory }),
      delete: (key) => bento.delete({ key }),
      close: () => bento.disconnectAll(),
    };
  },
};
