// The goals of issue #9 / SPEC G8, evaluated on the rows of one run.
import { anchors, mainRows, ratio } from './report.js';

const MiB = 1024 * 1024;

function find(measured, id) {
  return measured.find(({ spec }) => spec.id === id);
}

function ratioGoal(measured, id, name, limit, kind) {
  const found = find(measured, id);
  if (!found) return undefined;
  const { floor, floorName } = anchors(found.results);
  const row = mainRows(found.results).cachette;
  const r = ratio(found.spec.ratio, row, floor);
  if (r === undefined) return { goal: name, measured: 'not measured', met: false };
  const met = kind === 'max' ? r <= limit : r >= limit;
  return { goal: name, measured: `${r.toFixed(2)}x ${floorName}`, met };
}

/** Every goal the run can judge: `{ goal, measured, met }`. */
export function goals(measured) {
  const out = [
    ratioGoal(measured, 'l1-hit', 'L1 hit: time ≤ 2x awaited raw lru-cache get', 2, 'max'),
    ratioGoal(measured, 'l2-hit-c1', 'L2 hit, concurrency 1: time ≤ 1.2x raw client GET', 1.2, 'max'),
    ratioGoal(measured, 'l2-hit-c64', 'L2 hit, concurrency 64: throughput ≥ 0.9x raw client', 0.9, 'min'),
    ratioGoal(measured, 'set-c1', 'set, concurrency 1: time ≤ 1.2x raw client SET … EX', 1.2, 'max'),
    ratioGoal(
      measured,
      'set-c64',
      'set, concurrency 64: throughput ≥ 1/1.2 of raw client SET … EX',
      1 / 1.2,
      'min',
    ),
  ];
  const l1 = find(measured, 'l1-hit');
  if (l1) {
    const main = mainRows(l1.results);
    const { best } = anchors(l1.results);
    if (best && main.cachette) {
      out.push({
        goal: 'L1 hit: faster than every peer',
        measured: `${(main.cachette.opsPerSec / best.row.opsPerSec).toFixed(1)}x the best peer (${best.name})`,
        met: main.cachette.opsPerSec > best.row.opsPerSec,
      });
    }
  }
  const memory = find(measured, 'memory');
  const rows = memory?.results.find(({ adapter }) => adapter.name === 'cachette')?.rows;
  if (rows?.length) {
    const last = rows[rows.length - 1];
    out.push({
      goal: 'memory: heap growth ≤ 64 MiB + 10% with L1 bounded to 64 MiB',
      measured: `${last.heapDeltaMiB.toFixed(1)} MiB heap growth, ${last.l1AccountedMiB?.toFixed(1)} MiB accounted, ${last.label}`,
      met: last.heapDeltaMiB <= 64 * 1.1 && (last.l1AccountedMiB ?? 0) * MiB <= 64 * MiB,
    });
    if (rows.length > 1) {
      const growth = last.heapDeltaMiB - rows[0].heapDeltaMiB;
      out.push({
        goal: 'memory: no growth from the first to the second round of sets',
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
