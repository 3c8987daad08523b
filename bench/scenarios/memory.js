// Memory: heap and RSS after many distinct sets with L1 bounded to 64 MiB; the bound must hold,
// and a second round of as many sets must not grow the heap (no leak).
import { fill } from '../lib/measure.js';
import { productValue, VALUE_JSON_LENGTH } from '../lib/values.js';

const MiB = 1024 * 1024;
const L1_MAX_BYTES = 64 * MiB;
const ROUNDS = 2;

const gc = globalThis.gc ?? (() => {});

function settle() {
  gc();
  gc();
  return process.memoryUsage();
}

export default [
  {
    id: 'memory',
    title: 'memory after distinct sets of 1 KiB values, L1 bounded to 64 MiB',
    roles: ['floor-l1', 'subject', 'peer'],
    kind: 'memory',
    goal: 'cachette: L1 accounted bytes ≤ 64 MiB + 10% (heap growth reported beside it), and no growth from the first half of the sets to the second',
    params: (quick, role) => {
      // cachette gets the million; the floor and the peers are at their bound (about 61 000 of these
      // values) long before their count, which keeps the run short
      const sets = role === 'subject' ? 1_000_000 : role === 'floor-l1' ? 300_000 : 80_000;
      return { sets: quick ? sets / 5 : sets };
    },
    async run(adapter, ctx, { sets }) {
      const cache = await adapter.open({
        ...ctx,
        l1MaxBytes: L1_MAX_BYTES,
        // high enough that the byte bound is the one that binds
        l1MaxEntries: 250_000,
        // libraries that can only bound entries get the count that 64 MiB of JSON text holds
        l1EquivalentEntries: Math.floor(L1_MAX_BYTES / (VALUE_JSON_LENGTH + 80)),
      });
      const base = settle();
      const rows = [];
      const perRound = sets / ROUNDS;
      for (let round = 1; round <= ROUNDS; round++) {
        const offset = (round - 1) * perRound;
        const start = performance.now();
        let failures = 0;
        await fill(async (i) => {
          if ((await cache.set(`bench:mem:${offset + i}`, productValue(offset + i))) === false) failures++;
        }, perRound);
        const wallMs = performance.now() - start;
        const mem = settle();
        const l1 = cache.l1?.();
        rows.push({
          label: `after ${(offset + perRound).toLocaleString('en')} sets`,
          ops: perRound,
          wallMs,
          opsPerSec: (perRound * 1000) / wallMs,
          heapDeltaMiB: (mem.heapUsed - base.heapUsed) / MiB,
          heapUsedMiB: mem.heapUsed / MiB,
          rssMiB: mem.rss / MiB,
          baseRssMiB: base.rss / MiB,
          l1Entries: l1?.entries,
          l1AccountedMiB: l1?.bytes === undefined ? undefined : l1.bytes / MiB,
          failures,
        });
      }
      await cache.close();
      return rows;
    },
  },
];
