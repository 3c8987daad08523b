// The outage soak: four worker processes share one Redis for three minutes under mixed traffic
// (get, set, setMany, delete, invalidate, invalidateTags, deletePattern, getOrSet over 200 keys in
// 20 tagged groups), while Redis is killed and restarted (its data kept: appendonly yes, fsync
// always) and later paused (SIGSTOP) then resumed. A staleness oracle (test/support/staleness.ts)
// knows which write each read should see: every write-side call is the application's intent,
// whatever it answered (a failed set or delete must still win once Redis is back).
//
//   npm run soak                    (three minutes)
//   SOAK_SECONDS=60 npm run soak    (a shorter run)
//   SOAK_DEBUG=1 npm run soak       (prints every read of a value a fault's writes had replaced)
//
// Prints: stale reads beyond 100 ms and 1 s, outside and during the faults (a fault lasts from its
// start until every worker uses Redis again with nothing owed); reads after a fault of values
// invalidated or overwritten during it (must be 0); reads no write explains (must be 0); log lines
// per worker and fault.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CacheStatus } from '../src/index.js';
import { startRedis, waitFor } from '../test/support/redis.js';
import { monotonicMs as nowMs, type OpEvent, readLags } from '../test/support/staleness.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const WORKERS = 4;
const FAULT_MS = Math.min(8000, (SECONDS * 1000) / 12);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

interface Fault {
  kind: string;
  start: number;
  /** When Redis was back (restarted, resumed). */
  healed: number;
  /** When every worker used Redis again with nothing owed. */
  recovered: number;
}

interface Worker {
  child: ChildProcess;
  request<T>(op: string, extra?: Record<string, unknown>): Promise<T>;
}

async function startWorker(url: string, index: number): Promise<Worker> {
  const child = fork('bench/soak-worker.ts', [url, String(index), String(index + 1)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`soak worker ${index} exited (${code})`)));
    child.once('message', () => resolve());
  });
  return {
    child,
    request: <T>(op: string, extra: Record<string, unknown> = {}) =>
      new Promise<T>((resolve) => {
        const answer = (message: { op: string }) => {
          if (message.op !== 'status' && message.op !== 'stopped') return;
          child.off('message', answer);
          resolve(message as T);
        };
        child.on('message', answer);
        child.send({ op, ...extra });
      }),
  };
}

const redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
const workers = await Promise.all(Array.from({ length: WORKERS }, (_, i) => startWorker(redis.url, i)));
const startedAt = nowMs();
const faults: Fault[] = [];

/** Until every worker uses Redis again (connected, breaker closed, coherence up) with nothing owed. */
async function allRecovered(): Promise<void> {
  await waitFor(
    async () => {
      const answers = await Promise.all(workers.map((w) => w.request<{ status: CacheStatus }>('status')));
      return answers.every(
        ({ status }) =>
          status.l2.state === 'ready' &&
          status.breaker === 'closed' &&
          status.pending.entries === 0 &&
          status.coherence.connected,
      );
    },
    60_000,
    'every worker to recover',
  );
}

async function fault(kind: string, at: number, inject: () => unknown, heal: () => Promise<void>) {
  await sleep(startedAt + at - nowMs());
  const start = nowMs();
  await inject();
  await sleep(FAULT_MS);
  await heal();
  const healed = nowMs();
  await allRecovered();
  faults.push({ kind, start, healed, recovered: nowMs() });
  console.log(
    `${kind}: ${Math.round(healed - start)} ms down, every worker back ${Math.round(nowMs() - healed)} ms after`,
  );
}

await fault(
  'kill + restart (appendonly yes)',
  SECONDS * 220,
  () => redis.kill(),
  () => redis.start(),
);
await fault(
  'pause (SIGSTOP) + resume',
  SECONDS * 550,
  () => redis.pause(),
  async () => redis.resume(),
);
await sleep(startedAt + SECONDS * 1000 - nowMs());

const dir = mkdtempSync(join(tmpdir(), 'cachette-soak-'));
const results = await Promise.all(
  workers.map((worker, i) =>
    worker.request<{ lines: Record<string, number>; events: number }>('stop', {
      file: join(dir, `${i}.json`),
    }),
  ),
);
const events: OpEvent[] = workers.flatMap((_, i) => JSON.parse(readFileSync(join(dir, `${i}.json`), 'utf8')));
rmSync(dir, { recursive: true, force: true });
await redis.stop();

const faultOf = (read: OpEvent) => faults.find((f) => read.end >= f.start && read.start <= f.recovered);
const tally = () => ({ reads: 0, over100: 0, over1000: 0, worstMs: 0, missesOver100: 0 });
const outside = tally();
const during = tally();
let unexplained = 0;
let resurrected = 0;
for (const lag of readLags(events)) {
  if (lag.lagMs === undefined) {
    unexplained++;
    continue;
  }
  const window = faultOf(lag.read);
  const into = window ? during : outside;
  into.reads++;
  // a miss is never a wrong value (the caller reads its database); it is counted apart
  if (lag.read.value === null) {
    if (lag.lagMs > 100) into.missesOver100++;
    continue;
  }
  if (lag.lagMs > 100) into.over100++;
  if (lag.lagMs > 1000) into.over1000++;
  into.worstMs = Math.max(into.worstMs, lag.lagMs);
  const by = 'supersededBy' in lag ? lag.supersededBy : undefined;
  // a value invalidated or overwritten during a fault, read after every worker recovered from it
  if (
    lag.lagMs > 0 &&
    by &&
    faults.some((f) => by.start >= f.start && by.start <= f.recovered && lag.read.start > f.recovered)
  ) {
    resurrected++;
    if (process.env.SOAK_DEBUG)
      console.log('resurrected', JSON.stringify({ read: lag.read, by, lag: lag.lagMs, faults }));
  }
}
const lines: Record<string, number> = {};
for (const result of results) {
  for (const [line, count] of Object.entries(result.lines)) lines[line] = (lines[line] ?? 0) + count;
}
// one info line per successful invalidation is the invalidation module's audit log, not the outage's
const AUDIT = 'info cachette: cache invalidated';
const totalLines = Object.entries(lines).reduce(
  (sum, [line, count]) => sum + (line === AUDIT ? 0 : count),
  0,
);
const round = (ms: number) => Math.round(ms * 10) / 10;
console.log(
  `\nsoak: ${SECONDS} s, ${WORKERS} workers, ${events.length} calls recorded, faults of ${FAULT_MS} ms`,
);
for (const [name, t] of [
  ['outside faults', outside],
  ['during faults ', during],
] as const) {
  console.log(
    `  ${name}: ${t.reads} reads; stale values > 100 ms: ${t.over100}, > 1 s: ${t.over1000}, worst ${round(t.worstMs)} ms; misses of a value written > 100 ms before: ${t.missesOver100}`,
  );
}
console.log(`  reads after recovery of values invalidated or overwritten during a fault: ${resurrected}`);
console.log(`  reads no write explains: ${unexplained}`);
console.log(
  `  log lines: ${totalLines} (${round(totalLines / (WORKERS * faults.length))} per worker and fault; debug and the audit line of each invalidation not counted):`,
);
for (const [line, count] of Object.entries(lines).sort((a, b) => b[1] - a[1]))
  console.log(`    ${count}  ${line}`);
process.exit(resurrected === 0 && unexplained === 0 ? 0 : 1);
