/** Turns values into the text stored in Redis and back. Both sides may throw; the cache reports it. */
export interface Serializer {
  /** The Redis text of `value`; throwing refuses the value (the write answers `false`). */
  serialize(value: unknown): string;
  /** The value of a Redis text; throwing makes the read a miss, counted in `errors`. */
  deserialize(text: string): unknown;
}

/**
 * A text that may hold a `__proto__`, `constructor` or `prototype` member: written plainly, or with
 * a `\u` escape of `_` or of a lower-case letter anywhere (JSON decodes escapes in names, and no
 * serializer writes those characters escaped: Python's `ensure_ascii` escapes non-ASCII only). One
 * pass over the text rather than three substring searches, and without their blind spot for
 * escaped names.
 */
const SUSPICIOUS = /"(?:__proto__|constructor|prototype)"\s*:|\\u00(?:5[fF]|[67][0-9a-fA-F])/;

function dropPollutingKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') return undefined;
  if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) {
    return undefined;
  }
  return value;
}

/**
 * JSON, as the original Python service writes it (`json.dumps` / `json.loads`).
 * Parsing drops `__proto__` and `constructor.prototype` members, so a value planted in Redis cannot
 * pollute prototypes when the application later merges it into another object. The reviver only runs
 * when the text may hold one of those names (`SUSPICIOUS`), so the common case costs one regex test.
 */
export const jsonSerializer: Serializer = {
  serialize(value: unknown): string {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`a value of type ${typeof value} has no JSON form`);
    return text;
  },
  deserialize(text: string): unknown {
    return SUSPICIOUS.test(text) ? JSON.parse(text, dropPollutingKeys) : JSON.parse(text);
  },
};
