import { CacheKeyError } from './errors.js';
import { LEASE_NAMESPACE, TAG_NAMESPACE } from './namespace.js';
import { Script } from './script.js';
import type { L2Driver } from './tiers/redis.js';

/**
 * Tags (G3): a value written with `tags: ['dashboard', 'product:42']` can be removed later by any of
 * them, whatever its domain.
 *
 * The index is one Redis set per tag, `__cachette:tag:<tag>`, holding the Redis keys that carry it.
 * It is written in the same script as the values (one round trip, atomic with the write), so a
 * value is never stored without being findable by its tags. Values themselves stay plain JSON.
 *
 * Bounded and self-cleaning: each write extends the set's expiry to cover its longest-lived member
 * (never shortens it), so a tag whose values all expired disappears with them; and each write samples
 * a few members and drops those whose key is gone (expired, deleted), so a tag that keeps receiving
 * new short-lived keys does not grow forever. Invalidation walks the set in batches (SSCAN), and
 * removes each batch of keys, their getOrSet leases and their index entries in one script.
 *
 * Limits: membership is added, never taken away by a later write without the tag, so invalidating a
 * tag can remove a key re-written without it (more invalidation, never less). A `SET` from outside
 * cachette (the Python service) carries no tags.
 */

/** Longest tag accepted, in UTF-16 code units. */
export const MAX_TAG_LENGTH = 256;
/** Most tags one value, or one `invalidateTags` call, may name. */
export const MAX_TAGS = 64;
/** Members a write samples per tag to drop those whose key is gone. */
const PRUNE_SAMPLE = 3;
/** Members read (SSCAN COUNT) and removed per invalidation round trip. */
export const INVALIDATION_BATCH = 500;

const CONTROL_CHARS = /[\x00-\x1f\x7f]/;

/** The index key of `tag`. */
export function tagKey(tag: string): string {
  return TAG_NAMESPACE + tag;
}

/**
 * Validates `tags` (an array of 1..MAX_TAGS non-empty strings of at most MAX_TAG_LENGTH characters,
 * no control characters) and returns their index keys without duplicates; `[]` when `tags` is
 * `undefined` or empty. Throws `CacheKeyError`.
 */
export function tagKeys(tags: unknown): string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) {
    throw new CacheKeyError(`tags must be an array of strings such as ['dashboard', 'product:42']`);
  }
  if (tags.length > MAX_TAGS) {
    throw new CacheKeyError(`${tags.length} tags given; the limit is ${MAX_TAGS}`);
  }
  const keys = new Set<string>();
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag.length === 0) {
      throw new CacheKeyError(`a tag must be a non-empty string, got ${JSON.stringify(tag) ?? String(tag)}`);
    }
    if (tag.length > MAX_TAG_LENGTH) {
      throw new CacheKeyError(`a tag is ${tag.length} characters long; the limit is ${MAX_TAG_LENGTH}`);
    }
    if (CONTROL_CHARS.test(tag)) {
      throw new CacheKeyError(`tag ${JSON.stringify(tag)} contains control characters`);
    }
    keys.add(tagKey(tag));
  }
  return [...keys];
}

/**
 * Lua: `index(tagKey, member, ttlMs)` adds `member` to the tag's set, extends the set's expiry to
 * at least `ttlMs`, and drops a few sampled members whose key and lease are both gone (a member
 * with a lease is being loaded by getOrSet and must stay findable so invalidation can revoke it).
 * Prepended to every script that writes a tagged value.
 */
export const INDEX_LUA = `local function index(tagKey, member, ttlMs)
  redis.call('SADD', tagKey, member)
  if redis.call('PTTL', tagKey) < ttlMs then redis.call('PEXPIRE', tagKey, ttlMs) end
  for _, old in ipairs(redis.call('SRANDMEMBER', tagKey, ${PRUNE_SAMPLE})) do
    if redis.call('EXISTS', old, '${LEASE_NAMESPACE}' .. old) == 0 then redis.call('SREM', tagKey, old) end
  end
end
`;

// KEYS: a tag's index. ARGV: SSCAN cursor, COUNT, then the app's domain prefixes.
// One batch: every member under one of the prefixes loses its value, its lease and its index entry
// in one atomic step, so a write racing with the invalidation is either removed or stays indexed.
// Members under other prefixes (another app sharing the Redis and the tag) are left alone.
// -> { next cursor, members handled, 1/0 per member: whether its value existed }
const INVALIDATE_BATCH = new Script(`local page = redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local handled = {}
local existed = {}
for _, member in ipairs(page[2]) do
  for i = 3, #ARGV do
    if string.sub(member, 1, #ARGV[i]) == ARGV[i] then
      existed[#handled + 1] = redis.call('UNLINK', member)
      redis.call('UNLINK', '${LEASE_NAMESPACE}' .. member)
      redis.call('SREM', KEYS[1], member)
      handled[#handled + 1] = member
      break
    end
  end
end
return { page[1], handled, existed }`);

/**
 * Removes every key under `prefixes` indexed by the tag index `indexKey`, batch by batch; after each
 * batch calls `onRemoved(member, existed)` for every Redis key it handled (L1, statistics). Resolves
 * to how many values existed; rejects when Redis fails (what was removed before stays removed).
 */
export async function removeTagged(
  l2: L2Driver,
  indexKey: string,
  prefixes: readonly string[],
  onRemoved: (member: string, existed: boolean) => void,
): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, members, existed] = await INVALIDATE_BATCH.run<[string, string[], number[]]>(
      l2,
      [indexKey],
      [cursor, String(INVALIDATION_BATCH), ...prefixes],
    );
    members.forEach((member, i) => {
      const found = existed[i] === 1;
      if (found) removed++;
      onRemoved(member, found);
    });
    cursor = next;
  } while (cursor !== '0');
  return removed;
}
