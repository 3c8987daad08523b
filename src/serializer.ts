/** Turns values into the text stored in Redis and back. Both sides may throw; the cache reports it. */
export interface Serializer {
  serialize(value: unknown): string;
  deserialize(text: string): unknown;
}

const FORBIDDEN_KEYS = /"(?:__proto__|constructor|prototype)"\s*:/;

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
 * when the text mentions one of those names, so the common case costs one regex test.
 */
export const jsonSerializer: Serializer = {
  serialize(value: unknown): string {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`a value of type ${typeof value} has no JSON form`);
    return text;
  },
  deserialize(text: string): unknown {
    // plain substring searches first: much cheaper than the regex on the ~1 KiB texts of an L2 hit
    const suspicious =
      (text.includes('__proto__') || text.includes('constructor') || text.includes('prototype')) &&
      FORBIDDEN_KEYS.test(text);
    return suspicious ? JSON.parse(text, dropPollutingKeys) : JSON.parse(text);
  },
};
