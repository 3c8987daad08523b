import { createClient } from '@redis/client';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Glob } from '../../src/values/glob.js';
import { startRedis, type TestRedis } from '../support/redis.js';

/** Characters that keys and patterns are drawn from: every glob character, multi-byte ones, a byte above 0x7f. */
const KEY_CHARS = ['a', 'b', 'z', 'A', '-', ']', '[', '^', '\\', '*', '?', '_', ':', '!', 'é', '€', '\u00ff'];
const char = fc.constantFrom(...KEY_CHARS);
const key = fc.array(char, { minLength: 1, maxLength: 8 }).map((c) => c.join(''));
/** A class as Redis may see it: negated or not, ranges (backwards too), escapes, closed or not. */
const klass = fc
  .tuple(
    fc.boolean(),
    fc.array(
      fc.oneof(
        char,
        fc.tuple(char, char).map(([a, b]) => `${a}-${b}`),
        char.map((c) => `\\${c}`),
      ),
      {
        maxLength: 3,
      },
    ),
    fc.boolean(),
  )
  .map(([negate, items, closed]) => `[${negate ? '^' : ''}${items.join('')}${closed ? ']' : ''}`);
const pattern = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.constant('*') },
      { weight: 2, arbitrary: fc.constant('?') },
      { weight: 4, arbitrary: char },
      { weight: 2, arbitrary: klass },
      { weight: 1, arbitrary: char.map((c) => `\\${c}`) },
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((parts) => parts.join(''));

/** Patterns on which a RegExp translation and Redis disagreed, and classic traps. */
const QUIRKS = [
  '[z-a]*',
  '[a-]',
  '[a-]x',
  '[]a]',
  '[]a]*',
  '*[y',
  '[^ax^',
  '[',
  '[^',
  '[\\',
  'a\\',
  '\\*',
  '[\\]]*',
  '[a-\\]]*',
  '*[a-é]*',
  '?',
  '??',
  '[^a]',
  '*\\[*',
  '**a**',
  '[]',
  '[]]',
  '[^]]*',
];

describe('Redis glob matcher', () => {
  let redis: TestRedis;
  let client: ReturnType<typeof createClient>;

  beforeAll(async () => {
    redis = await startRedis();
    client = createClient({ url: redis.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await redis?.stop();
  });

  /** The keys of `keys` that Redis's SCAN … MATCH selects for each pattern, in one round trip. */
  async function redisSelects(keys: readonly string[], patterns: readonly string[]): Promise<string[][]> {
    await client.sendCommand(['FLUSHDB']);
    await client.sendCommand(['MSET', ...keys.flatMap((k) => [k, '1'])]);
    const replies = await Promise.all(
      patterns.map((p) => client.sendCommand(['SCAN', '0', 'MATCH', p, 'COUNT', '100000'])),
    );
    return replies.map((reply) => [...(reply as unknown as [string, string[]])[1]].sort());
  }

  function glob(p: string, keys: readonly string[]): string[] {
    const compiled = new Glob(p);
    return keys.filter((k) => compiled.matches(k)).sort();
  }

  it('selects what Redis selects on ranges given backwards, unclosed classes, ] first and escapes', async () => {
    const sampled = fc.sample(fc.uniqueArray(key, { minLength: 200, maxLength: 200 }), {
      numRuns: 1,
      seed: 7,
    });
    const more = ['a', 'x', ']', '^', '\\', '[', 'ab', 'é', 'ax', 'z*', 'a]b', '*a', ']]'];
    const keys = [...new Set([...sampled[0]!, ...more])];
    const selected = await redisSelects(keys, QUIRKS);
    for (const [i, p] of QUIRKS.entries()) expect(glob(p, keys), p).toEqual(selected[i]);
  });

  it('agrees with SCAN MATCH of a real Redis over 3 000 random patterns and keys with special characters', async () => {
    let compared = 0;
    let selectedSome = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(key, { minLength: 50, maxLength: 150 }),
        fc.array(pattern, { minLength: 100, maxLength: 100 }),
        async (keys, patterns) => {
          const selected = await redisSelects(keys, patterns);
          compared += patterns.length;
          selectedSome += selected.filter((s) => s.length > 0).length;
          for (const [i, p] of patterns.entries()) {
            expect(glob(p, keys), JSON.stringify(p)).toEqual(selected[i]);
          }
        },
      ),
      { numRuns: 30 },
    );
    expect(compared).toBe(3000);
    // the comparison means something only if many patterns select keys
    expect(selectedSome).toBeGreaterThan(1000);
  });

  it('stays linear on patterns that made backtracking matchers exponential', () => {
    const evil = new Glob(`${'*a'.repeat(13)}*Z`);
    const keys = Array.from({ length: 5000 }, (_, i) => `${'a'.repeat(40)}${i}`);
    expect(keys.filter((k) => evil.matches(k))).toEqual([]);
    expect(new Glob(`${'*a'.repeat(13)}*`).matches('a'.repeat(13))).toBe(true);
  });
});
