import { resolve } from 'node:path';

/** Why the service refuses to start: a bad environment variable, named with what to do. */
export class SettingsError extends Error {
  readonly code = 'E_PM_SETTINGS';
}

/** Everything the Products Manager reads from its environment, parsed once. */
export interface Settings {
  host: string;
  port: number;
  workers: number;
  /** `postgres://…` of a real PostgreSQL; `undefined`: the embedded PGlite under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string;
  /** `CACHE_DISABLED=1`: every read goes to the database (the load script's baseline). */
  cacheDisabled: boolean;
  /**
   * `LOAD_CEILING=1`: the workers answer the product route from a constant, without database or
   * cache (the load script's ceiling: what the web stack alone serves).
   */
  loadCeiling: boolean;
  /** Products created by the first start's seed. */
  seedProducts: number;
  /** Imports one worker reads or runs at once; beyond, a 429. */
  importConcurrency: number;
  /** Interval of the periodic warming, in ms (5 minutes). */
  warmingIntervalMs: number;
  logLevel: string;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SettingsError(
      `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/** Reads the settings; throws `SettingsError` naming the variable when one is malformed. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new SettingsError('DATABASE_URL must start with postgres:// (or postgresql://)');
  }
  return {
    host: env.HOST?.trim() || '127.0.0.1',
    port: integer(env, 'PORT', 3000, 0, 65535),
    workers: integer(env, 'WEB_CONCURRENCY', 2, 1, 64),
    databaseUrl,
    dataDir: resolve(env.DATA_DIR?.trim() || '.data'),
    redisUrl: env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379/0',
    cacheDisabled: env.CACHE_DISABLED === '1' || env.CACHE_DISABLED === 'true',
    loadCeiling: env.LOAD_CEILING === '1' || env.LOAD_CEILING === 'true',
    seedProducts: integer(env, 'SEED_PRODUCTS', 50_000, 100, 5_000_000),
    warmingIntervalMs: integer(env, 'WARMING_INTERVAL_MS', 300_000, 1000, 86_400_000),
    importConcurrency: integer(env, 'IMPORT_CONCURRENCY', 2, 1, 64),
    logLevel: env.LOG_LEVEL?.trim() || 'info',
  };
}
