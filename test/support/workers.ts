import { type ChildProcess, fork } from 'node:child_process';

/** A cache in a child process (test/fixtures/coherence-worker.ts), called over IPC. */
export interface CacheWorker {
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** Forks a coherence worker with these `createCache` options and waits until its cache is ready. */
export async function startCacheWorker(options: Record<string, unknown>): Promise<CacheWorker> {
  const child = fork('test/fixtures/coherence-worker.ts', [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  let nextId = 0;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`coherence worker exited early (${code})`)));
    child.on('message', (message: { ready?: boolean; id?: number; result?: unknown; error?: string }) => {
      if (message.ready) return resolve();
      const waiter = pending.get(message.id ?? -1);
      if (!waiter) return;
      pending.delete(message.id!);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
  });
  await ready;
  return {
    process: child,
    call<T>(op: string, args: Record<string, unknown> = {}) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, op, ...args });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
