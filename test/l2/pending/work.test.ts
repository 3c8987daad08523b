import { describe, expect, it } from 'vitest';
import { MAX_PATTERNS_PER_DOMAIN, type PendingEntry, PendingWork } from '../../../src/l2/pending/work.js';
import { captureLogger } from '../../support/logs.js';

function work(options: { maxEntries?: number; servers?: string[]; slotOf?: (key: string) => number } = {}) {
  const logger = captureLogger();
  const servers = options.servers ?? ['a:1'];
  const pending = new PendingWork({
    maxEntries: options.maxEntries ?? 100,
    prefixes: ['d_', 'c_'],
    log: logger,
    redis: 'redis://test',
    servers: () => servers,
    ...(options.slotOf ? { slotOf: options.slotOf } : {}),
  });
  return { pending, logger, servers };
}

const all = () => true;
const describeEntry = (entry: PendingEntry) =>
  entry.kind === 'key'
    ? `key ${entry.key}`
    : entry.kind === 'pattern'
      ? `pattern ${entry.prefix}${entry.pattern}`
      : entry.kind === 'tag'
        ? `tag ${entry.index}`
        : 'flush';

describe('PendingWork', () => {
  it('keeps entries in the order they came, each once', () => {
    const { pending } = work();
    pending.add({ kind: 'keys', prefix: 'd_', keys: ['d_a', 'd_b'] });
    pending.add({ kind: 'tags', indexes: ['t1'] });
    pending.add({ kind: 'keys', prefix: 'd_', keys: ['d_a'] });
    pending.add({ kind: 'pattern', prefix: 'c_', pattern: 'x*' });
    pending.add({ kind: 'tags', indexes: ['t1', 't2'] });
    expect(pending.owedBy('a:1', all).map(describeEntry)).toEqual([
      'key d_a',
      'key d_b',
      'tag t1',
      'pattern c_x*',
      'tag t2',
    ]);
    expect(pending.status()).toMatchObject({ entries: 5, applied: 0, widened: 0, dropped: 0 });
  });

  it('a whole-domain delete covers the keys and patterns of its domain, before and after it', () => {
    const { pending } = work();
    pending.add({ kind: 'keys', prefix: 'd_', keys: ['d_a'] });
    pending.add({ kind: 'keys', prefix: 'c_', keys: ['c_a'] });
    pending.add({ kind: 'pattern', prefix: 'd_', pattern: '*' });
    expect(pending.add({ kind: 'keys', prefix: 'd_', keys: ['d_b'] })).toBe('none');
    expect(pending.add({ kind: 'pattern', prefix: 'd_', pattern: 'y*' })).toBe('none');
    expect(pending.owedBy('a:1', all).map(describeEntry)).toEqual(['key c_a', 'pattern d_*']);
    // folding what a domain delete covers is exact, not a widening
    expect(pending.status().widened).toBe(0);
  });

  it('an app flush covers everything owed, and what comes after it', () => {
    const { pending } = work();
    pending.add({ kind: 'keys', prefix: 'd_', keys: ['d_a'] });
    pending.add({ kind: 'tags', indexes: ['t1'] });
    expect(pending.add({ kind: 'flush' })).toBe('all');
    expect(pending.add({ kind: 'keys', prefix: 'c_', keys: ['c_a'] })).toBe('none');
    expect(pending.owedBy('a:1', all).map(describeEntry)).toEqual(['flush']);
  });

  it('past the bound the domain with the most entries becomes one delete of the whole domain, and the log says so', () => {
    const { pending, logger } = work({ maxEntries: 6 });
    pending.add({ kind: 'keys', prefix: 'c_', keys: ['c_1', 'c_2'] });
    pending.add({ kind: 'keys', prefix: 'd_', keys: ['d_1', 'd_2', 'd_3', 'd_4'] });
    expect(pending.add({ kind: 'keys', prefix: 'c_', keys: ['c_3'] })).toBe('all');
    expect(pending.owedBy('a:1', all).map(describeEntry)).toEqual([
      'key c_1',
      'key c_2',
      'key c_3',
      'pattern d_*',
    ]);
    expect(pending.status()).toMatchObject({ entries: 4, widened: 4 });
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({
      level: 'warn',
      fields: { prefix: 'd_', entries: 4, maxEntries: 6 },
    });
    // the other domain grows past the bound in turn
    pending.add({ kind: 'keys', prefix: 'c_', keys: ['c_4', 'c_5', 'c_6'] });
    expect(pending.owedBy('a:1', all).map(describeEntry)).toEqual(['pattern d_*', 'pattern c_*']);
  });

  it('past the bound with no domain to widen, everything becomes one app flush', () => {
    const { pending, logger } = work({ maxEntries: 3 });
    pending.add({ kind: 'tags', indexes: ['t1', 't2', 't3'] });
    pending.add({ kind: 'tags', indexes: ['t4'] });
    expect(pending.owedBy('a:1', all).map(describeEntry)).toEqual(['flush']);
    expect(pending.status()).toMatchObject({ entries: 1, widened: 4 });
    expect(logger.lines.map((l) => l.msg)).toEqual([
      "cachette: pending deletes widened: everything owed becomes one flush of the app's keys when Redis is back",
    ]);
  });

  it(`more than ${MAX_PATTERNS_PER_DOMAIN} patterns of a domain widen it (every key of a server is matched against them)`, () => {
    const { pending } = work();
    for (let i = 0; i <= MAX_PATTERNS_PER_DOMAIN; i++)
      pending.add({ kind: 'pattern', prefix: 'd_', pattern: `p${i}*` });
    expect(pending.owedBy('a:1', all).map(describeEntry)).toEqual(['pattern d_*']);
    expect(pending.status().widened).toBe(MAX_PATTERNS_PER_DOMAIN + 1);
  });

  it('a key is owed by the server of its slot; a pattern, tag or flush by every server until each applied it', () => {
    const { pending, servers } = work({
      servers: ['a:1', 'b:2'],
      slotOf: (key) => (key.endsWith('a') ? 1 : 2),
    });
    const ownsA = (slot: number) => slot === 1;
    const ownsB = (slot: number) => slot === 2;
    expect(pending.add({ kind: 'keys', prefix: 'd_', keys: ['d_a', 'd_b'] })).toEqual([1, 2]);
    expect(pending.add({ kind: 'tags', indexes: ['t'] })).toBe('all');
    expect(pending.owedBy('a:1', ownsA).map(describeEntry)).toEqual(['key d_a', 'tag t']);
    for (const entry of pending.owedBy('a:1', ownsA)) pending.settle('a:1', entry);
    expect(pending.owedBy('a:1', ownsA)).toEqual([]);
    expect(pending.owedBy('b:2', ownsB).map(describeEntry)).toEqual(['key d_b', 'tag t']);
    expect(pending.status()).toMatchObject({ entries: 2, applied: 1 });
    // a failover: c:3 replaced b:2, and owes what b:2 did (its slots, the tag)
    servers.splice(1, 1, 'c:3');
    expect(pending.owedBy('c:3', ownsB).map(describeEntry)).toEqual(['key d_b', 'tag t']);
    for (const entry of pending.owedBy('c:3', ownsB)) pending.settle('c:3', entry);
    expect(pending.status()).toMatchObject({ entries: 0, applied: 3 });
  });

  it('once a server applied a flush, later work is owed on its own', () => {
    const { pending } = work({ servers: ['a:1', 'b:2'] });
    pending.add({ kind: 'flush' });
    const [flush] = pending.owedBy('a:1', all);
    pending.settle('a:1', flush!);
    expect(pending.add({ kind: 'keys', prefix: 'd_', keys: ['d_a'] })).toEqual([0]);
    expect(pending.owedBy('a:1', all).map(describeEntry)).toEqual(['key d_a']);
    expect(pending.owedBy('b:2', all).map(describeEntry)).toEqual(['flush', 'key d_a']);
  });

  it('drops an entry Redis refuses, counts it and logs the reason once per interval', () => {
    const { pending, logger } = work();
    pending.add({ kind: 'keys', prefix: 'd_', keys: ['d_a', 'd_b'] });
    for (const entry of pending.owedBy('a:1', all)) pending.settle('a:1', entry, new Error('NOPERM no'));
    expect(pending.status()).toMatchObject({ entries: 0, dropped: 2, applied: 0 });
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ level: 'warn', fields: { err: 'Error: NOPERM no' } });
  });

  it('gives up what is left on close, with one line', () => {
    const { pending, logger } = work();
    pending.add({ kind: 'keys', prefix: 'd_', keys: ['d_a', 'd_b'] });
    pending.abandon();
    pending.abandon();
    expect(pending.status()).toMatchObject({ entries: 0, dropped: 2 });
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]!.fields).toMatchObject({ entries: 2 });
  });
});
