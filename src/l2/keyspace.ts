import { escapeGlob } from '../values/keys.js';
import { checkTags } from '../values/tags.js';
import { keyBeside, keySlot, slotTag } from './redis/cluster/slots.js';

/**
 * Every Redis key cachette keeps for itself, named in one place: outside every domain prefix, so
 * that pattern deletes, key listings and app flushes never mistake them for cached values, and one
 * place because Lua scripts of several modules build these names too.
 *
 * - `__cachette:lease:<key>`: the lease of a getOrSet load (get-set/lease.ts); on a cluster
 *   `__cachette:lease:{<hash tag>}<key>`, in the slot of `<key>`.
 * - `__cachette:loading:<prefix>`: the domain's registry of keys being loaded.
 * - `__cachette:slot:<name>`: a claim (one periodic warming per interval across processes).
 * - `__cachette:tag:<tag>`: the index of a tag, the set of Redis keys carrying it.
 * - `__cachette:tags:{<hash tag>}<tag>`: on a cluster, the index shard of a tag in one hash slot.
 * - `__cachette:tagslots:<tag>`: on a cluster, the shard registry of a tag (the hash tags of its shards).
 */
export const INTERNAL_NAMESPACE = '__cachette:';
const LEASE_NAMESPACE = `${INTERNAL_NAMESPACE}lease:`;
const LOADING_NAMESPACE = `${INTERNAL_NAMESPACE}loading:`;
const CLAIM_NAMESPACE = `${INTERNAL_NAMESPACE}slot:`;
const TAG_NAMESPACE = `${INTERNAL_NAMESPACE}tag:`;
/** A namespace apart from `TAG_NAMESPACE`, so that no standalone tag (which may hold braces) is ever read as a shard. */
const TAG_SHARD_NAMESPACE = `${INTERNAL_NAMESPACE}tags:`;
const SHARD_REGISTRY_NAMESPACE = `${INTERNAL_NAMESPACE}tagslots:`;
/** Members a tagged write samples per tag index to drop those whose key is gone. */
const PRUNE_SAMPLE = 3;

/**
 * The lease key that guards the loading of `redisKey`. On a cluster (`sharded`) it carries a hash
 * tag that puts it in the slot of `redisKey`, so that one script can check the lease and write the value.
 */
export function leaseKey(redisKey: string, sharded = false): string {
  return sharded ? keyBeside(LEASE_NAMESPACE, redisKey) : LEASE_NAMESPACE + redisKey;
}

/** The key `leaseKey` (from `leaseKey`) guards, or `undefined` if it is no lease. */
export function leasedKey(leaseKey: string, sharded = false): string | undefined {
  if (!leaseKey.startsWith(LEASE_NAMESPACE)) return undefined;
  if (!sharded) return leaseKey.slice(LEASE_NAMESPACE.length);
  // hash tags hold no brace: the key starts right after the first closing one
  const close = leaseKey.indexOf('}', LEASE_NAMESPACE.length);
  return close === -1 ? undefined : leaseKey.slice(close + 1);
}

/** The set of keys of the domain with prefix `prefix` that some process is loading. */
export function loadingKey(prefix: string): string {
  return LOADING_NAMESPACE + prefix;
}

/** The key of the claim `name` (see `Cache.claim`). */
export function claimKey(name: string): string {
  return CLAIM_NAMESPACE + name;
}

/** The index key of `tag`. */
export function tagKey(tag: string): string {
  return TAG_NAMESPACE + tag;
}

/** Validates `tags` (see values/tags.ts `checkTags`; throws `CacheKeyError`) and returns their index keys. */
export function tagKeys(tags: unknown): string[] {
  return checkTags(tags).map(tagKey);
}

/** On a cluster: the shard of the index `indexKey` (from `tagKey`) in the hash slot whose hash tag is `hashTag`. */
export function shardKey(indexKey: string, hashTag: string): string {
  return `${TAG_SHARD_NAMESPACE}{${hashTag}}${indexKey.slice(TAG_NAMESPACE.length)}`;
}

/** On a cluster: the shard of the index `indexKey` (from `tagKey`) in the hash slot of `member`. */
export function tagShardKey(indexKey: string, member: string): string {
  return shardKey(indexKey, slotTag(keySlot(member)));
}

/**
 * The index (from `tagKey`) that `key` is, or is a cluster shard of; `undefined` for any other key.
 * Hash tags hold no brace: a shard's tag starts right after the first closing one.
 */
export function tagIndexOf(key: string): string | undefined {
  if (key.startsWith(TAG_NAMESPACE)) return key;
  if (!key.startsWith(`${TAG_SHARD_NAMESPACE}{`)) return undefined;
  const close = key.indexOf('}', TAG_SHARD_NAMESPACE.length);
  return close === -1 ? undefined : TAG_NAMESPACE + key.slice(close + 1);
}

/** On a cluster: the registry of the hash tags of the shards the index `indexKey` (from `tagKey`) has. */
export function shardRegistryKey(indexKey: string): string {
  return SHARD_REGISTRY_NAMESPACE + indexKey.slice(TAG_NAMESPACE.length);
}

/** The `SCAN MATCH` pattern of every tag index (one server) or every shard of one (cluster). */
export function tagIndexPattern(sharded: boolean): string {
  return `${escapeGlob(sharded ? TAG_SHARD_NAMESPACE : TAG_NAMESPACE)}*`;
}

/**
 * The commands that add `members` to the set `key` and make it live at least `ttlMs` from now: SADD,
 * then PEXPIRE NX (a new set gets its expiry) and PEXPIRE GT (an existing one is only ever
 * extended). Plain commands, no script: any number of members, and no scripting rights needed.
 * Not atomic together; callers send them in this order on one connection.
 */
export function addWithExpiry(key: string, members: readonly string[], ttlMs: number): string[][] {
  const ms = String(Math.ceil(ttlMs));
  return [
    ['SADD', key, ...members],
    ['PEXPIRE', key, ms, 'NX'],
    ['PEXPIRE', key, ms, 'GT'],
  ];
}

/**
 * Lua: `index(tagKey, member, ttlMs)` adds `member` to the tag's set, extends the set's expiry to
 * at least `ttlMs`, and drops a few sampled members whose key and lease are both gone (a member
 * with a lease is being loaded by getOrSet and must stay findable so invalidation can revoke it).
 * A member's lease is `leaseKey(member)`, or on a cluster shard the lease with the shard's own hash
 * tag: all in the shard's slot. Prepended to every script that writes a tagged value.
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
