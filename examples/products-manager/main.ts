// The Products Manager: `npm start` at the repository root builds cachette and runs this file.
import cluster from 'node:cluster';
import { runCeilingWorker } from './ceiling.js';
import { runPrimary, WORKER_DATABASE_URL } from './primary.js';
import { readSettings, SettingsError } from './settings.js';
import { runWorker } from './worker.js';

try {
  const settings = readSettings();
  if (cluster.isPrimary) await runPrimary(settings);
  else if (settings.loadCeiling) await runCeilingWorker(settings);
  else await runWorker(settings, process.env[WORKER_DATABASE_URL]!);
} catch (err) {
  console.error(`[products-manager] cannot start: ${err instanceof SettingsError ? err.message : err}`);
  process.exit(1);
}
