// One worker process of the soak (bench/soak.ts): a cache under mixed traffic until told to stop,
// recording every call with its start and end on the machine-wide monotonic clock, and counting
// the log lines it would have written. Arguments: the Redis URL, the worker's index, a seed.
// Messages: { op: 'status' } → cache.status(); { op: 'stop', file } → the events written to `file`,
// answered with the log counts and stats.
import { writeFileSync } from 'node:fs';
import { createCache, type Logger } from '../src/index.js';
import { monotonicMs as nowMs, type OpEvent, seededRandom as random } from '../test/support/staleness.js';

const [redisUrl, indexArg, seedArg] = process.argv.slice(2);
const index = Number(indexArg ?? 0);
const GROUPS = 20;
const PER_GROUP = 10;
const LOOPS = 2;

/** Log lines by level and message; debug lines are not written in production and not counted. */
const lines: Record<string, number> = {};
const counting =
  (level: string) =>
  (obj: object | string, msg?: string): void => {
    const text = `${level} ${typeof obj === 'string' ? obj : (msg ?? '')}`;
    lines[text] = (lines[text] ?? 0) + 1;
  };
const logger: Logger = {
  debug: () => {},
  info: counting('info'),
  warn: counting('warn'),
  error: counting('error'),
};

const cache = createCache({ redisUrl: redisUrl ?? '', logger, env: {} });
await cache.ready();

const events: OpEvent[] = [];
let written = 0;
let running = true;
const unique = () => `${index}:${++written}`;

/** One call of the mix; every write-side call, whatever its answer, is the application's intent. */
async function step(next: () => number): Promise<void> {
  const group = Math.floor(next() * GROUPS);
  const key = `g${group}:${Math.floor(next() * PER_GROUP)}`;
  const groupKeys = Array.from({ length: PER_GROUP }, (_, j) => `g${group}:${j}`);
  const tags = [`group:${group}`];
  const dice = next();
  const start = nowMs();
  const wrote = (keys: string[], value: (key: string) => string | null, orNothing = false) => {
    const end = nowMs();
    for (const k of keys)
      events.push({
        kind: 'write',
        key: k,
        value: value(k),
        start,
        end,
        ...(orNothing ? { orNothing } : {}),
      });
  };
  if (dice < 0.15) {
    const value = unique();
    // a failed write is owed as a delete: its value never lands, or is deleted once Redis is back
    const stored = await cache.set(key, value, { tags });
    wrote([key], () => value, !stored);
  } else if (dice < 0.2) {
    const keys = [
      ...new Set([key, groupKeys[(group + 1) % PER_GROUP]!, groupKeys[(group + 2) % PER_GROUP]!]),
    ];
    const values = new Map(keys.map((k) => [k, unique()]));
    const stored = await cache.setMany(
      keys.map((k) => ({ key: k, value: values.get(k) })),
      { tags },
    );
    wrote(keys, (k) => values.get(k)!, !stored);
  } else if (dice < 0.25) {
    await cache.delete(key);
    wrote([key], () => null);
  } else if (dice < 0.28) {
    await cache.invalidation.invalidate(key, 'default');
    wrote([key], () => null);
  } else if (dice < 0.31) {
    await cache.invalidateTags(tags);
    wrote(groupKeys, () => null);
  } else if (dice < 0.33) {
    await cache.deletePattern(`g${group}:*`);
    wrote(groupKeys, () => null);
  } else if (dice < 0.4) {
    let loaded: string | undefined;
    const value = await cache.getOrSet<string>(
      key,
      async () => {
        loaded = unique();
        return loaded;
      },
      { tags },
    );
    // a loaded value is a write that may not be stored (the store failed and is owed, or lost its lease)
    if (loaded !== undefined) wrote([key], () => loaded!, true);
    else events.push({ kind: 'read', key, value, start, end: nowMs() });
  } else {
    const value = await cache.get<string>(key);
    events.push({ kind: 'read', key, value: value ?? null, start, end: nowMs() });
  }
}

async function loop(seed: number): Promise<void> {
  const next = random(seed);
  while (running) {
    await step(next);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const loops = Array.from({ length: LOOPS }, (_, i) => loop(Number(seedArg ?? 1) * 100 + i));

process.on('message', async (message: { op: string; file?: string }) => {
  if (message.op === 'status') {
    process.send?.({ op: 'status', status: cache.status() });
    return;
  }
  if (message.op === 'stop') {
    running = false;
    await Promise.all(loops);
    writeFileSync(message.file!, JSON.stringify(events));
    const stats = cache.stats().total;
    const pending = cache.status().pending;
    await cache.close();
    process.send?.({ op: 'stopped', lines, stats, pending, events: events.length });
  }
});
process.send?.({ op: 'ready' });
