// `npm run load`: the Products Manager under autocannon on loopback, each case for a fixed time.
// Cache on vs CACHE_DISABLED=1 (database only) for the dashboard and product endpoints, then a run
// during which Redis is killed and restarted: every answer must still be a 2xx. It starts its own
// redis-server on a free port and its own service; results go to examples/products-manager/LOAD.md.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon, { type Result } from 'autocannon';

const DURATION_SECONDS = Number(process.env.LOAD_DURATION_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 20);
const WARM_UP_SECONDS = 5;
const SEED_PRODUCTS = Number(process.env.SEED_PRODUCTS ?? 50_000);
/** The hot set of products the product-page case reads at random (a catalog's best sellers). */
const HOT_PRODUCTS = 500;
const DATA_DIR = join(resolve(process.env.DATA_DIR ?? '.data'), 'load');
const REPORT = new URL('./LOAD.md', import.meta.url);

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => done(port));
    });
  });
}

async function until(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** A redis-server of our own, without persistence, that the restart case can kill. */
async function startRedis(port: number): Promise<ChildProcess> {
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await until(() => canConnect(port), 10_000, `redis-server on ${port}`);
  return redis;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill(signal);
  await exited;
}

/** The service (built library, two workers) on `port`; resolves once every worker listens. */
async function startService(port: number, redisPort: number, cacheDisabled: boolean): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/products-manager/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
      DATA_DIR,
      SEED_PRODUCTS: String(SEED_PRODUCTS),
      CACHE_DISABLED: cacheDisabled ? '1' : '',
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    process.stdout.write(chunk);
  });
  await until(
    () => {
      if (child.exitCode !== null) throw new Error('the service exited');
      return output.includes('[products-manager] ready');
    },
    600_000,
    'the service',
  );
  return child;
}

const random = (n: number) => 1 + Math.floor(Math.random() * n);
const CATEGORIES = ['books', 'toys', 'garden', 'kitchen', 'sports', 'music'];

/** The cases: one path generator each. */
const CASES: Array<{ name: string; path: () => string }> = [
  { name: 'GET /api/v1/dashboard', path: () => '/api/v1/dashboard' },
  {
    name: `GET /api/v1/products/:id (${HOT_PRODUCTS} hot ids)`,
    path: () => `/api/v1/products/${random(HOT_PRODUCTS)}`,
  },
  {
    name: 'GET /api/v1/products?category&page (60 pages)',
    path: () => `/api/v1/products?category=${CATEGORIES[random(CATEGORIES.length) - 1]}&page=${random(10)}`,
  },
];

/**
 * Waits until the database is idle again: an uncached heavy case (the dashboard without cache) leaves
 * queries queued in PGlite's single session after autocannon stops, which would slow the next case.
 */
async function settle(port: number): Promise<void> {
  await until(
    async () => {
      const started = Date.now();
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      await response.arrayBuffer();
      return response.ok && Date.now() - started < 100;
    },
    120_000,
    'the database to be idle',
  );
}

function run(port: number, path: () => string, durationSeconds: number): Promise<Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: durationSeconds,
    timeout: 10,
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: path() }) }],
  });
}

interface Row {
  name: string;
  on: Result;
  off: Result;
}

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

async function main(): Promise<void> {
  execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  const redisPort = await freePort();
  let redis = await startRedis(redisPort);
  const port = await freePort();
  const rows: Row[] = CASES.map((c) => ({ name: c.name }) as Row);
  try {
    for (const mode of ['on', 'off'] as const) {
      console.log(`\n== cache ${mode}`);
      const service = await startService(port, redisPort, mode === 'off');
      try {
        for (const [i, c] of CASES.entries()) {
          // a short warm-up: the first requests fill the cache (or the database's own buffers)
          await run(port, c.path, WARM_UP_SECONDS);
          await settle(port);
          const result = await run(port, c.path, DURATION_SECONDS);
          rows[i]![mode] = result;
          await settle(port);
          console.log(
            `${c.name}: ${fmt(result.requests.average)} req/s, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}`,
          );
        }
      } finally {
        await stop(service);
      }
    }

    console.log('\n== cache on, Redis killed and restarted during the run');
    const service = await startService(port, redisPort, false);
    let restart: Result;
    const timeline: string[] = [];
    try {
      const mixed = () => CASES[random(CASES.length) - 1]!.path();
      await run(port, mixed, WARM_UP_SECONDS);
      const started = Date.now();
      const pending = run(port, mixed, 2 * DURATION_SECONDS);
      await new Promise((r) => setTimeout(r, (DURATION_SECONDS * 1000) / 2));
      await stop(redis, 'SIGKILL');
      timeline.push(`Redis killed at ${((Date.now() - started) / 1000).toFixed(1)} s`);
      await new Promise((r) => setTimeout(r, (DURATION_SECONDS * 1000) / 2));
      redis = await startRedis(redisPort);
      timeline.push(`Redis restarted at ${((Date.now() - started) / 1000).toFixed(1)} s`);
      restart = await pending;
    } finally {
      await stop(service);
    }
    console.log(
      `${timeline.join(', ')}: ${fmt(restart.requests.total)} requests, ${restart.non2xx} non-2xx, ` +
        `${restart.errors} errors, p99 ${restart.latency.p99} ms`,
    );
    writeFileSync(REPORT, report(rows, restart, timeline));
    console.log(`\nwritten to ${REPORT.pathname}`);
  } finally {
    await stop(redis);
  }
}

function report(rows: Row[], restart: Result, timeline: string[]): string {
  const table = rows.map(({ name, on, off }) => {
    const ratio = on.requests.average / Math.max(1, off.requests.average);
    return `| ${name} | ${fmt(on.requests.average)} | ${on.latency.p99} | ${fmt(off.requests.average)} | ${off.latency.p99} | ${ratio.toFixed(1)}x |`;
  });
  return `# Products Manager under load

\`npm run load\` (examples/products-manager/load.ts), ${new Date().toISOString().slice(0, 10)}: autocannon on loopback,
${CONNECTIONS} connections, ${DURATION_SECONDS} s per case after a ${WARM_UP_SECONDS} s warm-up, two workers, the embedded PGlite with
${fmt(SEED_PRODUCTS)} products, Redis ${execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ')[2]?.replace('v=', '')}
on loopback; ${cpus().length} CPU cores shared with the load generator (and, when this was measured, other jobs): absolute
numbers are indicative, the ratios are the point.

## Cache on vs \`CACHE_DISABLED=1\` (database only)

| Case | cache on req/s | p99 ms | cache off req/s | p99 ms | on / off |
|---|---:|---:|---:|---:|---:|
${table.join('\n')}

Every answer of these runs was a 2xx: ${rows.every((r) => r.on.non2xx === 0 && r.off.non2xx === 0) ? 'yes' : 'no'}.

## Redis killed and restarted in the middle (cache on, the three cases mixed, ${2 * DURATION_SECONDS} s)

${timeline.join('; ')}.

| requests | non-2xx | errors | timeouts | req/s | p99 ms |
|---:|---:|---:|---:|---:|---:|
| ${fmt(restart.requests.total)} | ${restart.non2xx} | ${restart.errors} | ${restart.timeouts} | ${fmt(restart.requests.average)} | ${restart.latency.p99} |

While Redis is down each worker's circuit breaker answers cache calls at once and the service reads from the
database; once Redis is back the breaker's probe closes it within a second.
`;
}

await main();
