// getOrSet hit: getOrSet of a key the process already holds in memory, so the factory never runs.
import { sequential } from '../lib/measure.js';
import { keys, productValue } from '../lib/values.js';

const KEYS = 1024;

export default [
  {
    id: 'get-or-set-hit',
    short: 'getOrSet hit',
    title: 'getOrSet hit (key in memory, concurrency 1)',
    roles: ['floor-l1', 'subject', 'peer'],
    ratio: 'time',
    latency: 'batches of 100 operations (time / 100); p999 not meaningful at this resolution',
    goal: 'close to the L1 hit: the hit path of getOrSet does no more than get',
    params: (quick, role) => {
      // peers answer a hit 10 to 50 times slower: fewer operations keep the run short
      const ops = role === 'peer' ? 50_000 : 1_000_000;
      return { ops: quick ? ops / 5 : ops, warmup: quick ? ops / 20 : ops / 5 };
    },
    async run(adapter, ctx, { ops, warmup }) {
      const cache = await adapter.open(ctx);
      const names = keys('bench:gos:', KEYS);
      let factoryCalls = 0;
      const factory = async () => {
        factoryCalls++;
        return productValue(0);
      };
      for (let i = 0; i < KEYS; i++) await cache.set(names[i], productValue(i));
      for (let i = 0; i < KEYS; i++) await cache.getOrSet(names[i], factory);
      factoryCalls = 0;
      let misses = 0;
      const op = async (i) => {
        if ((await cache.getOrSet(names[i & (KEYS - 1)], factory)) === undefined) misses++;
      };
      const result = await sequential(op, { ops, warmup, batch: 100 });
      await cache.close();
      return [{ label: 'getOrSet (hit)', ...result, misses, factoryCalls }];
    },
  },
];
