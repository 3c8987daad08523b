import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** The embedded PGlite served over the Postgres protocol on a free loopback port. */
export interface EmbeddedDatabase {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`: what the workers connect to. */
  url: string;
  /** Stops the socket server and closes PGlite (its data stays in the data directory). */
  stop(): Promise<void>;
}

/**
 * Opens (or creates, about 10 s the first time) the PGlite database under `dataDir` in a thread and
 * serves it on 127.0.0.1. pglite-socket multiplexes the connections of all workers onto PGlite's
 * single session, one query at a time.
 */
export async function startEmbeddedDatabase(dataDir: string, maxConnections = 64): Promise<EmbeddedDatabase> {
  mkdirSync(dataDir, { recursive: true });
  const thread = new Worker(new URL('./embedded-thread.js', import.meta.url), {
    workerData: { dataDir, maxConnections },
  });
  let stopped: () => void = () => {};
  const port = await new Promise<number>((resolve, reject) => {
    thread.on('error', reject);
    thread.on('exit', (code) => {
      reject(new Error(`the embedded database thread exited (code ${code})`));
      stopped();
    });
    thread.on('message', (message: { type: string; port?: number; message?: string }) => {
      if (message.type === 'listening') resolve(message.port!);
      else if (message.type === 'stopped') stopped();
      else reject(new Error(`the embedded database did not start: ${message.message}`));
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        // PGlite closes in well under a second; a thread stuck in a query is ended anyway
        const timer = setTimeout(() => stopped(), 10_000);
        stopped = () => {
          clearTimeout(timer);
          void thread.terminate().then(() => resolve());
        };
        thread.postMessage({ type: 'stop' });
      });
      return stopping;
    },
  };
}
