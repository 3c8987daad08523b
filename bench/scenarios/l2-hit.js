// L2 hit: a get of a key another instance ("another worker") wrote, so L1 misses and Redis answers.
import { concurrent, fill, sequential } from '../lib/measure.js';
import { keys, productValue, sized } from '../lib/values.js';

function l2Hit(concurrency) {
  return {
    id: `l2-hit-c${concurrency}`,
    short: `L2 hit, c=${concurrency}`,
    title: `L2 hit (L1 miss, value written by another instance), concurrency ${concurrency}`,
    roles: ['floor-l2', 'subject', 'peer'],
    ratio: concurrency === 1 ? 'time' : 'throughput',
    latency: 'every operation timed',
    goal:
      concurrency === 1
        ? 'cachette ≤ 1.1x the time of a raw client GET + JSON.parse'
        : 'cachette throughput ≥ 0.9x the raw client',
    params: (quick, role) => sized(quick, role, concurrency),
    async run(adapter, ctx, { ops, warmup }) {
      const writer = await adapter.open(ctx);
      const reader = await adapter.open(ctx);
      const names = keys(`bench:l2:${concurrency}:`, ops + warmup);
      await fill((i) => writer.set(names[i], productValue(i)), names.length);
      const measure = async (label, get, reference) => {
        let misses = 0;
        const op = async (i) => {
          if ((await get(names[i])) === undefined) misses++;
        };
        const result =
          concurrency === 1
            ? await sequential(op, { ops, warmup })
            : await concurrent(op, { ops, warmup, concurrency });
        return { label, reference, ...result, misses };
      };
      const rows = [await measure('get', reader.get, false)];
      // the same keys again: a reader without an L1 (the floor) reads them from Redis again
      for (const [label, get] of reader.references?.get ?? []) rows.push(await measure(label, get, true));
      await writer.close();
      await reader.close();
      return rows;
    },
  };
}

export default [l2Hit(1), l2Hit(64)];
