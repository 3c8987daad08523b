import { type ChildProcess, fork } from 'node:child_process';
import { waitFor } from './redis.js';

/** A message of test/fixtures/get-or-set-worker.ts; `done` carries the counts. */
export interface WorkerReport {
  type: string;
  calls: number;
  values: string[];
  errors: number;
  leaseWaits: number;
}

/**
 * Forks a getOrSet worker (test/fixtures/get-or-set-worker.ts) with `job` (its connection: `url` or
 * `env`, and what to do), adds it to `children` (the caller kills them after each test), and
 * resolves once it is connected. `next(type)` waits for its first message of that type.
 */
export async function forkGetOrSetWorker(job: Record<string, unknown>, children: Set<ChildProcess>) {
  const child = fork('test/fixtures/get-or-set-worker.ts', [JSON.stringify(job)], {
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
