import cluster, { type Worker } from 'node:cluster';
import { redactUrl } from 'cachette';
import { AggregatorRegistry } from 'prom-client';
import { resolveAdminToken } from './admin-token.js';
import { askTheWorkers, serveTheWorkers } from './cluster-ipc.js';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './database/embedded.js';
import { prepareDatabase } from './database/schema.js';
import { Database } from './database/sql.js';
import { HitRateHistory } from './hit-rate-history.js';
import type { Settings } from './settings.js';
import type { WorkerStatus } from './worker.js';

/** Environment variable through which the primary hands the database URL to its workers. */
export const WORKER_DATABASE_URL = 'PRODUCTS_MANAGER_DATABASE_URL';

const SAMPLE_INTERVAL_MS = 2000;
const SHUTDOWN_GRACE_MS = 15_000;

function log(message: string): void {
  console.log(`[products-manager] ${message}`);
}

/** The database the workers use, opened (and on the first start created and seeded) by the primary. */
interface OpenDatabase {
  url: string;
  /** How the status and the start-up line name it (credentials redacted). */
  label: string;
  stop(): Promise<void>;
}

/**
 * Opens the embedded PGlite, served over the Postgres protocol, unless DATABASE_URL names a
 * PostgreSQL; creates and seeds it on the first start.
 */
async function openDatabase(settings: Settings): Promise<OpenDatabase> {
  let embedded: EmbeddedDatabase | undefined;
  if (settings.databaseUrl === undefined) {
    log(`opening the embedded database in ${settings.dataDir}/pglite`);
    embedded = await startEmbeddedDatabase(`${settings.dataDir}/pglite`);
  }
  const url = settings.databaseUrl ?? embedded!.url;
  const setup = new Database(url, { max: 1 });
  try {
    const seedStart = Date.now();
    const seeded = await prepareDatabase(setup, settings.seedProducts);
    if (seeded > 0)
      log(`seeded ${seeded} products and their data in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
  } finally {
    await setup.close();
  }
  return {
    url,
    label: embedded ? `embedded PGlite (${settings.dataDir}/pglite)` : redactUrl(url),
    stop: async () => embedded?.stop(),
  };
}

/**
 * The primary process: opens the database (the embedded PGlite, served over the Postgres protocol,
 * unless DATABASE_URL names a PostgreSQL), creates and seeds it on the first start, forks the
 * workers (and replaces any that dies), aggregates their metrics and status, and shuts everything
 * down in order on SIGTERM/SIGINT. With LOAD_CEILING the same, without a database.
 */
export async function runPrimary(settings: Settings): Promise<void> {
  const started = Date.now();
  // the ceiling's workers answer from a constant: no database to open, nor to wait for
  const database = settings.loadCeiling ? undefined : await openDatabase(settings);
  const admin = resolveAdminToken(process.env, settings.dataDir);

  const aggregator = new AggregatorRegistry();
  const history = new HitRateHistory(150);
  const databaseLabel = database?.label ?? 'none (LOAD_CEILING: constant answers)';
  const clusterStatus = async () => {
    const workers = await askTheWorkers('status');
    return {
      generatedAt: new Date().toISOString(),
      primary: {
        pid: process.pid,
        uptimeSeconds: Math.round(process.uptime()),
        database: databaseLabel,
        redisUrl: redactUrl(settings.redisUrl),
        cacheDisabled: settings.cacheDisabled,
        adminTokenSource: admin.source === 'CACHE_ADMIN_TOKEN' ? 'CACHE_ADMIN_TOKEN' : `file ${admin.source}`,
      },
      workers: workers.map(({ workerId, answer }) => answer ?? { workerId, unresponsive: true }),
      history: history.samples(),
    };
  };
  serveTheWorkers(async (question) =>
    question === 'metrics' ? aggregator.clusterMetrics() : clusterStatus(),
  );
  const sampler = setInterval(async () => {
    const answers = await askTheWorkers('status');
    history.record(
      Date.now(),
      answers.flatMap(({ answer }) => (answer ? [answer as WorkerStatus] : [])),
    );
  }, SAMPLE_INTERVAL_MS);

  let shuttingDown = false;
  const env = { ...(database && { [WORKER_DATABASE_URL]: database.url }), CACHE_ADMIN_TOKEN: admin.token };
  const fork = () => {
    const worker = cluster.fork(env);
    // a send to a worker that has just exited fails; reported here, it does not bring the primary down
    worker.on('error', (err: Error) => log(`worker ${worker.id}: ${err.message}`));
    return worker;
  };
  let ready = false;
  let listening = 0;
  const allListening = new Promise<void>((resolve, reject) => {
    cluster.on('listening', () => {
      if (++listening === settings.workers) resolve();
    });
    cluster.on('exit', (worker: Worker, code, signal) => {
      if (shuttingDown) return;
      // a worker that cannot even start (port taken…) would fail again: give up instead of looping
      if (!ready)
        return reject(new Error(`worker ${worker.id} exited during start-up (${signal ?? `code ${code}`})`));
      log(`worker ${worker.id} exited (${signal ?? `code ${code}`}); starting another`);
      setTimeout(fork, 500);
    });
  });
  for (let i = 0; i < settings.workers; i++) fork();
  try {
    await allListening;
  } catch (err) {
    shuttingDown = true;
    clearInterval(sampler);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    await database?.stop();
    throw err;
  }
  ready = true;
  log(
    `ready in ${((Date.now() - started) / 1000).toFixed(1)} s: http://${settings.host}:${settings.port}/ ` +
      `(${settings.workers} workers, database: ${databaseLabel}, Redis: ${redactUrl(settings.redisUrl)}` +
      `${settings.cacheDisabled ? ', cache disabled' : ''}; admin token from ${admin.source})`,
  );

  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`${signal}: stopping the workers`);
    clearInterval(sampler);
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const timer = setTimeout(() => worker.process.kill('SIGKILL'), SHUTDOWN_GRACE_MS);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            worker.process.kill('SIGTERM');
          }),
      ),
    );
    await database?.stop();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
