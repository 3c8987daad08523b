import { CacheKeyError } from '../errors.js';

/** Where cachette keeps its own Redis keys (leases, tag indexes, claims; see l2/keyspace.ts), apart from every domain. */
export const INTERNAL_NAMESPACE = '__cachette:';

/** Longest key accepted, in UTF-16 code units (a Redis key may be larger, a sane cache key is not). */
export const MAX_KEY_LENGTH = 1024;

const CONTROL_CHARS = /[\x00-\x1f\x7f]/;
const GLOB_CHARS = /[*?[\]\\]/g;

/**
 * Whether `text` holds a control character (U+0000-U+001F, U+007F): refused in keys, patterns, tags
 * and prefixes, since they would break log lines, the CLI's output and line-based protocols.
 */
export function hasControlChars(text: string): boolean {
  return CONTROL_CHARS.test(text);
}

/** Throws `CacheKeyError` unless `key` is a non-empty string of at most 1 KiB without control characters. */
export function assertValidKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string') {
    throw new CacheKeyError(`Cache ${what} must be a string, got ${key === null ? 'null' : typeof key}`);
  }
  if (key.length === 0) throw new CacheKeyError(`Cache ${what} must not be empty`);
  if (key.length > MAX_KEY_LENGTH) {
    throw new CacheKeyError(`Cache ${what} is ${key.length} characters long; the limit is ${MAX_KEY_LENGTH}`);
  }
  if (hasControlChars(key)) {
    throw new CacheKeyError(`Cache ${what} ${JSON.stringify(key)} contains control characters`);
  }
}

/** Throws `CacheKeyError` unless `keys` is an array of valid keys (see `assertValidKey`). */
export function assertValidKeys(keys: unknown): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) throw new CacheKeyError(`keys must be an array of strings, got ${typeof keys}`);
  for (const key of keys) assertValidKey(key);
}

/** Throws `CacheKeyError` unless `list` is an array of objects (`what` names them in the message). */
export function assertObjects(list: unknown, what: string): asserts list is readonly object[] {
  if (!Array.isArray(list) || list.some((item) => typeof item !== 'object' || item === null)) {
    throw new CacheKeyError(`${what} must be an array of objects`);
  }
}

/** Throws `CacheKeyError` unless `fn` is a function (`what` names it in the message). */
export function assertFunction(fn: unknown, what: string): asserts fn is (...args: never[]) => unknown {
  if (typeof fn !== 'function') throw new CacheKeyError(`${what} must be a function, got ${typeof fn}`);
}

/** Escapes Redis glob characters so that `text` matches only itself in `SCAN MATCH`. */
export function escapeGlob(text: string): string {
  return text.replace(GLOB_CHARS, '\\$&');
}

/** Builds the `SCAN MATCH` pattern for `pattern` (a glob) confined to `prefix` (taken literally). */
export function confinedPattern(prefix: string, pattern: string): string {
  assertValidKey(pattern, 'pattern');
  return escapeGlob(prefix) + pattern;
}
