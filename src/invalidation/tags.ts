import { CacheKeyError } from '../errors.js';
import { LEASE_NAMESPACE, TAG_NAMESPACE, TAG_SHARD_NAMESPACE, TAG_SLOTS_NAMESPACE } from '../l2/keyspace.js';
import { keyBeside, keySlot, slotTag } from '../l2/redis/cluster/slots.js';
import type { L2Driver } from '../l2/redis/driver.js';
import { Script } from '../l2/script.js';
import { escapeGlob } from '../values/keys.js';

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
 * Redis Cluster: a script may only touch keys of one hash slot, so the index is sharded by slot:
 * `__cachette:tags:{<slot tag>}<tag>`, with `<slot tag>` the short string that hashes to the value's
 * slot (slots.ts `slotTag`; the hash tag comes first, so braces in the tag cannot move it). A write
 * stays one atomic script on one node, value and index together, and a shard only lists keys of its
 * own slot, so pruning and invalidation scripts touch nothing else. `invalidateTags` finds a tag's
 * shards in its slot registry, `__cachette:tagslots:<tag>` (`registerShards`): every write of a shard
 * first adds the shard's slot there and extends the registry's expiry to cover the shard. The registry
 * is never pruned (a slot removed while a writer is between registering and writing would hide that
 * shard); it expires with the tag's longest-lived shard and holds at most one entry per slot.
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

/** On a cluster: the shard of the index `indexKey` (from `tagKey`) in the hash slot whose tag is `slot` (slots.ts `slotTag`). */
export function shardKey(indexKey: string, slot: string): string {
  return `${TAG_SHARD_NAMESPACE}{${slot}}${indexKey.slice(TAG_NAMESPACE.length)}`;
}

/** On a cluster: the shard of the index `indexKey` (from `tagKey`) in the hash slot of `member`. */
export function tagShardKey(indexKey: string, member: string): string {
  return shardKey(indexKey, slotTag(keySlot(member)));
}

/** On a cluster: the registry of the hash slots in which the index `indexKey` (from `tagKey`) has shards. */
export function tagSlotsKey(indexKey: string): string {
  return TAG_SLOTS_NAMESPACE + indexKey.slice(TAG_NAMESPACE.length);
}

/**
 * One tag index shard written on a cluster: the index (from `tagKey`), the tag of the slot it is in
 * (its member's, slots.ts `slotTag`), and how long from now the shard may live at most (its write's
 * TTL, plus how late that write may still land).
 */
export interface ShardWrite {
  indexKey: string;
  slot: string;
  ttlMs: number;
}

/**
 * On a cluster: records the slot of each shard in its tag's registry, and extends the registry's
 * expiry to cover the shard (never shortens it), so that `invalidateTags` finds every shard without
 * walking the key space. Called before a value's shard is written (a shard is then never findable
 * only by SCAN; a registration whose write fails costs one empty look), or, for a getOrSet lease,
 * right after it is taken and before the factory runs (an invalidation in between changed the data
 * before the factory reads it). Plain commands, sent in this order on the registry's connection:
 * no script, so any number of slots, and a Redis user without scripting rights keeps its tags.
 * Rejects when Redis fails.
 */
export async function registerShards(l2: L2Driver, writes: readonly ShardWrite[]): Promise<void> {
  const byTag = new Map<string, { slots: Set<string>; ttlMs: number }>();
  for (const { indexKey, slot, ttlMs } of writes) {
    const entry = byTag.get(indexKey) ?? { slots: new Set<string>(), ttlMs: 0 };
    entry.slots.add(slot);
    entry.ttlMs = Math.max(entry.ttlMs, ttlMs);
    byTag.set(indexKey, entry);
  }
  await Promise.all(
    [...byTag].flatMap(([indexKey, { slots, ttlMs }]) => {
      const registry = tagSlotsKey(indexKey);
      const ms = String(Math.ceil(ttlMs));
      return [
        l2.command(['SADD', registry, ...slots]),
        // NX gives a new registry its expiry, GT only ever extends it
        l2.command(['PEXPIRE', registry, ms, 'NX']),
        l2.command(['PEXPIRE', registry, ms, 'GT']),
      ];
    }),
  );
}

/**
 * The Redis sets that make up the index `indexKey`, in batches: the key itself on one server; on a
 * cluster (`l2.sharded`), the shards its slot registry lists (a listed shard may be gone already:
 * emptied, expired). Rejects when Redis fails.
 */
export async function* tagIndexes(l2: L2Driver, indexKey: string): AsyncIterable<string[]> {
  if (!l2.sharded) {
    yield [indexKey];
    return;
  }
  const slots = await l2.command<string[]>(['SMEMBERS', tagSlotsKey(indexKey)]);
  for (let i = 0; i < slots.length; i += INVALIDATION_BATCH) {
    yield slots.slice(i, i + INVALIDATION_BATCH).map((slot) => shardKey(indexKey, slot));
  }
}

/** The `SCAN MATCH` pattern of every tag index (one server) or every shard of one (cluster). */
export function tagIndexPattern(sharded: boolean): string {
  return `${escapeGlob(sharded ? TAG_SHARD_NAMESPACE : TAG_NAMESPACE)}*`;
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
 * A member's lease is `__cachette:lease:<key>`, or on a cluster shard `__cachette:lease:{<slot
 * tag>}<key>` (lease.ts `leaseKey`) with the shard's own slot tag: all in the shard's slot.
 * Prepended to every script that writes a tagged value.
 */
export const INDEX_LUA = `local function index(tagKey, member, ttlMs)
  redis.call('SADD', tagKey, member)
  if redis.call('PTTL', tagKey) < ttlMs then redis.call('PEXPIRE', tagKey, ttlMs) end
  local lease = '${LEASE_NAMESPACE}'
  local shards = '${TAG_SHARD_NAMESPACE}'
  if string.sub(tagKey, 1, #shards) == shards then
    lease = lease .. string.sub(tagKey, #shards + 1, string.find(tagKey, '}', #shards + 1, true))
  end
  for _, old in ipairs(redis.call('SRANDMEMBER', tagKey, ${PRUNE_SAMPLE})) do
    if redis.call('EXISTS', old, lease .. old) == 0 then redis.call('SREM', tagKey, old) end
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
 * Removes every key under `prefixes` indexed by the tag index (or index shard) `indexKey`, in batches of SSCAN then
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
      [
        indexKey,
        ...members,
        ...members.map((member) =>
          l2.sharded ? keyBeside(LEASE_NAMESPACE, member) : LEASE_NAMESPACE + member,
        ),
      ],
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
