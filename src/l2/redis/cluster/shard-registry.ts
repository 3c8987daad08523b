import type { L2Driver } from '../../driver.js';
import { addWithExpiry } from '../../keyspace.js';

/**
 * On a cluster a tag's index is sharded by hash slot (l2/keyspace.ts `Keyspace.shardKey`), so that a tagged
 * write stays one atomic script on one node, value and index together. `invalidateTags` finds a
 * tag's shards in its shard registry (`shardRegistryKey`) instead of walking every primary's key
 * space. The registry is never pruned (an entry removed while a writer is between registering and
 * writing would hide that shard); it expires with the tag's longest-lived shard and holds at most
 * one entry per hash slot.
 */

/**
 * One tag index shard written on a cluster: the index (from `tagKey`), the hash tag of the slot it
 * is in (its member's, slots.ts `slotTag`), and how long from now the shard may live at most (its
 * write's TTL, plus how late that write may still land).
 */
export interface ShardWrite {
  indexKey: string;
  hashTag: string;
  ttlMs: number;
}

/**
 * Records the hash tag of each shard in its tag's registry and extends the registry's expiry to
 * cover the shard (never shortens it). Called before a value's shard is written (a shard is then
 * never findable only by SCAN; a registration whose write fails costs one empty look), or, for a
 * getOrSet lease, right after it is taken and before the factory runs (an invalidation in between
 * changed the data before the factory reads it). Rejects when Redis fails.
 */
export async function registerShards(l2: L2Driver, writes: readonly ShardWrite[]): Promise<void> {
  const byTag = new Map<string, { hashTags: Set<string>; ttlMs: number }>();
  for (const { indexKey, hashTag, ttlMs } of writes) {
    const entry = byTag.get(indexKey) ?? { hashTags: new Set<string>(), ttlMs: 0 };
    entry.hashTags.add(hashTag);
    entry.ttlMs = Math.max(entry.ttlMs, ttlMs);
    byTag.set(indexKey, entry);
  }
  await Promise.all(
    [...byTag].flatMap(([indexKey, { hashTags, ttlMs }]) =>
      addWithExpiry(l2.keyspace.shardRegistryKey(indexKey), [...hashTags], ttlMs).map((args) =>
        l2.command(args),
      ),
    ),
  );
}
