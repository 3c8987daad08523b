// Set: a write of a ~1 KiB JSON value under a new key (both tiers where the library has two).
import { concurrent, sequential } from '../lib/measure.js';
import { keys, productValue, sized } from '../lib/values.js';

function set(concurrency) {
  return {
    id: `set-c${concurrency}`,
    short: `set 1 KiB, c=${concurrency}`,
    title: `set of a 1 KiB JSON value, concurrency ${concurrency}`,
    roles: ['floor-l2', 'subject', 'peer'],
    ratio: concurrency === 1 ? 'time' : 'throughput',
    latency: 'every operation timed',
    goal:
      concurrency === 1
        ? 'cachette ≤ 1.2x the time of a raw client SET … EX (with JSON.stringify)'
        : 'cachette throughput ≥ 0.85x the raw client SET … EX',
    params: (quick, role) => sized(quick, role, concurrency),
    async run(adapter, ctx, { ops, warmup }) {
      const cache = await adapter.open(ctx);
      const names = keys(`bench:set:${concurrency}:`, ops + warmup);
      const values = Array.from({ length: 1024 }, (_, i) => productValue(i));
      const measure = async (label, set, reference) => {
        let failures = 0;
        const op = async (i) => {
          if ((await set(names[i], values[i & 1023])) === false) failures++;
        };
        const result =
          concurrency === 1
            ? await sequential(op, { ops, warmup })
            : await concurrent(op, { ops, warmup, concurrency });
        return { label, reference, ...result, failures };
      };
      const rows = [await measure('set', cache.set, false)];
      for (const [label, set] of cache.references?.set ?? []) rows.push(await measure(label, set, true));
      await cache.close();
      return rows;
    },
  };
}

export default [set(1), set(64)];
