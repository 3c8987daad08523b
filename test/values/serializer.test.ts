import { describe, expect, it } from 'vitest';
import { jsonSerializer } from '../../src/values/serializer.js';

describe('JSON serializer', () => {
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

  it('drops them when their names are written with \\u escapes too', () => {
    const parsed = jsonSerializer.deserialize('{"a":1,"\\u005f_proto__":{"polluted":true}}') as Record<
      string,
      unknown
    >;
    expect(Object.hasOwn(parsed, '__proto__')).toBe(false);
    expect(parsed.a).toBe(1);
    const nested = jsonSerializer.deserialize(
      '{"n":{"constru\\u0063tor":{"\\u0070rototype":{"polluted":true}}}}',
    ) as Record<string, object>;
    expect(Object.hasOwn(nested.n!, 'constructor')).toBe(false);
    // escapes of other characters (Python's json.dumps writes every non-ASCII one so) are left alone
    expect(jsonSerializer.deserialize('{"name":"Cafeti\\u00e8re"}')).toEqual({ name: 'Cafetière' });
  });

  it('keeps a harmless "constructor" string member', () => {
    expect(jsonSerializer.deserialize('{"constructor":"Ada"}')).toEqual({ constructor: 'Ada' });
  });
});
