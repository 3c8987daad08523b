import { describe, expect, it } from 'vitest';
import { jsonSerializer } from '../src/serializer.js';

describe('JSON serializer (S10, G7)', () => {
  it('round-trips JSON values, null included', () => {
    for (const value of [1500, 'text', null, true, [1, 'a'], { a: { b: [1, 2] } }]) {
      expect(jsonSerializer.deserialize(jsonSerializer.serialize(value))).toEqual(value);
    }
  });

  it('refuses values with no JSON form', () => {
    expect(() => jsonSerializer.serialize(undefined)).toThrow(/no JSON form/);
    expect(() => jsonSerializer.serialize(10n)).toThrow(TypeError);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => jsonSerializer.serialize(circular)).toThrow(TypeError);
  });

  it('drops __proto__ and constructor.prototype so merging a cached value cannot pollute prototypes', () => {
    const parsed = jsonSerializer.deserialize(
      '{"a":1,"__proto__":{"polluted":true},"nested":{"constructor":{"prototype":{"polluted":true}}}}',
    ) as Record<string, unknown>;
    expect(Object.hasOwn(parsed, '__proto__')).toBe(false);
    expect(Object.hasOwn(parsed.nested as object, 'constructor')).toBe(false);
    const target = Object.assign({}, parsed, parsed.nested);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((target as Record<string, unknown>).polluted).toBeUndefined();
    expect(parsed.a).toBe(1);
  });

  it('keeps a harmless "constructor" string member', () => {
    expect(jsonSerializer.deserialize('{"constructor":"Ada"}')).toEqual({ constructor: 'Ada' });
  });
});
