// `npm run load`: the Products Manager under autocannon on loopback, each case for a fixed time.
// First the ceiling (LOAD_CEILING=1: the same workers answering the product route from a constant),
// then cache on vs CACHE_DISABLED=1 (database only) for the dashboard and product endpoints, each
// cached case also as a fraction of the ceiling, then a run during which Redis is killed and
// restarted: every answer must still be a 2xx. It starts its own redis-server on a free port and its
// own service; results go to examples/products-manager/LOAD.md.
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
/** The share of the ceiling the product endpoint should reach with the cache on. */
const GOAL = 0.8;
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

type Mode = 'ceiling' | 'on' | 'off';

/** The service (built library, two workers) on `port`; resolves once every worker listens. */
async function startService(port: number, redisPort: number, mode: Mode): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/products-manager/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
      DATA_DIR,
      SEED_PRODUCTS: String(SEED_PRODUCTS),
      CACHE_DISABLED: mode === 'off' ? '1' : '',
      LOAD_CEILING: mode === 'ceiling' ? '1' : '',
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

interface Case {
  name: string;
  path: () => string;
}

/** The case the ceiling serves too, and the one the goal is about. */
const PRODUCT_BY_ID: Case = {
  name: `GET /api/v1/products/:id (${HOT_PRODUCTS} hot ids)`,
  path: () => `/api/v1/products/${random(HOT_PRODUCTS)}`,
};

/** The cases: one path generator each. */
const CASES: Case[] = [
  { name: 'GET /api/v1/dashboard', path: () => '/api/v1/dashboard' },
  PRODUCT_BY_ID,
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

/**
 * A short warm-up (the first requests fill the cache, or the database's own buffers), then the
 * measured run; `settled`: wait for the database to be idle before and after.
 */
async function measure(port: number, path: () => string, settled: boolean): Promise<Result> {
  await run(port, path, WARM_UP_SECONDS);
  if (settled) await settle(port);
  const result = await run(port, path, DURATION_SECONDS);
  if (settled) await settle(port);
  return result;
}

/** Size of one answer's body in bytes, to show that the ceiling sends what the API sends. */
async function bodyBytes(port: number, path: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return (await response.arrayBuffer()).byteLength;
}

interface Row {
  name: string;
  on: Result;
  off: Result;
}

interface Ceiling {
  result: Result;
  bodyBytes: number;
  /** The API's answer for the same id, cache on. */
  apiBodyBytes: number;
}

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
const share = (result: Result, ceiling: Result) =>
  result.requests.average / Math.max(1, ceiling.requests.average);

async function main(): Promise<void> {
  execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  const redisPort = await freePort();
  let redis = await startRedis(redisPort);
  const port = await freePort();
  const rows: Row[] = CASES.map((c) => ({ name: c.name }) as Row);
  const sample = `/api/v1/products/${HOT_PRODUCTS}`;
  try {
    console.log('\n== ceiling: the same workers, the product route answered from a constant');
    const ceilingService = await startService(port, redisPort, 'ceiling');
    const ceiling = {} as Ceiling;
    try {
      // no database behind it: nothing to settle
      ceiling.result = await measure(port, PRODUCT_BY_ID.path, false);
      ceiling.bodyBytes = await bodyBytes(port, sample);
    } finally {
      await stop(ceilingService);
    }
    console.log(
      `${PRODUCT_BY_ID.name} from a constant: ${fmt(ceiling.result.requests.average)} req/s, ` +
        `p99 ${ceiling.result.latency.p99} ms, non-2xx ${ceiling.result.non2xx}`,
    );

    for (const mode of ['on', 'off'] as const) {
      console.log(`\n== cache ${mode}`);
      const service = await startService(port, redisPort, mode);
      try {
        for (const [i, c] of CASES.entries()) {
          const result = await measure(port, c.path, true);
          rows[i]![mode] = result;
          const fraction =
            mode === 'on' ? `, ${share(result, ceiling.result).toFixed(2)}x of the ceiling` : '';
          console.log(
            `${c.name}: ${fmt(result.requests.average)} req/s${fraction}, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}`,
          );
        }
        if (mode === 'on') ceiling.apiBodyBytes = await bodyBytes(port, sample);
      } finally {
        await stop(service);
      }
    }
    const product = rows[CASES.indexOf(PRODUCT_BY_ID)]!;
    console.log(`\n${goal(product.on, ceiling.result)}`);

    console.log('\n== cache on, Redis killed and restarted during the run');
    const service = await startService(port, redisPort, 'on');
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
    writeFileSync(REPORT, report(ceiling, rows, restart, timeline));
    console.log(`\nwritten to ${REPORT.pathname}`);
  } finally {
    await stop(redis);
  }
}

/** The goal, said plainly: met or not, with the fraction measured. */
function goal(product: Result, ceiling: Result): string {
  const fraction = share(product, ceiling);
  const verdict = fraction >= GOAL ? 'met' : 'not met';
  return (
    `Goal: ${PRODUCT_BY_ID.name} with the cache on at >= ${GOAL}x of the ceiling: ${verdict} ` +
    `(${fraction.toFixed(2)}x: ${fmt(product.requests.average)} of ${fmt(ceiling.requests.average)} req/s).`
  );
}

function report(ceiling: Ceiling, rows: Row[], restart: Result, timeline: string[]): string {
  const table = rows.map(({ name, on, off }) => {
    const ratio = on.requests.average / Math.max(1, off.requests.average);
    return `| ${name} | ${fmt(on.requests.average)} | ${on.latency.p99} | ${share(on, ceiling.result).toFixed(2)}x | ${fmt(off.requests.average)} | ${off.latency.p99} | ${ratio.toFixed(1)}x |`;
  });
  const product = rows[CASES.indexOf(PRODUCT_BY_ID)]!;
  return `# Products Manager under load

\`npm run load\` (examples/products-manager/load.ts), ${new Date().toISOString().slice(0, 10)}: autocannon on loopback,
${CONNECTIONS} connections, ${DURATION_SECONDS} s per case after a ${WARM_UP_SECONDS} s warm-up, two workers, the embedded PGlite with
${fmt(SEED_PRODUCTS)} products, Redis ${execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ')[2]?.replace('v=', '')}
on loopback; ${cpus().length} CPU cores shared with the load generator (and, when this was measured, other jobs): absolute
numbers are indicative, the ratios are the point.

## Ceiling: the web stack alone (\`LOAD_CEILING=1\`)

The same service, workers and autocannon settings, measured first in the same run:
\`GET /api/v1/products/:id\` (${HOT_PRODUCTS} hot ids) answered by the same Fastify set-up and route
options from a constant product (${ceiling.bodyBytes} bytes of JSON; the API's answer for id ${HOT_PRODUCTS}:
${ceiling.apiBodyBytes} bytes), without database or cache: what the web stack alone serves for this answer.

| Case | req/s | p99 ms |
|---|---:|---:|
| ${PRODUCT_BY_ID.name} from a constant | ${fmt(ceiling.result.requests.average)} | ${ceiling.result.latency.p99} |

**${goal(product.on, ceiling.result)}**

## Cache on vs \`CACHE_DISABLED=1\` (database only)

| Case | cache on req/s | p99 ms | on / ceiling | cache off req/s | p99 ms | on / off |
|---|---:|---:|---:|---:|---:|---:|
${table.join('\n')}

Every answer of these runs was a 2xx: ${ceiling.result.non2xx === 0 && rows.every((r) => r.on.non2xx === 0 && r.off.non2xx === 0) ? 'yes' : 'no'}.

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
