import { escapeGlob, INTERNAL_NAMESPACE } from '../values/keys.js';
import { checkTags } from '../values/tags.js';
import { keyBeside, keySlot, slotTag } from './redis/cluster/slots.js';

/**
 * Every Redis key cachette keeps for itself, named in one place: right after the app's key prefix
 * (the `keyPrefix` option, `''` by default) and outside every domain prefix, so that pattern
 * deletes, key listings and app flushes never mistake them for cached values, and apps with other
 * prefixes never touch them; one place because Lua scripts of several modules build these names too.
 * With `<p>` the key prefix and `<key>` a value's whole Redis key (`<p><domain prefix><key>`):
 *
 * - `<p>__cachette:lease:<key>`: the lease of a getOrSet load (get-set/lease.ts); on a cluster
 *   `<p>__cachette:lease:{<hash tag>}<key>`, in the slot of `<key>`.
 * - `<p>__cachette:loading:<domain's whole prefix>`: the domain's registry of keys being loaded.
 * - `<p>__cachette:slot:<name>`: a claim (one periodic warming per interval across processes).
 * - `<p>__cachette:tag:<tag>`: the index of a tag, the set of Redis keys carrying it.
 * - `<p>__cachette:tags:{<hash tag>}<tag>`: on a cluster, the index shard of a tag in one hash slot.
 * - `<p>__cachette:tagslots:<tag>`: on a cluster, the shard registry of a tag (the hash tags of its shards).
 */
export class Keyspace {
  /** The app's key prefix, in front of every key. */
  readonly keyPrefix: string;
  /**
   * Lua: `index(tagKey, member, ttlMs)` adds `member` to the tag's set, extends the set's expiry to
   * at least `ttlMs`, and drops a few sampled members whose key and lease are both gone (a member
   * with a lease is being loaded by getOrSet and must stay findable so invalidation can revoke it).
   * A member's lease is `leaseKey(member)`, or on a cluster shard the lease with the shard's own hash
   * tag: all in the shard's slot. Prepended to every script that writes a tagged value.
   */
  readonly indexLua: string;
  readonly #lease: string;
  readonly #loading: string;
  readonly #claim: string;
  readonly #tag: string;
  /** A namespace apart from the tags', so that no standalone tag (which may hold braces) is ever read as a shard. */
  readonly #shard: string;
  readonly #registry: string;

  /** `keyPrefix` is trusted: checked by config/domains.ts `checkKeyPrefix`. */
  constructor(keyPrefix = '') {
    this.keyPrefix = keyPrefix;
    const internal = keyPrefix + INTERNAL_NAMESPACE;
    this.#lease = `${internal}lease:`;
    this.#loading = `${internal}loading:`;
    this.#claim = `${internal}slot:`;
    this.#tag = `${internal}tag:`;
    this.#shard = `${internal}tags:`;
    this.#registry = `${internal}tagslots:`;
    this.indexLua = indexLua(this.#lease, this.#shard);
  }

  /**
   * The lease key that guards the loading of `redisKey`. On a cluster (`sharded`) it carries a hash
   * tag that puts it in the slot of `redisKey`, so that one script can check the lease and write the value.
   */
  leaseKey(redisKey: string, sharded = false): string {
    return sharded ? keyBeside(this.#lease, redisKey) : this.#lease + redisKey;
  }

  /** The key `leaseKey` (from `leaseKey`) guards, or `undefined` if it is no lease of this keyspace. */
  leasedKey(leaseKey: string, sharded = false): string | undefined {
    if (!leaseKey.startsWith(this.#lease)) return undefined;
    if (!sharded) return leaseKey.slice(this.#lease.length);
    // hash tags hold no brace: the key starts right after the first closing one
    const close = leaseKey.indexOf('}', this.#lease.length);
    return close === -1 ? undefined : leaseKey.slice(close + 1);
  }

  /**
   * The index (from `tagKey`) that `key` is, or is a cluster shard of; `undefined` for any other key.
   * Hash tags hold no brace: a shard's tag starts right after the first closing one.
   */
  tagIndexOf(key: string): string | undefined {
    if (key.startsWith(this.#tag)) return key;
    if (!key.startsWith(`${this.#shard}{`)) return undefined;
    const close = key.indexOf('}', this.#shard.length);
    return close === -1 ? undefined : this.#tag + key.slice(close + 1);
  }

  /** The set of keys of the domain whose whole prefix is `prefix` that some process is loading. */
  loadingKey(prefix: string): string {
    return this.#loading + prefix;
  }

  /** The key of the claim `name` (see `Cache.claim`). */
  claimKey(name: string): string {
    return this.#claim + name;
  }

  /** The index key of `tag`. */
  tagKey(tag: string): string {
    return this.#tag + tag;
  }

  /** Validates `tags` (see values/tags.ts `checkTags`; throws `CacheKeyError`) and returns their index keys. */
  tagKeys(tags: unknown): string[] {
    return checkTags(tags).map((tag) => this.#tag + tag);
  }

  /** On a cluster: the shard of the index `indexKey` (from `tagKey`) in the hash slot whose hash tag is `hashTag`. */
  shardKey(indexKey: string, hashTag: string): string {
    return `${this.#shard}{${hashTag}}${indexKey.slice(this.#tag.length)}`;
  }

  /** On a cluster: the shard of the index `indexKey` (from `tagKey`) in the hash slot of `member`. */
  tagShardKey(indexKey: string, member: string): string {
    return this.shardKey(indexKey, slotTag(keySlot(member)));
  }

  /** On a cluster: the registry of the hash tags of the shards the index `indexKey` (from `tagKey`) has. */
  shardRegistryKey(indexKey: string): string {
    return this.#registry + indexKey.slice(this.#tag.length);
  }

  /** The `SCAN MATCH` pattern of every tag index (one server) or every shard of one (cluster). */
  tagIndexPattern(sharded: boolean): string {
    return `${escapeGlob(sharded ? this.#shard : this.#tag)}*`;
  }
}

/** Members a tagged write samples per tag index to drop those whose key is gone. */
const PRUNE_SAMPLE = 3;

/** `text` as a single-quoted Lua string literal. */
function luaString(text: string): string {
  return `'${text.replace(/[\\']/g, '\\$&')}'`;
}

/** The `index` Lua function (see `Keyspace.indexLua`) for the given lease and shard namespaces. */
function indexLua(leaseNamespace: string, shardNamespace: string): string {
  return `local function index(tagKey, member, ttlMs)
  redis.call('SADD', tagKey, member)
  if redis.call('PTTL', tagKey) < ttlMs then redis.call('PEXPIRE', tagKey, ttlMs) end
  local lease = ${luaString(leaseNamespace)}
  local shards = ${luaString(shardNamespace)}
  if string.sub(tagKey, 1, #shards) == shards then
    lease = lease .. string.sub(tagKey, #shards + 1, string.find(tagKey, '}', #shards + 1, true))
  end
  for _, old in ipairs(redis.call('SRANDMEMBER', tagKey, ${PRUNE_SAMPLE})) do
    if redis.call('EXISTS', old, lease .. old) == 0 then redis.call('SREM', tagKey, old) end
  end
end
`;
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
