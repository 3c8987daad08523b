// getMany of 100 keys another instance wrote: L1 misses them all, so this measures the batched L2 read.
import { fill, sequential } from '../lib/measure.js';
import { keys, productValue } from '../lib/values.js';

const BATCH = 100;

export default [
  {
    id: 'get-many',
    short: `getMany(${BATCH}), L2`,
    title: `getMany of ${BATCH} keys (all L1 misses, L2 hits), concurrency 1`,
    roles: ['floor-l2', 'subject', 'peer'],
    ratio: 'time',
    latency: 'every operation (of 100 keys) timed',
    goal: 'one round trip, cachette ≤ 1.2x the time of a raw MGET + JSON.parse',
    // peers take 2 to 4 times longer per batch: fewer batches keep the run short
    params: (quick, role) =>
      role === 'peer' ? { ops: quick ? 40 : 80, warmup: 20 } : { ops: quick ? 100 : 200, warmup: 40 },
    async run(adapter, ctx, { ops, warmup }) {
      const writer = await adapter.open(ctx);
      const reader = await adapter.open(ctx);
      const names = keys('bench:many:', (ops + warmup) * BATCH);
      await fill((i) => writer.set(names[i], productValue(i)), names.length);
      const batches = Array.from({ length: ops + warmup }, (_, i) => names.slice(i * BATCH, (i + 1) * BATCH));
      const measure = async (label, getMany, reference) => {
        let misses = 0;
        const op = async (i) => {
          for (const value of await getMany(batches[i])) if (value === undefined) misses++;
        };
        const result = await sequential(op, { ops, warmup });
        return { label, reference, ...result, keysPerSec: result.opsPerSec * BATCH, misses };
      };
      const rows = [await measure(`getMany(${BATCH})`, reader.getMany, false)];
      // the same batches again: a reader without an L1 (the floor) reads them from Redis again
      for (const [label, getMany] of reader.references?.getMany ?? []) {
        rows.push(await measure(label, getMany, true));
      }
      await writer.close();
      await reader.close();
      return rows;
    },
  },
];
