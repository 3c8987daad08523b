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
 * Redis Cluster (not built): the write script touches the value and its tags' indexes, which must
 * share a slot. The index would then be sharded by slot, `__cachette:tag:<tag>:{<slot tag>}`, with
 * `<slot tag>` a string hashing to the value's slot, so each write stays one atomic script, and an
 * invalidation walks the tag's shards (found per node by SCAN, or in a per-tag set of used slots).
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

// KEYS: a tag's index, n members read from it, their n lease keys. One batch: every member still in
// the index loses its value, its lease and its index entry in one atomic step, so a write racing
// with the invalidation is either removed or stays indexed. The members are declared keys, so
// pub/sub coherence announces them like any other write. -> 1/0 per member: whether its value existed
const REMOVE_MEMBERS = new Script(`local n = (#KEYS - 1) / 2
local existed = {}
for i = 1, n do
  existed[i] = 0
  if redis.call('SISMEMBER', KEYS[1], KEYS[i + 1]) == 1 then
    existed[i] = redis.call('UNLINK', KEYS[i + 1])
    redis.call('UNLINK', KEYS[n + i + 1])
    redis.call('SREM', KEYS[1], KEYS[i + 1])
  end
end
return existed`);

/**
 * Removes every key under `prefixes` indexed by the tag index `indexKey`, in batches of SSCAN then
 * one script; members under other prefixes (another app sharing the Redis and the tag) stay. After
 * each batch calls `onRemoved(member, existed)` for every member handled (L1, statistics). Resolves
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
    const [next, page] = await l2.command<[string, string[]]>([
      'SSCAN',
      indexKey,
      cursor,
      'COUNT',
      String(INVALIDATION_BATCH),
    ]);
    cursor = next;
    const members = page.filter((member) => prefixes.some((prefix) => member.startsWith(prefix)));
    if (members.length === 0) continue;
    const existed = await REMOVE_MEMBERS.run<number[]>(
      l2,
      [indexKey, ...members, ...members.map((member) => LEASE_NAMESPACE + member)],
      [],
    );
    members.forEach((member, i) => {
      const found = existed[i] === 1;
      if (found) removed++;
      onRemoved(member, found);
    });
  } while (cursor !== '0');
  return removed;
}
