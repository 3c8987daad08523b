import { describe, expect, it } from 'vitest';
import { MemoryTier } from '../../src/l1/memory.js';

describe('MemoryTier (L1)', () => {
  it('keeps at most maxEntries, evicting the least recently used', () => {
    const l1 = new MemoryTier({ maxEntries: 3, maxBytes: 1_000_000, clone: false });
    for (const key of ['a', 'b', 'c']) l1.setText(key, `"${key}"`, 60_000);
    l1.get('a');
    l1.setText('d', '"d"', 60_000);
    expect(l1.size).toBe(3);
    expect(l1.get('b')).toBeUndefined();
    expect(l1.get('a')).toBe('a');
  });

  it('keeps its byte count under maxBytes', () => {
    const l1 = new MemoryTier({ maxEntries: 100_000, maxBytes: 100_000, clone: false });
    for (let i = 0; i < 1000; i++) l1.setText(`k${i}`, `"${'x'.repeat(1000)}"`, 60_000);
    expect(l1.bytes).toBeLessThanOrEqual(100_000);
    expect(l1.size).toBeGreaterThan(50);
    expect(l1.size).toBeLessThan(100);
  });

  it('refuses an entry larger than maxBytes', () => {
    const l1 = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: false });
    l1.setText('big', `"${'x'.repeat(5000)}"`, 60_000);
    expect(l1.get('big')).toBeUndefined();
  });

  it('expires entries after their TTL', async () => {
    const l1 = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: false });
    l1.setText('k', '1', 30);
    expect(l1.get('k')).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(l1.get('k')).toBeUndefined();
  });

  it('stores null and tells it apart from a miss', () => {
    const l1 = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: false });
    l1.setText('n', 'null', 60_000);
    expect(l1.get('n')).toBeNull();
    expect(l1.get('missing')).toBeUndefined();
  });

  it('returns the shared object by default and a copy with clone', () => {
    const shared = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: false });
    shared.setText('k', '{"a":1}', 60_000);
    expect(shared.get('k')).toBe(shared.get('k'));
    const cloning = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: true });
    cloning.setText('k', '{"a":1}', 60_000);
    const first = cloning.get('k');
    expect(first).toEqual({ a: 1 });
    expect(cloning.get('k')).toEqual(first);
    expect(cloning.get('k')).not.toBe(first);
  });

  it('answers every hit of an entry with one settled promise (a copy each with clone), and a miss with undefined', async () => {
    const shared = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: false });
    const space = shared.space('');
    shared.setText('k', '{"a":1}', 60_000);
    shared.setText('n', 'null', 60_000);
    const first = shared.hitIn(space, 'k');
    expect(shared.hitIn(space, 'k')).toBe(first);
    expect(await first).toBe(shared.get('k'));
    expect(await shared.hitIn(space, 'n')).toBeNull();
    expect(shared.hitIn(space, 'missing')).toBeUndefined();
    shared.setText('k', '{"a":2}', 60_000);
    expect(shared.hitIn(space, 'k')).not.toBe(first);
    expect(await shared.hitIn(space, 'k')).toEqual({ a: 2 });
    const cloning = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: true });
    cloning.setText('k', '{"a":1}', 60_000);
    const [one, two] = await Promise.all([
      cloning.hitIn(cloning.space(''), 'k'),
      cloning.hitIn(cloning.space(''), 'k'),
    ]);
    expect(one).toEqual({ a: 1 });
    expect(two).toEqual(one);
    expect(two).not.toBe(one);
  });

  it("keeps each domain's keys in its own space, found by the caller's key or by the Redis key", () => {
    const l1 = new MemoryTier({ maxEntries: 10, maxBytes: 10_000, clone: false }, JSON.parse, ['a:', 'b:']);
    l1.setText('a:1', '"one of a"', 60_000);
    l1.setText('b:1', '"one of b"', 60_000);
    l1.setText('c:1', '"no domain"', 60_000);
    expect(l1.getIn(l1.space('a:'), '1')).toBe('one of a');
    expect(l1.getIn(l1.space('b:'), '1')).toBe('one of b');
    expect(l1.get('b:1')).toBe('one of b');
    expect(l1.get('c:1')).toBeUndefined();
    expect(l1.size).toBe(2);
    expect(l1.bytes).toBe('"one of a"'.length + 3 + 64 + '"one of b"'.length + 3 + 64);
    l1.delete('a:1');
    expect(l1.getIn(l1.space('a:'), '1')).toBeUndefined();
    expect(l1.get('b:1')).toBe('one of b');
  });

  it('holds its bounds across spaces, giving up the least recently used entry of all', () => {
    const l1 = new MemoryTier({ maxEntries: 3, maxBytes: 1_000_000, clone: false }, JSON.parse, ['a:', 'b:']);
    l1.setText('a:1', '1', 60_000);
    l1.setText('b:1', '1', 60_000);
    l1.setText('a:2', '2', 60_000);
    expect(l1.get('a:1')).toBe(1);
    l1.setText('b:2', '2', 60_000);
    expect(l1.size).toBe(3);
    // b:1 was the least recently used: set before a:2, and never read
    expect(l1.get('b:1')).toBeUndefined();
    expect([l1.get('a:1'), l1.get('a:2'), l1.get('b:2')]).toEqual([1, 2, 2]);
    const text = `"${'x'.repeat(100)}"`;
    const sized = new MemoryTier({ maxEntries: 100, maxBytes: 1000, clone: false }, JSON.parse, ['a:', 'b:']);
    for (let i = 0; i < 20; i++) sized.setText(`${i % 2 === 0 ? 'a' : 'b'}:${i}`, text, 60_000);
    expect(sized.bytes).toBeLessThanOrEqual(1000);
    expect(sized.size).toBe(Math.floor(1000 / (text.length + 4 + 64)));
    // the newest survive, in both spaces
    expect(sized.get('a:18')).toBe('x'.repeat(100));
    expect(sized.get('b:19')).toBe('x'.repeat(100));
    expect(sized.get('a:0')).toBeUndefined();
  });

  it('removes the entries of every space that match a pattern, and only those', () => {
    const l1 = new MemoryTier({ maxEntries: 10, maxBytes: 10_000, clone: false }, JSON.parse, ['a:', 'b:']);
    for (const key of ['a:x1', 'a:y1', 'b:x1']) l1.setText(key, '1', 60_000);
    expect(l1.deleteWhere('a:', (redisKey) => redisKey.endsWith('1'))).toBe(2);
    expect(l1.get('b:x1')).toBe(1);
    expect(l1.deleteWhere('', (redisKey) => redisKey.includes('x'))).toBe(1);
    expect(l1.size).toBe(0);
  });

  it('keeps a text given to setText until its first read, then hands out one parsed object', () => {
    const parsed: string[] = [];
    const l1 = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: false }, (text) => {
      parsed.push(text);
      return JSON.parse(text);
    });
    l1.setText('k', '{"a":1}', 60_000);
    expect(parsed).toEqual([]);
    const first = l1.get('k');
    expect(first).toEqual({ a: 1 });
    expect(l1.get('k')).toBe(first);
    expect(parsed).toEqual(['{"a":1}']);
    expect(l1.bytes).toBe('{"a":1}'.length + 'k'.length + 64);
  });

  it('hands out copies of a text entry with clone', () => {
    const l1 = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: true });
    l1.setText('k', '{"a":1}', 60_000);
    const first = l1.get('k') as { a: number };
    first.a = 2;
    expect(l1.get('k')).toEqual({ a: 1 });
  });

  it('answers a text that does not parse as a miss and drops it', () => {
    const l1 = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: false });
    l1.setText('k', '{not json', 60_000);
    expect(l1.get('k')).toBeUndefined();
    expect(l1.size).toBe(0);
  });

  it('keeps the TTL of a text entry when its first read parses it', async () => {
    const ttlMs = 1000;
    const l1 = new MemoryTier({ maxEntries: 10, maxBytes: 1000, clone: false });
    const setAt = performance.now();
    l1.setText('k', 'null', ttlMs);
    await new Promise((r) => setTimeout(r, ttlMs / 2));
    const readAt = performance.now();
    expect(l1.get('k')).toBeNull();
    while (l1.get('k') !== undefined) await new Promise((r) => setTimeout(r, 5));
    // gone at the original expiry, not one TTL after the parse
    expect(performance.now() - setAt).toBeGreaterThanOrEqual(ttlMs - 1);
    expect(performance.now()).toBeLessThan(readAt + ttlMs);
  });
});
