// Invalidation propagation between two processes: B has read a key (so it holds it in its L1),
// A deletes it; measured from A's delete resolving to B first answering the key as gone.
// Without a cross-process invalidation, B keeps serving its L1 copy until the L1 TTL: that is
// reported as "not propagated" after a cap, never as a number.
import { setTimeout as sleep } from 'node:timers/promises';
import { startPartner } from '../lib/two-process.js';
import { productValue } from '../lib/values.js';

/** Longest wait for B to see a delete before the library is reported as not propagating. */
const CAP_MS = 1000;

export default [
  {
    id: 'propagation',
    title: 'invalidation propagation between two processes (delete resolved in A → gone from B)',
    roles: ['subject', 'peer'],
    kind: 'propagation',
    goal: `B sees the delete; reported "not propagated" if B still serves its copy after ${CAP_MS} ms`,
    params: (quick) => ({ rounds: quick ? 30 : 100 }),
    async run(adapter, ctx, { rounds }) {
      const a = await adapter.open(ctx);
      const b = await startPartner(adapter.name, ctx);
      const latenciesUs = [];
      let notPropagated = 0;
      let notPrimed = 0;
      try {
        for (let round = 0; round < rounds; round++) {
          const key = `bench:propagation:${round}`;
          await a.set(key, productValue(round));
          const { present } = await b.request({ op: 'prime', key });
          if (!present) notPrimed++;
          const watching = b.expect(`${key}:watching`);
          const seen = b.request({ op: 'watch', key, capMs: CAP_MS });
          await watching;
          await a.delete(key);
          const deletedAt = process.hrtime.bigint();
          const { goneAtNs } = await seen;
          if (goneAtNs === undefined) {
            notPropagated++;
            // one miss says it all: the next rounds would each wait the whole cap too
            break;
          }
          // B may see it gone before A's delete promise resolved: a negative time, kept as 0
          latenciesUs.push(Math.max(0, Number(BigInt(goneAtNs) - deletedAt) / 1000));
          await sleep(2);
        }
      } finally {
        await b.close();
        await a.close();
      }
      const sorted = latenciesUs.sort((x, y) => x - y);
      const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
      return [
        {
          label: 'delete → gone in B',
          rounds: sorted.length + notPropagated,
          p50Us: sorted.length ? at(0.5) : undefined,
          p99Us: sorted.length ? at(0.99) : undefined,
          maxUs: sorted.length ? sorted[sorted.length - 1] : undefined,
          notPropagated,
          notPrimed,
          capMs: CAP_MS,
        },
      ];
    },
  },
];
