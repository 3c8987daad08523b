import { CacheKeyError } from '../errors.js';
import { hasControlChars } from './keys.js';

/** Longest tag accepted, in UTF-16 code units. */
export const MAX_TAG_LENGTH = 256;
/** Most tags one value, or one `invalidateTags` call, may name. */
export const MAX_TAGS = 64;

/**
 * Validates `tags` (an array of 1..MAX_TAGS non-empty strings of at most MAX_TAG_LENGTH characters,
 * no control characters) and returns them without duplicates; `[]` when `tags` is `undefined` or
 * empty. Throws `CacheKeyError`.
 */
export function checkTags(tags: unknown): string[] {
  if (tags === undefined) return [];
  assertTags(tags);
  return tags.length < 2 ? [...tags] : [...new Set(tags)];
}

/** Throws `CacheKeyError` unless `tags` is a valid list of tags (see `checkTags`); builds nothing. */
export function assertTags(tags: unknown): asserts tags is readonly string[] {
  if (!Array.isArray(tags)) {
    throw new CacheKeyError(`tags must be an array of strings such as ['dashboard', 'product:42']`);
  }
  if (tags.length > MAX_TAGS) {
    throw new CacheKeyError(`${tags.length} tags given; the limit is ${MAX_TAGS}`);
  }
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag.length === 0) {
      throw new CacheKeyError(`a tag must be a non-empty string, got ${JSON.stringify(tag) ?? String(tag)}`);
    }
    if (tag.length > MAX_TAG_LENGTH) {
      throw new CacheKeyError(`a tag is ${tag.length} characters long; the limit is ${MAX_TAG_LENGTH}`);
    }
    if (hasControlChars(tag)) {
      throw new CacheKeyError(`tag ${JSON.stringify(tag)} contains control characters`);
    }
  }
}
