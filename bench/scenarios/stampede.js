// Stampede: 500 concurrent getOrSet of one missing key whose factory takes 20 ms, in one process
// and in two processes at once (same Redis): how many times the factory runs, and the wall time.
import { setTimeout as sleep } from 'node:timers/promises';
import { stampede, startPartner } from '../lib/two-process.js';

const CALLS = 500;
const FACTORY_MS = 20;

function stampedeCase(processes) {
  return {
    id: `stampede-${processes}p`,
    title: `stampede: ${CALLS} concurrent getOrSet of one missing key, ${FACTORY_MS} ms factory, ${processes} process${processes > 1 ? 'es' : ''}`,
    roles: ['subject', 'peer'],
    kind: 'stampede',
    goal:
      processes === 1
        ? `1 factory call per key, wall time ≤ factory time + 5 ms (${FACTORY_MS + 5} ms)`
        : '1 factory call per key across both processes',
    // warm-up rounds, as every other case has one: the first stampedes of a process run cold code
    params: (quick) => ({ rounds: quick ? 3 : 8, warmup: quick ? 1 : 3 }),
    async run(adapter, ctx, { rounds, warmup = 0 }) {
      const cache = await adapter.open(ctx);
      const partner = processes > 1 ? await startPartner(adapter.name, ctx) : undefined;
      const samples = [];
      try {
        for (let round = -warmup; round < rounds; round++) {
          const key = `bench:stampede:${processes}:${round}`;
          // both processes start their 500 calls within the IPC delay (well under a millisecond)
          const there = partner?.request({ op: 'stampede', key, n: CALLS, factoryMs: FACTORY_MS });
          const here = await stampede(cache, key, CALLS, FACTORY_MS);
          const other = there ? await there : { calls: 0, wallMs: 0, wrong: 0 };
          // warm-up rounds count for the factory calls and wrong answers, not for the wall time
          samples.push({
            calls: here.calls + other.calls,
            wallMs: round >= 0 ? Math.max(here.wallMs, other.wallMs) : undefined,
            wrong: here.wrong + other.wrong,
          });
          await sleep(20);
        }
      } finally {
        await partner?.close();
        await cache.close();
      }
      const walls = samples
        .map((s) => s.wallMs)
        .filter((ms) => ms !== undefined)
        .sort((a, b) => a - b);
      const calls = samples.map((s) => s.calls);
      return [
        {
          label: `${processes} × ${CALLS} calls`,
          rounds: warmup > 0 ? `${rounds} (+${warmup} warm-up)` : rounds,
          callsMean: calls.reduce((a, b) => a + b, 0) / calls.length,
          callsMax: Math.max(...calls),
          wallP50Ms: walls[Math.floor((walls.length - 1) / 2)],
          wallMaxMs: walls[walls.length - 1],
          wrong: samples.reduce((a, s) => a + s.wrong, 0),
        },
      ];
    },
  };
}

export default [stampedeCase(1), stampedeCase(2)];
