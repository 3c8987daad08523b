import type { L2Commands } from './driver.js';
import { Script } from './script.js';

/**
 * Tags: a value written with `tags: ['dashboard', 'product:42']` can be removed later by any of
 * them, whatever its domain.
 *
 * The index is one Redis set per tag, `<keyPrefix>__cachette:tag:<tag>`, holding the Redis keys that carry it.
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
 * `__cachette:tags:{<hash tag>}<tag>`, with `<hash tag>` the short string that hashes to the value's
 * slot (l2/redis/cluster/slots.ts `slotTag`; the hash tag comes first, so braces in the tag cannot move it). A write
 * stays one atomic script on one node, value and index together, and a shard only lists keys of its
 * own slot, so pruning and invalidation scripts touch nothing else. `invalidateTags` finds a tag's
 * shards in its shard registry, `__cachette:tagslots:<tag>` (l2/redis/cluster/shard-registry.ts):
 * every write of a shard first records the shard there.
 *
 * Limits: membership is added, never taken away by a later write without the tag, so invalidating a
 * tag can remove a key re-written without it (more invalidation, never less). A `SET` from outside
 * cachette (the Python service) carries no tags.
 */

/** Members read (SSCAN COUNT) and removed per invalidation round trip. */
export const INVALIDATION_BATCH = 500;

/**
 * The Redis sets that make up the index `indexKey`, in batches: the key itself on one server; on a
 * cluster (`l2.sharded`), the shards its registry lists (a listed shard may be gone already:
 * emptied, expired). Rejects when Redis fails.
 */
export async function* tagIndexes(l2: L2Commands, indexKey: string): AsyncIterable<string[]> {
  if (!l2.sharded) {
    yield [indexKey];
    return;
  }
  const hashTags = await l2.command<string[]>(['SMEMBERS', l2.keyspace.shardRegistryKey(indexKey)]);
  for (let i = 0; i < hashTags.length; i += INVALIDATION_BATCH) {
    yield hashTags.slice(i, i + INVALIDATION_BATCH).map((hashTag) => l2.keyspace.shardKey(indexKey, hashTag));
  }
}

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
  l2: L2Commands,
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
      [indexKey, ...members, ...members.map((member) => l2.keyspace.leaseKey(member, l2.sharded))],
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
