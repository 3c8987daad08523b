// The embedded database, in a thread of the primary process: PGlite (PostgreSQL compiled to WASM)
// runs its queries synchronously, so in the primary's main thread a heavy report would also stall
// the cluster's connection hand-off and IPC. Here it blocks only this thread. Plain JavaScript:
// worker threads do not inherit the TypeScript loader the rest of the example runs under.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** @type {{ dataDir: string, maxConnections: number }} */
const { dataDir, maxConnections } = workerData;
const port = parentPort;

try {
  const db = await PGlite.create({ dataDir });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections });
  await server.start();
  const address = server.getServerConn();
  port.postMessage({ type: 'listening', port: Number(address.slice(address.lastIndexOf(':') + 1)) });
  port.on('message', async (message) => {
    if (message.type !== 'stop') return;
    await server.stop();
    // closing flushes PGlite's state to the data directory
    await db.close();
    port.postMessage({ type: 'stopped' });
  });
} catch (err) {
  port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
}
