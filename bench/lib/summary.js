// The benchmark's goals (docs/benchmark.md), evaluated on the rows of one run.
import { anchors, mainRows, ratio } from './report.js';

const MiB = 1024 * 1024;

function find(measured, id) {
  return measured.find(({ spec }) => spec.id === id);
}

/**
 * A ratio goal of cachette to the floor. Time goals (concurrency 1) are judged on the median
 * operation (p50): on a shared machine the mean is dominated by scheduler stalls that hit whichever
 * process runs at the time; the ratio of the means is shown beside it. Throughput goals are judged
 * on ops/s of the median run.
 */
function ratioGoal(measured, id, name, limit, kind) {
  const found = find(measured, id);
  if (!found) return undefined;
  const { floor, floorName } = anchors(found.results);
  const row = mainRows(found.results).cachette;
  const r = ratio(found.spec.ratio, row, floor);
  if (r === undefined) return { goal: name, measured: 'not measured', met: false };
  if (found.spec.ratio === 'time') {
    const p50 = row.p50Us / floor.p50Us;
    return {
      goal: name,
      measured: `${p50.toFixed(2)}x ${floorName} at p50 (${row.p50Us.toFixed(2)} vs ${floor.p50Us.toFixed(2)} µs); mean time ${r.toFixed(2)}x${againstFill(found, row)}`,
      met: p50 <= limit,
    };
  }
  const met = kind === 'max' ? r <= limit : r >= limit;
  return { goal: name, measured: `${r.toFixed(2)}x ${floorName}${againstFill(found, row)}`, met };
}

/**
 * cachette against the floor's '+ L1 fill' reference row, where the case has one (a time ratio at
 * p50, as the goal's): the raw client
 * sending the commands cachette's guarantees need (the PTTL with a read, the deadline-guarded
 * script for a write) and filling an lru-cache, i.e. the least a cache with these guarantees can do.
 */
function againstFill(found, row) {
  const floor = found.results.find(({ adapter }) => adapter.role.startsWith('floor'));
  const fill = floor?.rows?.find((r) => r.reference && r.label.includes('+ L1 fill'));
  if (!fill) return '';
  const name = fill.label.replace(/ \(.*\)$/, '');
  if (found.spec.ratio === 'time') return `; ${(row.p50Us / fill.p50Us).toFixed(2)}x '${name}' at p50`;
  return `; ${ratio(found.spec.ratio, row, fill).toFixed(2)}x '${name}'`;
}

function cachetteRows(measured, id) {
  return find(measured, id)?.results.find(({ adapter }) => adapter.name === 'cachette')?.rows;
}

const fmtUs = (n) =>
  n === undefined || !Number.isFinite(n)
    ? '—'
    : n < 1000
      ? `${n.toFixed(0)} µs`
      : `${(n / 1000).toFixed(1)} ms`;

/** Every goal the run can judge: `{ goal, measured, met }`. */
export function goals(measured) {
  const out = [
    ratioGoal(measured, 'l1-hit', 'L1 hit: time ≤ 1.25x awaited raw lru-cache get', 1.25, 'max'),
    ratioGoal(measured, 'l2-hit-c1', 'L2 hit, concurrency 1: time ≤ 1.1x raw client GET', 1.1, 'max'),
    ratioGoal(measured, 'l2-hit-c64', 'L2 hit, concurrency 64: throughput ≥ 0.9x raw client', 0.9, 'min'),
    ratioGoal(measured, 'set-c1', 'set, concurrency 1: time ≤ 1.2x raw client SET … EX', 1.2, 'max'),
    ratioGoal(
      measured,
      'set-c64',
      'set, concurrency 64: throughput ≥ 0.85x raw client SET … EX',
      0.85,
      'min',
    ),
    ratioGoal(measured, 'get-many', 'getMany(100) from L2: time ≤ 1.2x raw MGET', 1.2, 'max'),
  ];
  for (const [id, name] of [
    ['l1-hit', 'L1 hit'],
    ['get-or-set-hit', 'getOrSet hit'],
  ]) {
    const l1 = find(measured, id);
    if (!l1) continue;
    const main = mainRows(l1.results);
    const { best } = anchors(l1.results);
    if (best && main.cachette) {
      out.push({
        goal: `${name}: faster than every peer`,
        measured: `${(main.cachette.opsPerSec / best.row.opsPerSec).toFixed(1)}x the best peer (${best.name})`,
        met: main.cachette.opsPerSec > best.row.opsPerSec,
      });
    }
  }
  for (const processes of [1, 2]) {
    const row = cachetteRows(measured, `stampede-${processes}p`)?.[0];
    if (!row) continue;
    const withinMs = 25;
    out.push({
      goal:
        processes === 1
          ? `stampede, 1 process: 1 factory call per key, wall time ≤ ${withinMs} ms (20 ms factory + 5 ms)`
          : 'stampede, 2 processes: 1 factory call per key across both',
      measured: `${row.callsMean.toFixed(1)} calls per key (max ${row.callsMax}), wall time p50 ${row.wallP50Ms.toFixed(1)} ms, max ${row.wallMaxMs.toFixed(1)} ms`,
      met: row.callsMax === 1 && row.wrong === 0 && (processes > 1 || row.wallP50Ms <= withinMs),
    });
  }
  for (const fault of ['killed', 'paused']) {
    const rows = cachetteRows(measured, `redis-down-${fault}`);
    if (!rows) continue;
    const open = rows.find((r) => r.breakerOpenAfterMs !== undefined || /breaker open/.test(r.label));
    const recovery = rows.find((r) => r.recoveryCapMs !== undefined);
    const threw = rows.reduce((a, r) => a + (r.threw ?? 0), 0);
    const worstUs = Math.max(open?.getP99Us ?? Infinity, open?.setP99Us ?? Infinity);
    out.push({
      goal: `Redis ${fault}: p99 per call < 1 ms once the breaker is open, no error thrown`,
      measured: `get p99 ${fmtUs(open?.getP99Us)}, set p99 ${fmtUs(open?.setP99Us)} (breaker open ${open?.breakerOpenAfterMs?.toFixed(0) ?? '?'} ms after the fault); ${threw} thrown; recovered ${recovery?.recoveredAfterMs === undefined ? 'not within the cap' : `${recovery.recoveredAfterMs.toFixed(0)} ms`} after Redis was back`,
      met: worstUs < 1000 && threw === 0,
    });
  }
  const propagation = cachetteRows(measured, 'propagation')?.[0];
  if (propagation) {
    out.push({
      goal: 'invalidation propagation between two processes (no numeric goal)',
      measured: propagation.notPropagated
        ? 'not available yet: no cross-process L1 invalidation (B serves its copy until its L1 TTL)'
        : `p50 ${fmtUs(propagation.p50Us)}, p99 ${fmtUs(propagation.p99Us)}`,
      met: !propagation.notPropagated,
    });
  }
  const memory = find(measured, 'memory');
  const rows = memory?.results.find(({ adapter }) => adapter.name === 'cachette')?.rows;
  const floorRows = memory?.results.find(({ adapter }) => adapter.role === 'floor-l1')?.rows;
  if (rows?.length) {
    const last = rows[rows.length - 1];
    const floorLast = floorRows?.[floorRows.length - 1];
    out.push({
      goal: 'memory: L1 byte bound (64 MiB, counted as JSON text) respected within 10%',
      measured: `${last.l1AccountedMiB?.toFixed(1)} MiB accounted ${last.label}; heap growth ${last.heapDeltaMiB.toFixed(1)} MiB (raw lru-cache with the same accounting: ${floorLast?.heapDeltaMiB.toFixed(1) ?? '?'} MiB)`,
      met: (last.l1AccountedMiB ?? Infinity) * MiB <= 64 * MiB * 1.1,
    });
    if (rows.length > 1) {
      const growth = last.heapDeltaMiB - rows[0].heapDeltaMiB;
      out.push({
        goal: 'memory: no growth from the first to the second half of the sets',
        measured: `${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB heap`,
        met: growth <= 64 * 0.05,
      });
    }
  }
  return out.filter(Boolean);
}

/** The goals as a markdown table. */
export function summaryTable(list) {
  return [
    '| goal | measured | met |',
    '|---|---|---|',
    ...list.map(({ goal, measured, met }) => `| ${goal} | ${measured} | ${met ? 'yes' : '**no**'} |`),
  ].join('\n');
}

const opsText = (n) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e4 ? `${Math.round(n / 1000)} k` : `${Math.round(n)}`;
const usText = (n) =>
  n === undefined ? '—' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toString();

/** One line per scenario, for docs/benchmark.md: cachette, its ratio to the floor, the best peer. */
export function overviewTable(measured) {
  const lines = [
    '| scenario | cachette ops/s | p50 / p99 µs | vs floor | best peer (ops/s) | cachette vs best peer |',
    '|---|---:|---:|---:|---|---:|',
  ];
  for (const { spec, results } of measured) {
    if (spec.kind) continue;
    const main = mainRows(results);
    const row = main.cachette;
    if (!row) continue;
    const { floor, floorName, best } = anchors(results);
    const r = ratio(spec.ratio, row, floor);
    const vsFloor =
      r === undefined
        ? '—'
        : spec.ratio === 'time'
          ? `time ${(row.p50Us / floor.p50Us).toFixed(2)}x at p50 (mean ${r.toFixed(2)}x) of ${floorName}`
          : `throughput ${r.toFixed(2)}x of ${floorName}`;
    const vsBest = best ? `${(row.opsPerSec / best.row.opsPerSec).toFixed(1)}x the throughput` : '—';
    lines.push(
      `| ${spec.short ?? spec.id} | ${opsText(row.opsPerSec)} | ${usText(row.p50Us)} / ${usText(row.p99Us)} | ${vsFloor} | ${best ? `${best.name} (${opsText(best.row.opsPerSec)})` : '—'} | ${vsBest} |`,
    );
  }
  return lines.join('\n');
}
