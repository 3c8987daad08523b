// Runs one scenario case against one adapter in a fresh process, so that libraries do not share
// a JIT profile, a heap or a GC, and sends the rows back to bench/run.js.
//
// Standalone (for profiling), it starts its own redis-server and prints the rows:
//   node --expose-gc --cpu-prof bench/worker.js l2-hit-c64 cachette [--quick]
import { loadAdapter } from './adapters/index.js';
import { startRedisServer } from './lib/redis-server.js';
import { caseNamed } from './scenarios/index.js';

const [caseId, adapterName] = process.argv.slice(2);
const spec = caseNamed(caseId);
const adapter = await loadAdapter(adapterName);

if (process.send) {
  const { ctx, params } = JSON.parse(process.env.BENCH_JOB ?? '{}');
  try {
    const rows = await spec.run(adapter, ctx, params);
    process.send({ rows }, () => process.exit(0));
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.send({ error }, () => process.exit(1));
  }
} else {
  const redis = await startRedisServer();
  const ctx = { url: redis.url, host: '127.0.0.1', port: redis.port };
  const rows = await spec.run(adapter, ctx, spec.params(process.argv.includes('--quick'), adapter.role));
  console.log(rows);
  redis.stop();
}
