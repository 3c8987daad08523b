// Cross-process getOrSet: `forkGetOrSetWorker` (for the tests) forks this very file, which then
// runs as a worker process. Its argument: JSON { url, env, key, callers, factoryMs, leaseMs,
// waitMs, hang } (`env` instead of `url`: e.g. REDIS_CLUSTER_NODES). The worker reports 'ready'
// over IPC, waits for 'go', then makes `callers` concurrent getOrSet calls and reports 'done'
// with { calls, values, errors, leaseWaits }. With `hang`, the factory reports 'factory-started'
// and never settles (the test kills the process).
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createCache, silentLogger } from '../../src/index.js';
import { waitFor } from './redis.js';

/** A message of the worker; `done` carries the counts. */
export interface WorkerReport {
  type: string;
  calls: number;
  values: string[];
  errors: number;
  leaseWaits: number;
}

interface Job {
  url?: string;
  env?: Record<string, string>;
  key: string;
  callers: number;
  factoryMs: number;
  leaseMs?: number;
  waitMs?: number;
  hang?: boolean;
}

const THIS_FILE = fileURLToPath(import.meta.url);

/**
 * Forks a getOrSet worker with `job` (its connection: `url` or `env`, and what to do), adds it to
 * `children` (the caller kills them after each test), and resolves once it is connected.
 * `next(type)` waits for its first message of that type.
 */
export async function forkGetOrSetWorker(job: Record<string, unknown>, children: Set<ChildProcess>) {
  const child = fork(THIS_FILE, [JSON.stringify(job)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const messages: WorkerReport[] = [];
  child.on('message', (m) => messages.push(m as WorkerReport));
  const next = async (type: string) => {
    await waitFor(() => messages.some((m) => m.type === type), 20_000, `worker message ${type}`);
    return messages.find((m) => m.type === type)!;
  };
  await next('ready');
  return { child, next };
}

/** The worker: one cache, `job.callers` concurrent getOrSet calls of `job.key` on 'go'. */
async function runWorker(job: Job): Promise<void> {
  const send = (message: unknown) => process.send?.(message);
  const cache = createCache({
    redisUrl: job.url,
    logger: silentLogger,
    env: job.env ?? {},
    operationTimeoutMs: 2000,
  });
  await cache.ready();

  let calls = 0;
  const factory = async () => {
    calls++;
    if (job.hang) {
      send({ type: 'factory-started' });
      return new Promise<string>(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, job.factoryMs));
    return `value from ${process.pid}`;
  };

  process.on('message', async (message) => {
    if (message !== 'go') return;
    const outcomes = await Promise.allSettled(
      Array.from({ length: job.callers }, () =>
        cache.getOrSet(job.key, factory, {
          lock: { leaseMs: job.leaseMs ?? 5000, waitMs: job.waitMs ?? 10_000 },
        }),
      ),
    );
    const values = new Set(outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])));
    const errors = outcomes.filter((o) => o.status === 'rejected').length;
    send({ type: 'done', calls, values: [...values], errors, leaseWaits: cache.stats().loading.leaseWaits });
    await cache.close();
    process.disconnect();
  });
  send({ type: 'ready' });
}

if (process.argv[1] === THIS_FILE) {
  await runWorker(JSON.parse(process.argv[2] ?? '{}') as Job);
}
