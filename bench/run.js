// cachette's benchmark: cachette, its floors (raw lru-cache, raw node-redis) and its peers
// (BentoCache, cacheable, cache-manager), same run, same machine, same redis-server.
//
//   npm run bench                  full run (builds first), writes bench/results/latest.md
//   npm run bench -- --quick       short run
//   options: --only=l1-hit,set-c1  --adapters=cachette,node-redis  --repeat=N  --goal-rounds=N  --no-write
//
// Each (scenario, library) pair runs in its own child process (bench/worker.js).
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAdapters } from './adapters/index.js';
import { startRedisServer } from './lib/redis-server.js';
import { caseSection } from './lib/report.js';
import { goals, overviewTable, summaryTable } from './lib/summary.js';
import { cases } from './scenarios/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const argv = process.argv.slice(2);
const flag = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const quick = argv.includes('--quick');
const repeat = Number(flag('repeat') ?? 1);
const only = flag('only')?.split(',');
const onlyAdapters = flag('adapters')?.split(',');
const CHILD_TIMEOUT_MS = 240_000;
/**
 * The cases with a ratio goal: there the floor and cachette run this many times, interleaved,
 * and the median run of each is reported (the spread of the runs in the notes), because they are
 * measured in separate processes minutes apart on a shared machine.
 */
const GOAL_CASES = new Set(['l1-hit', 'l2-hit-c1', 'l2-hit-c64', 'set-c1', 'set-c64', 'get-many']);
const goalRounds = Number(flag('goal-rounds') ?? (quick ? 1 : 3));

function version(pkg) {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

function runChild(spec, adapter, ctx) {
  const params = spec.params(quick, adapter.role);
  return new Promise((resolve) => {
    const child = fork(join(here, 'worker.js'), [spec.id, adapter.name], {
      execArgv: ['--expose-gc'],
      env: { ...process.env, BENCH_JOB: JSON.stringify({ ctx, params }) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let answer;
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('message', (m) => {
      answer = m;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(answer ?? { error: `worker exited (${signal ?? code}) without a result` });
    });
  });
}

/** Of several runs of the same pair, the median by throughput, with the spread of all runs. */
function median(runs) {
  const ok = runs.filter((r) => !r.error);
  if (ok.length === 0) return runs[0];
  const main = (r) => r.rows.find((row) => !row.reference) ?? r.rows[0];
  ok.sort((a, b) => (main(a).opsPerSec ?? 0) - (main(b).opsPerSec ?? 0));
  const chosen = ok[Math.floor((ok.length - 1) / 2)];
  if (ok.length > 1) {
    const all = ok.map((r) => main(r).opsPerSec);
    const spread = ((Math.max(...all) - Math.min(...all)) / main(chosen).opsPerSec) * 100;
    for (const row of chosen.rows) row.spreadPct = spread;
  }
  return chosen;
}

const adapters = await loadAdapters();
const redis = await startRedisServer();
const ctx = { url: redis.url, host: '127.0.0.1', port: redis.port };
const started = new Date();
const loadBefore = os.loadavg();
const selectedCases = cases.filter((c) => !only || only.includes(c.id));
const selectedAdapters = adapters.filter((a) => !onlyAdapters || onlyAdapters.includes(a.name));

const measured = [];
for (const spec of selectedCases) {
  const results = [];
  const pairs = selectedAdapters.filter(
    (a) => spec.roles.includes(a.role) && (!spec.only || spec.only.includes(a.name)),
  );
  const runs = new Map(pairs.map((a) => [a.name, []]));
  // rounds interleave the libraries so that a burst of load from elsewhere hits them all alike
  const rounds = GOAL_CASES.has(spec.id) ? Math.max(repeat, goalRounds) : repeat;
  for (let round = 0; round < rounds; round++) {
    for (const adapter of pairs) {
      // rounds past --repeat are for the goal ratios: the floor and cachette only
      if (round >= repeat && adapter.role === 'peer') continue;
      const pairStarted = performance.now();
      runs.get(adapter.name).push(await runChild(spec, adapter, ctx));
      const seconds = ((performance.now() - pairStarted) / 1000).toFixed(1);
      process.stderr.write(
        `${spec.id} · ${adapter.name}${rounds > 1 ? ` · run ${round + 1}/${rounds}` : ''} · ${seconds} s\n`,
      );
      redis.cli('FLUSHALL');
    }
  }
  for (const adapter of pairs) results.push({ adapter, ...median(runs.get(adapter.name)) });
  measured.push({ spec, results });
  process.stdout.write(`\n${caseSection(spec, results)}`);
}

let redisBenchmark = '';
if (!only || only.includes('redis-benchmark')) {
  const n = quick ? '20000' : '100000';
  const runBench = (...extra) =>
    execFileSync('redis-benchmark', ['-p', String(redis.port), '-q', '-t', 'get,set', '-n', n, ...extra], {
      encoding: 'utf8',
    })
      .split(/\r|\n/)
      .map((l) => l.trim())
      .filter((l) => /requests per second/.test(l))
      .join('\n');
  redisBenchmark = [
    `redis-benchmark -q -t get,set -n ${n} (defaults: 50 clients, 3-byte values)`,
    runBench(),
    '',
    `redis-benchmark -q -t get,set -n ${n} -c 1 -d 1024 (one client, 1 KiB values)`,
    runBench('-c', '1', '-d', '1024'),
  ].join('\n');
  process.stdout.write(`\n### Physical reference\n\n\`\`\`\n${redisBenchmark}\n\`\`\`\n`);
}

const redisVersion = redis.cli('INFO', 'server').match(/redis_version:(\S+)/)?.[1];
redis.stop();
const finished = new Date();
const cpus = os.cpus();
const packages = [...new Set(['@redis/client', 'lru-cache', ...adapters.flatMap((a) => a.packages)])].map(
  (pkg) => `${pkg} ${version(pkg)}`,
);

const header = [
  '# cachette benchmark — latest run',
  '',
  `- Date: ${started.toISOString()} (${Math.round((finished - started) / 1000)} s, ${quick ? 'quick' : 'full'} run${repeat > 1 ? `, median of ${repeat} runs per library` : ''}${goalRounds > repeat ? `; floors and cachette: median of ${goalRounds} interleaved runs in the cases with a ratio goal` : ''})`,
  `- Machine: ${cpus.length} × ${cpus[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}; load average ${loadBefore[0].toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after (shared machine)`,
  `- Node ${process.version}; Redis ${redisVersion} (\`${redis.args}\`, loopback)`,
  `- cachette ${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version} (this checkout, dist/); ${packages.join(', ')}`,
  '',
  'Method: every (scenario, library) pair runs in its own Node process (`--expose-gc`, GC before timing),',
  'after a warm-up, for a fixed number of operations. Ratios compare libraries measured minutes apart',
  'on the same machine; read them, not the absolute numbers.',
  '',
].join('\n');

const configs = [
  '## Configurations',
  '',
  ...selectedAdapters.map((a) => `- **${a.name}** (${a.role}): ${a.config(ctx)}`),
  '',
].join('\n');

const summary = summaryTable(goals(measured));
const body = measured.map(({ spec, results }) => caseSection(spec, results)).join('\n');
const reference = redisBenchmark ? `### Physical reference\n\n\`\`\`\n${redisBenchmark}\n\`\`\`\n` : '';
const overview = overviewTable(measured);
const markdown = `${header}\n## Goals\n\n${summary}\n\n## Overview\n\n${overview}\n\n${configs}\n## Results\n\n${body}\n${reference}`;
process.stdout.write(`\n## Goals\n\n${summary}\n`);
if (!argv.includes('--no-write')) {
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'latest.md'), markdown);
  writeFileSync(join(here, 'results', 'latest.json'), JSON.stringify(measured, null, 1));
  process.stderr.write('\nwritten to bench/results/latest.md\n');
}
