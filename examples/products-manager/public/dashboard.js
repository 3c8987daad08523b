// The cache dashboard: polls /api/v1/cluster (every worker's cache state, gathered by the primary)
// and /api/v1/cache/stats, draws the hit rate per domain with uPlot, and drives the admin API
// (/api/v1/cache/keys and /clear) with the admin token kept in this tab's sessionStorage.

const REFRESH_MS = 2000;
const COLORS = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2', '#4b5563', '#db2777'];
const $ = (selector) => document.querySelector(selector);
let chart;
let chartDomains = [];

/** Creates an element with text content only (key names come from Redis: never parsed as HTML). */
function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = el('tr');
  for (const cell of cells) {
    if (cell instanceof Node) {
      const td = el('td');
      td.append(cell);
      tr.append(td);
    } else tr.append(el('td', cell.text ?? cell, cell.num ? 'num' : undefined));
  }
  return tr;
}

const percent = (rate) => (rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(1)} %`);
const ago = (ms) => (ms ? `${Math.max(0, Math.round((Date.now() - ms) / 1000))} s ago` : '–');
const token = () => sessionStorage.getItem('cacheAdminToken') ?? '';

function say(text, isError = false) {
  const message = $('#message');
  message.textContent = text;
  message.className = isError ? 'error' : '';
}

async function getJson(url, options = {}) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message ?? `${response.status} ${response.statusText}`);
  return body;
}

function adminHeaders() {
  return { authorization: `Bearer ${token()}`, 'content-type': 'application/json' };
}

function needToken() {
  if (token()) return false;
  say('Enter the admin token first (CACHE_ADMIN_TOKEN, or the file named under Workers).', true);
  $('#token').focus();
  return true;
}

/** Sums the per-domain counters of every worker. */
function totals(workers) {
  const domains = {};
  for (const worker of workers) {
    for (const [name, s] of Object.entries(worker.stats?.domains ?? {})) {
      domains[name] ??= { l1Hits: 0, l2Hits: 0, misses: 0, errors: 0 };
      const sum = domains[name];
      sum.l1Hits += s.l1Hits;
      sum.l2Hits += s.l2Hits;
      sum.misses += s.misses;
      sum.errors += s.errors;
    }
  }
  return domains;
}

function drawChart(history, domains) {
  const names = Object.keys(domains);
  const xs = history.map((sample) => sample.t / 1000);
  const series = names.map((name) =>
    history.map((sample) => {
      const d = sample.domains[name];
      return d && d.hits + d.misses > 0 ? (100 * d.hits) / (d.hits + d.misses) : null;
    }),
  );
  if (!chart || chartDomains.join() !== names.join()) {
    chart?.destroy();
    chartDomains = names;
    chart = new uPlot(
      {
        width: Math.min(1100, $('#chart').clientWidth || 900),
        height: 260,
        scales: { y: { range: [0, 100] } },
        axes: [{}, { label: 'hit rate %' }],
        series: [
          {},
          ...names.map((name, i) => ({
            label: name,
            stroke: COLORS[i % COLORS.length],
            points: { size: 5 },
          })),
        ],
      },
      [xs, ...series],
      $('#chart'),
    );
  } else chart.setData([xs, ...series]);
}

/** One row per domain, built once and then updated in place: its button stays the same element. */
function domainRow(name) {
  const existing = document.getElementById(`domain-${name}`);
  if (existing) return existing;
  const tr = el('tr');
  tr.id = `domain-${name}`;
  tr.append(el('td', name));
  const hit = el('td', '–', 'num');
  hit.id = `hit-rate-${name}`;
  tr.append(hit);
  for (let i = 0; i < 5; i++) tr.append(el('td', '', 'num'));
  const button = el('button', 'Invalidate');
  button.type = 'button';
  button.dataset.invalidate = name;
  button.addEventListener('click', () => invalidate(name));
  const actions = el('td');
  actions.append(button);
  tr.append(actions);
  $('#domains tbody').append(tr);
  $('#keys-domain').append(new Option(name, name));
  return tr;
}

function drawDomains(domains, stats) {
  for (const [name, s] of Object.entries(domains)) {
    const cells = domainRow(name).children;
    const reads = s.l1Hits + s.l2Hits + s.misses;
    cells[1].textContent = percent(reads === 0 ? null : (s.l1Hits + s.l2Hits) / reads);
    cells[1].dataset.reads = String(reads);
    const values = [s.l1Hits, s.l2Hits, s.misses, s.errors, stats?.domains?.[name]?.keys ?? '–'];
    values.forEach((value, i) => {
      cells[i + 2].textContent = String(value);
    });
  }
}

/** How this worker's L1 learns of changes made elsewhere (cachette's `status().coherence`). */
function describeCoherence(coherence) {
  if (!coherence || coherence.mode === 'none') return "off: other workers' writes show after the L1 TTL";
  const flow = coherence.connected
    ? 'connected'
    : `not flowing: L1 copies live ≤ ${coherence.degradedL1TtlMs} ms`;
  return `${coherence.mode}, ${flow} · ${coherence.invalidatedKeys} keys invalidated`;
}

function drawWorkers(status) {
  const cards = $('#workers');
  cards.replaceChildren();
  for (const w of status.workers) {
    const card = el('div', undefined, 'card');
    const state = w.unresponsive ? 'down' : w.cache.l2.state === 'ready' ? 'ok' : 'degraded';
    const title = el('h3', `worker ${w.workerId}`);
    title.append(el('span', w.unresponsive ? 'unresponsive' : `Redis ${w.cache.l2.state}`, `pill ${state}`));
    card.append(title);
    if (!w.unresponsive) {
      const facts = [
        ['pid', w.pid],
        ['uptime', `${w.uptimeSeconds} s`],
        ['requests', w.requests],
        ['database', w.database],
        [
          'L1',
          `${w.cache.l1.entries} entries, ${(w.cache.l1.bytes / 1024).toFixed(0)} KiB (TTL ${w.cache.l1.ttl} s)`,
        ],
        ['L2', `${w.cache.l2.state} · ${w.cache.l2.url}`],
        ['breaker', `${w.cache.breaker} (opened ${w.cache.l2.breakerOpens}×)`],
        ['coherence', describeCoherence(w.cache.coherence)],
        ['hit rate', percent(w.stats.total.hitRate)],
        ['cache', w.cacheDisabled ? 'disabled (CACHE_DISABLED)' : 'enabled'],
      ];
      const dl = el('dl');
      for (const [term, value] of facts) dl.append(el('dt', term), el('dd', value));
      card.append(dl);
    }
    cards.append(card);
  }
  const p = status.primary;
  $('#primary').textContent =
    `primary pid ${p.pid} · database ${p.database} · Redis ${p.redisUrl} · admin token from ${p.adminTokenSource}`;
}

function drawWarming(workers) {
  const body = $('#warming tbody');
  body.replaceChildren();
  for (const w of workers) {
    for (const [task, m] of Object.entries(w.warming?.tasks ?? {})) {
      body.append(
        row([
          w.workerId,
          task,
          m.critical ? 'yes' : 'no',
          { text: m.executionCount, num: true },
          { text: m.successCount, num: true },
          { text: m.failureCount, num: true },
          ago(m.lastRun),
          ago(m.lastSuccess),
          m.lastDurationMs === null ? '–' : `${m.lastDurationMs} ms`,
          m.lastError ?? '',
        ]),
      );
    }
  }
}

async function refresh() {
  try {
    const [status, stats] = await Promise.all([
      getJson('/api/v1/cluster'),
      getJson('/api/v1/cache/stats').catch(() => null),
    ]);
    const live = status.workers.filter((w) => !w.unresponsive);
    const domains = totals(live);
    const redisReady = live.length > 0 && live.every((w) => w.cache.l2.state === 'ready');
    const overall = $('#overall');
    overall.textContent = redisReady ? 'Redis connected' : 'Redis unreachable: serving from the database';
    overall.className = `pill ${redisReady ? 'ok' : 'degraded'}`;
    drawDomains(domains, stats);
    drawChart(status.history, domains);
    drawWorkers(status);
    drawWarming(live);
  } catch (err) {
    $('#overall').textContent = `service unreachable: ${err.message}`;
    $('#overall').className = 'pill down';
  }
}

async function listKeys() {
  if (needToken()) return;
  const dbType = $('#keys-domain').value;
  const match = $('#keys-match').value || '*';
  try {
    const page = await getJson(
      `/api/v1/cache/keys?dbType=${encodeURIComponent(dbType)}&pattern=${encodeURIComponent(match)}&limit=100`,
      { headers: adminHeaders() },
    );
    const body = $('#keys-list tbody');
    body.replaceChildren(...page.keys.map((k) => row([k.key, k.redisKey, { text: k.ttl, num: true }])));
    $('#keys-count').textContent = `${page.keys.length} key(s)${page.cursor ? ', more…' : ''}`;
  } catch (err) {
    say(`Listing keys failed: ${err.message}`, true);
  }
}

/** The admin API's clear: `{ dbType }` empties a domain, `{ all: true }` every domain of the app. */
async function clear(target) {
  return getJson('/api/v1/cache/clear', {
    method: 'POST',
    headers: adminHeaders(),
    body: JSON.stringify(target),
  });
}

async function invalidate(dbType) {
  if (needToken()) return;
  try {
    const result = await clear({ dbType });
    say(`Domain ${dbType} invalidated: ${result.removed} key(s) removed.`);
    if ($('#keys-domain').value === dbType) await listKeys();
  } catch (err) {
    say(`Invalidating ${dbType} failed: ${err.message}`, true);
  }
}

async function flush() {
  if (needToken()) return;
  if (!confirm('Remove every key of every domain of this application?')) return;
  try {
    const { removed } = await clear({ all: true });
    say(`Flushed every domain: ${removed} key(s) removed.`);
  } catch (err) {
    say(`Flush failed: ${err.message}`, true);
  }
}

$('#token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem('cacheAdminToken', $('#token').value.trim());
  $('#token').value = '';
  say('Admin token set for this tab.');
});
$('#keys-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void listKeys();
});
$('#flush').addEventListener('click', () => void flush());
void refresh();
setInterval(refresh, REFRESH_MS);
