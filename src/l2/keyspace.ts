/**
 * Keys cachette keeps for itself, outside every domain prefix, so that pattern deletes, key
 * listings and app flushes never mistake them for cached values. One place, because the Lua
 * scripts of several modules build these names too.
 */
export const INTERNAL_NAMESPACE = '__cachette:';
/** Leases of getOrSet loads (see lease.ts): `__cachette:lease:<redis key>`. */
export const LEASE_NAMESPACE = `${INTERNAL_NAMESPACE}lease:`;
/** Tag indexes (see tags.ts): `__cachette:tag:<tag>`, a set of the Redis keys carrying the tag. */
export const TAG_NAMESPACE = `${INTERNAL_NAMESPACE}tag:`;
/**
 * Tag indexes on Redis Cluster (see tags.ts): `__cachette:tags:{<slot tag>}<tag>`, one set per tag and
 * hash slot, beside the values it lists. A namespace apart from `TAG_NAMESPACE`, so that no
 * standalone tag (which may hold braces) is ever read as a shard.
 */
export const TAG_SHARD_NAMESPACE = `${INTERNAL_NAMESPACE}tags:`;
/**
 * On Redis Cluster, the hash slots in which a tag has index shards (see tags.ts):
 * `__cachette:tagslots:<tag>`, a set of slot tags, so that `invalidateTags` finds the shards without
 * walking the key space.
 */
export const TAG_SLOTS_NAMESPACE = `${INTERNAL_NAMESPACE}tagslots:`;
