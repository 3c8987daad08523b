import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, waitFor } from '../../support/redis.js';

export const ADMIN_TOKEN = 'products-manager-test-token';
/** Products the tests' first start seeds: enough for pages and filters, quick to create. */
export const SEED_PRODUCTS = 2000;

// biome-ignore lint/suspicious/noExplicitAny: a JSON answer, which the assertions inspect field by field
export type Json = any;

export interface Answer<T = Json> {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: T;
  /** Which worker answered (`x-worker-id`). */
  worker: number;
}

export interface SendOptions {
  json?: unknown;
  /** A raw body, sent with `contentType`. */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
  admin?: boolean;
  /** Rejects after this many ms without a complete answer (default: waits as long as it takes). */
  timeoutMs?: number;
}

/** The Products Manager running as a real process tree (primary + workers) for a test. */
export interface RunningService {
  port: number;
  url: string;
  request<T = Json>(method: string, path: string, options?: SendOptions): Promise<Answer<T>>;
  /** Repeats a GET on new connections until worker `workerId` answers it. */
  getVia<T = Json>(workerId: number, path: string): Promise<Answer<T>>;
  /** What the service printed (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGTERM, then waits for the whole process tree to exit; resolves to the primary's exit code. */
  stop(): Promise<number | null>;
}

/**
 * One HTTP request on a new connection (no keep-alive): the cluster's round robin hands successive
 * connections to successive workers, which lets a test reach each of them.
 */
export function send<T>(
  port: number,
  method: string,
  path: string,
  options: SendOptions = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  } else if (options.raw !== undefined) {
    body = options.raw;
    headers['content-type'] = options.contentType ?? 'text/plain';
  }
  if (options.admin) headers.authorization = `Bearer ${ADMIN_TOKEN}`;
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method, path, headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const json = (response.headers['content-type'] ?? '').includes('application/json');
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: (json && text ? JSON.parse(text) : text) as T,
            worker: Number(response.headers['x-worker-id'] ?? 0),
          });
        });
      },
    );
    request.on('error', reject);
    if (options.timeoutMs !== undefined) {
      request.setTimeout(options.timeoutMs, () =>
        request.destroy(new Error(`${method} ${path}: no answer within ${options.timeoutMs} ms`)),
      );
    }
    request.end(body);
  });
}

/**
 * Starts the service with `node --import tsx examples/products-manager/main.ts`, against the
 * library's sources (the example's tsconfig maps `cachette` to `src/`), two workers, a fresh data
 * directory, a small seed; resolves once the primary reports every worker listening.
 */
export async function startService(options: {
  redisUrl: string;
  databaseUrl?: string;
  /** A data directory the caller owns (kept at stop); default a fresh one, removed at stop. */
  dataDir?: string;
  env?: Record<string, string>;
}): Promise<RunningService> {
  const port = await freePort();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'products-manager-'));
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'examples/products-manager/main.ts'],
    {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: options.redisUrl,
        DATA_DIR: dataDir,
        DATABASE_URL: options.databaseUrl ?? '',
        SEED_PRODUCTS: String(SEED_PRODUCTS),
        WEB_CONCURRENCY: '2',
        CACHE_ADMIN_TOKEN: ADMIN_TOKEN,
        LOG_LEVEL: 'warn',
        TSX_TSCONFIG_PATH: 'examples/products-manager/tsconfig.json',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    }
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    return exited;
  };
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode}):\n${output}`);
        return output.includes('[products-manager] ready');
      },
      180_000,
      'the Products Manager to start',
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const request = <T>(method: string, path: string, sendOptions?: SendOptions) =>
    send<T>(port, method, path, sendOptions);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    request,
    async getVia<T>(workerId: number, path: string) {
      for (let attempt = 0; attempt < 50; attempt++) {
        const answer = await request<T>('GET', path);
        if (answer.worker === workerId) return answer;
      }
      throw new Error(`worker ${workerId} never answered GET ${path}`);
    },
    output: () => output,
    stop,
  };
}

/** A fresh database on the local PostgreSQL (127.0.0.1:5432, or PM_TEST_POSTGRES_URL), dropped by `drop()`. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = process.env.PM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const name = `pm_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `these tests need PostgreSQL at ${adminUrl} (set PM_TEST_POSTGRES_URL to another server): ${err}`,
    );
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
