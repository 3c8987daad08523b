// L1 hit: a get of a key the process itself just wrote, so every library answers from memory.
import { sequential, sequentialSync } from '../lib/measure.js';
import { keys, productValue } from '../lib/values.js';

const KEYS = 1024;

export default [
  {
    id: 'l1-hit',
    short: 'L1 hit',
    title: 'L1 hit (get of a key in memory, concurrency 1)',
    roles: ['floor-l1', 'subject', 'peer'],
    ratio: 'time',
    latency: 'batches of 100 operations (time / 100); p999 not meaningful at this resolution',
    goal: 'cachette ≤ 1.25x the awaited raw lru-cache get, and faster than every peer',
    params: (quick, role) => {
      // peers answer a hit 10 to 50 times slower: fewer operations keep the run short
      const ops = role === 'peer' ? 50_000 : 1_000_000;
      return { ops: quick ? ops / 5 : ops, warmup: quick ? ops / 20 : ops / 5 };
    },
    async run(adapter, ctx, { ops, warmup }) {
      const cache = await adapter.open(ctx);
      const names = keys('bench:l1:', KEYS);
      for (let i = 0; i < KEYS; i++) await cache.set(names[i], productValue(i));
      for (let i = 0; i < KEYS; i++) await cache.get(names[i]);
      let misses = 0;
      const op = async (i) => {
        if ((await cache.get(names[i & (KEYS - 1)])) === undefined) misses++;
      };
      const rows = [
        { label: 'get (awaited)', ...(await sequential(op, { ops, warmup, batch: 100 })), misses },
      ];
      if (cache.getSync) {
        let syncMisses = 0;
        const sync = (i) => {
          if (cache.getSync(names[i & (KEYS - 1)]) === undefined) syncMisses++;
        };
        rows.push({
          label: 'get (sync, no await) — for reference',
          reference: true,
          ...sequentialSync(sync, { ops, warmup, batch: 100 }),
          misses: syncMisses,
        });
      }
      await cache.close();
      // the same hits on caches set up otherwise (cachette: with a key prefix, with tracing on for
      // another operation): what these features cost an L1 hit that does not use them
      for (const [label, open] of adapter.l1Variants ?? []) {
        const variant = await open(ctx);
        for (let i = 0; i < KEYS; i++) await variant.set(names[i], productValue(i));
        for (let i = 0; i < KEYS; i++) await variant.get(names[i]);
        let variantMisses = 0;
        const hit = async (i) => {
          if ((await variant.get(names[i & (KEYS - 1)])) === undefined) variantMisses++;
        };
        rows.push({
          label,
          reference: true,
          ...(await sequential(hit, { ops, warmup, batch: 100 })),
          misses: variantMisses,
        });
        await variant.close();
      }
      return rows;
    },
  },
];
