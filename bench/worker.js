// Runs one scenario case against one adapter in a fresh process, so that libraries do not share
// a JIT profile, a heap or a GC, and sends the rows back to bench/run.js.
import { adapterNamed } from './adapters/index.js';
import { caseNamed } from './scenarios/index.js';

const [caseId, adapterName] = process.argv.slice(2);
const { ctx, params } = JSON.parse(process.env.BENCH_JOB ?? '{}');
try {
  const rows = await caseNamed(caseId).run(adapterNamed(adapterName), ctx, params);
  process.send({ rows }, () => process.exit(0));
} catch (err) {
  process.send({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () =>
    process.exit(1),
  );
}
