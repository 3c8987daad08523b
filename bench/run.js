// Quick benchmark: cachette L1 and L2 hits against their floors (raw lru-cache, raw node-redis GET),
// in the same run, against a redis-server this script starts on a free port.
// `npm run bench` (after `npm ci`); `-- --quick` for a shorter run.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createClient } from '@redis/client';
import { LRUCache } from 'lru-cache';
import { createCache, silentLogger } from '../dist/index.js';

const quick = process.argv.includes('--quick');
const ITER_L1 = quick ? 200_000 : 2_000_000;
const ITER_L2 = quick ? 5_000 : 30_000;

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => r(s.destroy() || true)).on('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { port, url: `redis://127.0.0.1:${port}/0`, stop: () => proc.kill('SIGKILL') };
}

async function measure(name, iterations, op) {
  for (let i = 0; i < Math.min(iterations, 10_000); i++) await op(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await op(i);
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  return { name, nsPerOp: ns, opsPerSec: 1e9 / ns };
}

const redis = await startRedis();
const raw = createClient({ url: redis.url });
await raw.connect();
const cache = createCache({ redisUrl: redis.url, logger: silentLogger, env: {} });
const l2only = createCache({ redisUrl: redis.url, logger: silentLogger, env: {}, l1: { enabled: false } });
await cache.ready();
await l2only.ready();

const value = { id: 42, name: 'Produit', price: 19.9, tags: ['a', 'b'] };
const lru = new LRUCache({ max: 10_000 });
lru.set('catalog_p42', value);
await cache.set('p42', value, { dbType: 'catalog' });

const results = [];
results.push(await measure('raw lru-cache get (await)', ITER_L1, () => lru.get('catalog_p42')));
results.push(await measure('cachette L1 hit', ITER_L1, () => cache.get('p42', { dbType: 'catalog' })));
results.push(
  await measure('raw node-redis GET + JSON.parse', ITER_L2, async () =>
    JSON.parse(await raw.get('catalog_p42')),
  ),
);
results.push(
  await measure('cachette L2 hit (L1 off)', ITER_L2, () => l2only.get('p42', { dbType: 'catalog' })),
);

const floor = { 'cachette L1 hit': results[0], 'cachette L2 hit (L1 off)': results[2] };
console.log(`\nNode ${process.version}, ${quick ? 'quick' : 'full'} run, concurrency 1\n`);
console.log('| operation | ops/s | ns/op | ratio to floor |');
console.log('|---|---:|---:|---:|');
for (const r of results) {
  const base = floor[r.name];
  const ratio = base ? `${(r.nsPerOp / base.nsPerOp).toFixed(2)}x` : 'floor';
  console.log(
    `| ${r.name} | ${Math.round(r.opsPerSec).toLocaleString('en')} | ${Math.round(r.nsPerOp)} | ${ratio} |`,
  );
}

await cache.close();
await l2only.close();
await raw.close();
redis.stop();
