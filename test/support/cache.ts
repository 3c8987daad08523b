import { afterAll, afterEach, beforeAll } from 'vitest';
import type { DomainOptions } from '../../src/config/domains.js';
import type { CacheOptions } from '../../src/config/options.js';
import { createCache, type InvalidationGroup } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { startRedis, type TestRedis } from './redis.js';

/** Creates caches for a test and closes them all in `closeAll()` (call it in afterEach/afterAll). */
export function cacheFactory() {
  const open: Array<{ close(): Promise<void> }> = [];
  return {
    create<
      X extends Record<string, DomainOptions> = Record<never, DomainOptions>,
      G extends Record<string, InvalidationGroup> = Record<never, InvalidationGroup>,
      B extends boolean = boolean,
    >(options: CacheOptions<X, G> & { builtinDomains?: B }) {
      const cache = createCache<X, G, B>({ logger: silentLogger, env: {}, ...options });
      open.push(cache);
      return cache;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((cache) => cache.close()));
    },
  };
}

/**
 * One `redis-server` for the whole test file: started before the first test, emptied after each
 * (once the caches `caches` created are closed), stopped after the last. The returned handle
 * forwards to that server, so it can be declared at the top of the file.
 */
export function redisPerFile(caches: ReturnType<typeof cacheFactory>): TestRedis {
  let server: TestRedis | undefined;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterEach(async () => {
    await caches.closeAll();
    server?.cli('FLUSHALL');
  });
  afterAll(async () => {
    await server?.stop();
  });
  const started = (): TestRedis => {
    if (!server) throw new Error('the test redis-server is not started yet: use it inside a test or a hook');
    return server;
  };
  return {
    get port() {
      return started().port;
    },
    get url() {
      return started().url;
    },
    get pid() {
      return started().pid;
    },
    cli: (...args) => started().cli(...args),
    kill: () => started().kill(),
    stop: () => started().stop(),
    start: () => started().start(),
    pause: () => started().pause(),
    resume: () => started().resume(),
  };
}
