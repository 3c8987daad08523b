// Turns measured rows into markdown tables, with ratios to the floor and to the best peer.

const int = (n) => (n === undefined || Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en'));
const us = (n) =>
  n === undefined || Number.isNaN(n)
    ? '—'
    : n < 10
      ? n.toFixed(2)
      : n < 100
        ? n.toFixed(1)
        : Math.round(n).toLocaleString('en');
const mib = (n) => (n === undefined ? '—' : n.toFixed(1));
const times = (r) => (r === undefined || !Number.isFinite(r) ? '—' : `${r.toFixed(2)}x`);

/**
 * Ratio of `row` to `base`. 'time': row time / base time (2.00x = twice as slow).
 * 'throughput': row ops/s / base ops/s (0.90x = 10% less throughput).
 */
export function ratio(kind, row, base) {
  if (!row || !base) return undefined;
  return kind === 'time' ? base.opsPerSec / row.opsPerSec : row.opsPerSec / base.opsPerSec;
}

/** The main (non-reference) row of each adapter, keyed by adapter name. */
export function mainRows(results) {
  const out = {};
  for (const { adapter, rows } of results) {
    const main = rows?.find((r) => !r.reference);
    if (main) out[adapter.name] = main;
  }
  return out;
}

/** The floor row and the best peer row of a case. */
export function anchors(results) {
  const main = mainRows(results);
  const floor = results.find(({ adapter }) => adapter.role.startsWith('floor'));
  const peers = results.filter(({ adapter }) => adapter.role === 'peer' && main[adapter.name]);
  const best = peers.reduce(
    (acc, { adapter }) =>
      !acc || main[adapter.name].opsPerSec > acc.row.opsPerSec
        ? { name: adapter.name, row: main[adapter.name] }
        : acc,
    undefined,
  );
  return { floor: floor && main[floor.adapter.name], floorName: floor?.adapter.name, best };
}

function throughputTable(spec, results) {
  const { floor, best } = anchors(results);
  const kind = spec.ratio;
  const label = kind === 'time' ? 'time' : 'throughput';
  const lines = [
    `| library | operation | ops/s | p50 µs | p99 µs | p999 µs | ${label} vs floor | ${label} vs best peer (${best?.name ?? '—'}) | notes |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const { adapter, rows, error } of results) {
    if (error) {
      lines.push(`| ${adapter.name} | — | — | — | — | — | — | — | failed: ${error.split('\n')[0]} |`);
      continue;
    }
    for (const row of rows) {
      const isFloor = adapter.role.startsWith('floor') && !row.reference;
      const notes = [
        row.misses ? `${row.misses} misses` : '',
        row.failures ? `${row.failures} failed` : '',
        row.keysPerSec ? `${int(row.keysPerSec)} keys/s` : '',
        row.factoryCalls ? `${row.factoryCalls} factory calls` : '',
        row.spreadPct !== undefined ? `ops/s spread ${row.spreadPct.toFixed(0)}% over the runs` : '',
      ].filter(Boolean);
      const p999 = spec.latency.startsWith('batches') ? '—' : us(row.p999Us);
      lines.push(
        `| ${adapter.name} | ${row.label} | ${int(row.opsPerSec)} | ${us(row.p50Us)} | ${us(row.p99Us)} | ${p999} | ${isFloor ? 'floor' : times(ratio(kind, row, floor))} | ${adapter.role === 'floor-l1' || adapter.role === 'floor-l2' ? '—' : times(ratio(kind, row, best?.row))} | ${notes.join(', ')} |`,
      );
    }
  }
  return lines;
}

function memoryTable(_spec, results) {
  const lines = [
    '| library | after | sets/s | heap growth MiB | heap MiB | RSS MiB | L1 entries | L1 accounted MiB | notes |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const { adapter, rows, error } of results) {
    if (error) {
      lines.push(`| ${adapter.name} | — | — | — | — | — | — | — | failed: ${error.split('\n')[0]} |`);
      continue;
    }
    for (const row of rows) {
      lines.push(
        `| ${adapter.name} | ${row.label} | ${int(row.opsPerSec)} | ${mib(row.heapDeltaMiB)} | ${mib(row.heapUsedMiB)} | ${mib(row.rssMiB)} | ${int(row.l1Entries)} | ${mib(row.l1AccountedMiB)} | ${row.failures ? `${row.failures} failed` : ''} |`,
      );
    }
  }
  return lines;
}

const ms = (n) => (n === undefined ? '—' : n < 10 ? n.toFixed(2) : n.toFixed(1));

function failedRow(adapter, error, columns) {
  return `| ${adapter.name} | ${Array(columns - 2)
    .fill('—')
    .join(' | ')} | failed: ${error.split('\n')[0]} |`;
}

function stampedeTable(_spec, results) {
  const lines = [
    '| library | calls | rounds | factory calls per key (mean / max) | wall time p50 ms | wall time max ms | calls that did not get the value |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const { adapter, rows, error } of results) {
    if (error) {
      lines.push(failedRow(adapter, error, 7));
      continue;
    }
    for (const r of rows) {
      lines.push(
        `| ${adapter.name} | ${r.label} | ${r.rounds} | ${r.callsMean.toFixed(1)} / ${r.callsMax} | ${ms(r.wallP50Ms)} | ${ms(r.wallMaxMs)} | ${r.wrong} |`,
      );
    }
  }
  return lines;
}

function propagationTable(_spec, results) {
  const lines = ['| library | rounds | p50 µs | p99 µs | max µs | notes |', '|---|---:|---:|---:|---:|---|'];
  for (const { adapter, rows, error } of results) {
    if (error) {
      lines.push(failedRow(adapter, error, 6));
      continue;
    }
    for (const r of rows) {
      const notes = [];
      if (r.notPropagated)
        notes.push(
          `**not propagated**: B still served its copy ${r.capMs ?? 1000} ms after the delete (no cross-process L1 invalidation: stale until its L1 TTL)`,
        );
      if (r.notPrimed) notes.push(`${r.notPrimed} rounds where B did not hold the key`);
      if (adapter.name === 'cachette' && r.notPropagated)
        notes.push('cross-process invalidation (coherence) not available yet');
      lines.push(
        `| ${adapter.name} | ${r.rounds} | ${us(r.p50Us)} | ${us(r.p99Us)} | ${us(r.maxUs)} | ${notes.join('; ')} |`,
      );
    }
  }
  return lines;
}

function faultsTable(_spec, results) {
  const lines = [
    '| library | phase | calls | get p50 µs | get p99 µs | set p50 µs | set p99 µs | errors thrown | calls hung > 1 s | notes |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const { adapter, rows, error } of results) {
    if (error) {
      lines.push(failedRow(adapter, error, 10));
      continue;
    }
    for (const r of rows) {
      if (r.recoveryCapMs !== undefined) {
        const text =
          r.recoveredAfterMs === undefined
            ? `not recovered within ${r.recoveryCapMs / 1000} s`
            : `${int(r.recoveredAfterMs)} ms until a set lands in Redis and a get reads Redis`;
        lines.push(`| ${adapter.name} | ${r.label} | — | — | — | — | — | — | — | ${text} |`);
        continue;
      }
      const notes =
        r.breakerOpenAfterMs === undefined
          ? ''
          : `breaker opened ${int(r.breakerOpenAfterMs)} ms after the fault`;
      // a call still pending at the cap was no longer waited for: its true latency is only known to be longer
      const capped = (n) => (n !== undefined && n >= r.capUs ? `> ${int(r.capUs / 1000)} ms` : us(n));
      lines.push(
        `| ${adapter.name} | ${r.label} | ${int(r.ops)} | ${capped(r.getP50Us)} | ${capped(r.getP99Us)} | ${capped(r.setP50Us)} | ${capped(r.setP99Us)} | ${r.threw} | ${r.hung} | ${notes} |`,
      );
    }
  }
  return lines;
}

const tables = {
  memory: memoryTable,
  stampede: stampedeTable,
  propagation: propagationTable,
  faults: faultsTable,
};

/** The markdown section of one case. */
export function caseSection(spec, results) {
  const lines = [`### ${spec.title}`, ''];
  if (spec.goal) lines.push(`Goal: ${spec.goal}.`);
  if (spec.latency) lines.push(`Latency: ${spec.latency}.`);
  lines.push('');
  lines.push(...(tables[spec.kind] ?? throughputTable)(spec, results));
  lines.push('');
  return lines.join('\n');
}
