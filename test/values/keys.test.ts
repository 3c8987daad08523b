import { describe, expect, it } from 'vitest';
import { CacheKeyError } from '../../src/errors.js';
import { Glob } from '../../src/values/glob.js';
import { assertValidKey, confinedPattern, escapeGlob } from '../../src/values/keys.js';

describe('keys and patterns', () => {
  it.each([
    ['', /empty/],
    ['a'.repeat(1025), /limit is 1024/],
    ['bad\nkey', /control characters/],
    ['tab\tkey', /control characters/],
    [42, /must be a string/],
    [null, /got null/],
  ])('refuses %j with CacheKeyError', (key, message) => {
    expect(() => assertValidKey(key)).toThrow(CacheKeyError);
    expect(() => assertValidKey(key)).toThrow(message);
  });

  it('accepts ordinary keys, unicode and 1 KiB', () => {
    for (const key of ['products_count', 'produit:é:42', 'a'.repeat(1024), 'spaces are fine']) {
      expect(() => assertValidKey(key)).not.toThrow();
    }
  });

  it('escapes glob characters in prefixes', () => {
    expect(escapeGlob('we*ird?[x]\\_')).toBe('we\\*ird\\?\\[x\\]\\\\_');
    expect(confinedPattern('a*b_', 'products_*')).toBe('a\\*b_products_*');
  });

  it('matches L1 keys the way Redis matches SCAN patterns', () => {
    const cases: Array<[string, string, boolean]> = [
      ['products_*', 'products_42', true],
      ['products_*', 'product_42', false],
      ['p?', 'px', true],
      ['p?', 'pxy', false],
      ['[ab]x', 'bx', true],
      ['[^ab]x', 'bx', false],
      ['[a-c]z', 'cz', true],
      ['a\\*b', 'a*b', true],
      ['a\\*b', 'axb', false],
      ['dots.are.literal', 'dotsXareXliteral', false],
      ['(x)+', '(x)+', true],
    ];
    for (const [glob, key, expected] of cases)
      expect(new Glob(glob).matches(key), `${glob} ~ ${key}`).toBe(expected);
  });
});
