import { randomBytes } from 'node:crypto';
import type { L2Driver } from '../l2/driver.js';
import { addWithExpiry, type Keyspace } from '../l2/keyspace.js';
import { registerShards, type ShardWrite } from '../l2/redis/cluster/shard-registry.js';
import { keySlot, slotTag } from '../l2/redis/cluster/slots.js';
import { Script } from '../l2/script.js';

/**
 * Cross-process single-flight for `getOrSet`: a short Redis lease per key.
 *
 * The process that wins `SET lease token NX PX` calls the factory; the others wait for the value.
 * The token is unique per acquisition and acts as a fencing token: the final write is a script
 * that stores the value only if the lease still holds that token, so a holder whose lease expired
 * (it was too slow, or paused) or was revoked by an invalidation cannot write an outdated value.
 *
 * Invalidations revoke leases: `delete` removes the key's lease together with the key, and
 * `deletePattern` and `flushAll` revoke the leases of matching keys, found in the domain's registry
 * of keys being loaded (a Redis set that only holds in-flight loads and disappears when none is
 * left). A load with tags is listed in its tags' indexes from the start, so `invalidateTags`
 * revokes it too. A `FLUSHDB` removes every lease. Nothing stays in Redis once loads are over.
 *
 * On Redis Cluster the registry of a domain lives in another slot than the keys, and a script may
 * only touch keys of one slot: the registry is then updated by commands of its own. A load
 * registers right after taking its lease and before calling the factory (if it cannot register,
 * it gives the lease back and loads unlocked). An invalidation that reads the registry before
 * the load registered changed the database before the factory reads it, so there is nothing to
 * revoke; one that reads it later finds the load. Each registration names its token, so that a
 * load clearing its own entry cannot clear the entry of the next load of the same key. The tags'
 * index shards of a key share its slot (l2/keyspace.ts): the lease indexes them in the same script.
 */

/**
 * The lease scripts that index tags: their `index` function names leases in the cache's key space.
 * `seize` and `seizeShard` take the lease even when another load holds it, which revokes that load
 * (its store finds another token): `forceFresh` loads.
 */
interface IndexingScripts {
  acquire: Script;
  seize: Script;
  storeAndRelease: Script;
  take: Script;
  seizeShard: Script;
  storeAndDropLease: Script;
}

/** `SET lease token NX PX ms`, or without `NX` when `seize`s. */
function setLease(seize: boolean): string {
  return seize
    ? `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])`
    : `redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])`;
}

// KEYS: lease, registry, then the indexes of the value's tags. ARGV: token, lease ms, value key.
// -> -1 when acquired, else the lease's PTTL (never <= 0). A tagged key is indexed from the start of
// its load, so that invalidating one of its tags revokes the lease even before the value exists.
function acquireLua(index: string, seize: boolean): string {
  return `${index}
if ${setLease(seize)} then
  redis.call('SADD', KEYS[2], ARGV[3])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
  for i = 3, #KEYS do index(KEYS[i], ARGV[3], tonumber(ARGV[2])) end
  return -1
end
return math.max(redis.call('PTTL', KEYS[1]), 1)
`;
}

// Cluster halves of `acquireLua`, one slot each.
// KEYS: lease, then the shards of the value's tag indexes in its slot. ARGV: token, lease ms, value
// key. -> -1 when acquired, else the lease's PTTL (<= 0 never).
function takeLua(index: string, seize: boolean): string {
  return `${index}
if ${setLease(seize)} then
  for i = 2, #KEYS do index(KEYS[i], ARGV[3], tonumber(ARGV[2])) end
  return -1
end
return math.max(redis.call('PTTL', KEYS[1]), 1)
`;
}

function indexingScripts(keyspace: Keyspace): IndexingScripts {
  const index = keyspace.indexLua;
  return {
    acquire: new Script(acquireLua(index, false)),
    seize: new Script(acquireLua(index, true)),
    take: new Script(takeLua(index, false)),
    seizeShard: new Script(takeLua(index, true)),
    // KEYS: value, lease, registry, then the indexes of the value's tags. ARGV: token, text, ttl seconds, value key.
    // -> 1 stored, 0 lease lost (expired and taken over, or revoked by an invalidation).
    storeAndRelease: new Script(`${index}
local holder = redis.call('GET', KEYS[2])
if holder ~= ARGV[1] then
  -- revoked: nobody loads the key any more, so the registry forgets it (a taker-over still needs it)
  if not holder then redis.call('SREM', KEYS[3], ARGV[4]) end
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[4])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('EXISTS', KEYS[1]) -- a read: tracks the stored key for coherence (see l2/redis/write-scripts.ts)
for i = 4, #KEYS do index(KEYS[i], KEYS[1], tonumber(ARGV[3]) * 1000) end
return 1
`),
    // Cluster version of `storeAndRelease` without the registry (KEYS: value, lease, then the value's
    // tag index shards). ARGV: token, text, ttl seconds.
    storeAndDropLease: new Script(`${index}
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('EXISTS', KEYS[1]) -- a read: tracks the stored key for coherence (see l2/redis/write-scripts.ts)
for i = 3, #KEYS do index(KEYS[i], KEYS[1], tonumber(ARGV[3]) * 1000) end
return 1
`),
  };
}

// Cluster version of RELEASE without the registry. KEYS: lease. ARGV: token.
const DROP_LEASE = new Script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`);

// KEYS: lease, registry. ARGV: token, value key. Compare-and-delete: never removes a lease another process took over.
const RELEASE = new Script(`
local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[1] then
  if not holder then redis.call('SREM', KEYS[2], ARGV[2]) end
  return 0
end
redis.call('SREM', KEYS[2], ARGV[2])
return redis.call('DEL', KEYS[1])
`);

/**
 * Revokes the leases of the domain's keys for which `matches(redisKey)` holds, so that loads
 * running for them do not store their results. Rejects when Redis fails.
 */
export async function revokeLeases(
  l2: L2Driver,
  prefix: string,
  matches: (redisKey: string) => boolean,
): Promise<void> {
  const { keyspace } = l2;
  const loading = (await l2.command<string[]>(['SMEMBERS', keyspace.loadingKey(prefix)])).map(registeredKey);
  const revoked = loading.filter(matches).map((key) => keyspace.leaseKey(key, l2.sharded));
  if (revoked.length > 0) await l2.delete(revoked);
}

/**
 * The entry of a load in the registry: the key, preceded on a cluster by the lease token and a tab
 * (keys hold no control characters, tokens no tab).
 */
function registration(lease: Lease): string {
  return `${lease.token}\t${lease.redisKey}`;
}

function registeredKey(entry: string): string {
  return entry.slice(entry.indexOf('\t') + 1);
}

/** The tag index shards a tagged load or store of `member` writes on a cluster, for `ttlMs`. */
function shardWrites(tagKeys: readonly string[], member: string, ttlMs: number): ShardWrite[] {
  const hashTag = slotTag(keySlot(member));
  return tagKeys.map((indexKey) => ({ indexKey, hashTag, ttlMs }));
}

/** A lease this process holds. */
export interface Lease {
  redisKey: string;
  registryKey: string;
  token: string;
  /** How long the lease was taken for. */
  leaseMs: number;
}

export type Acquisition = { acquired: true; lease: Lease } | { acquired: false; remainingMs: number };

const processTag = randomBytes(4).toString('hex');
let sequence = 0;

/** Takes, uses and releases per-key leases; every method rejects when Redis fails (callers degrade). */
export class Leases {
  readonly #l2: L2Driver;
  readonly #keyspace: Keyspace;
  readonly #scripts: IndexingScripts;
  /** The leases this process holds, to give back at close. */
  readonly #held = new Set<Lease>();

  constructor(l2: L2Driver) {
    this.#l2 = l2;
    this.#keyspace = l2.keyspace;
    this.#scripts = indexingScripts(l2.keyspace);
  }

  /**
   * Tries to take the lease of `redisKey` (domain `prefix`) for `leaseMs` ms; `tagKeys` index it from
   * now on. With `seize`, takes it even from another load, which then cannot store its result.
   */
  async acquire(
    redisKey: string,
    prefix: string,
    leaseMs: number,
    tagKeys: readonly string[] = [],
    seize = false,
  ): Promise<Acquisition> {
    const token = `${processTag}:${process.pid}:${++sequence}:${randomBytes(6).toString('hex')}`;
    const registryKey = this.#keyspace.loadingKey(prefix);
    const ms = String(Math.max(1, Math.round(leaseMs)));
    const lease: Lease = { redisKey, registryKey, token, leaseMs };
    let result: number;
    if (this.#l2.sharded) {
      result = await (seize ? this.#scripts.seizeShard : this.#scripts.take).run<number>(
        this.#l2,
        [
          this.#keyspace.leaseKey(redisKey, true),
          ...tagKeys.map((index) => this.#keyspace.tagShardKey(index, redisKey)),
        ],
        [token, ms, redisKey],
      );
      if (result === -1) {
        try {
          // after TAKE (which must leave first: the loader's read rides right behind it), before the
          // factory runs; the shards TAKE wrote expire with the lease, the registry no sooner
          await Promise.all([
            ...addWithExpiry(registryKey, [registration(lease)], Number(ms)).map((args) =>
              this.#l2.command(args),
            ),
            tagKeys.length > 0
              ? registerShards(this.#l2, shardWrites(tagKeys, redisKey, leaseMs))
              : undefined,
          ]);
        } catch (err) {
          // an unregistered lease could not be revoked by an invalidation: do not load under it
          await this.release(lease);
          throw err;
        }
      }
    } else {
      result = await (seize ? this.#scripts.seize : this.#scripts.acquire).run<number>(
        this.#l2,
        [this.#keyspace.leaseKey(redisKey), registryKey, ...tagKeys],
        [token, ms, redisKey],
      );
    }
    if (result !== -1) return { acquired: false, remainingMs: result };
    this.#held.add(lease);
    return { acquired: true, lease };
  }

  /**
   * Writes `text` under the leased key with `ttl` seconds, indexed under `tagKeys`, if the lease
   * still holds, and releases it; `true` if stored.
   */
  async storeAndRelease(
    lease: Lease,
    text: string,
    ttl: number,
    tagKeys: readonly string[] = [],
  ): Promise<boolean> {
    this.#held.delete(lease);
    if (this.#l2.sharded) {
      // the store lands only while the lease holds: at most leaseMs after this registration
      if (tagKeys.length > 0) {
        await registerShards(this.#l2, shardWrites(tagKeys, lease.redisKey, ttl * 1000 + lease.leaseMs));
      }
      const stored = await this.#scripts.storeAndDropLease.run<number>(
        this.#l2,
        [
          lease.redisKey,
          this.#keyspace.leaseKey(lease.redisKey, true),
          ...tagKeys.map((index) => this.#keyspace.tagShardKey(index, lease.redisKey)),
        ],
        [lease.token, text, String(ttl)],
      );
      await this.#unregister(lease);
      return stored === 1;
    }
    const result = await this.#scripts.storeAndRelease.run<number>(
      this.#l2,
      [lease.redisKey, this.#keyspace.leaseKey(lease.redisKey), lease.registryKey, ...tagKeys],
      [lease.token, text, String(ttl), lease.redisKey],
    );
    return result === 1;
  }

  /** Gives the lease back without writing; never throws (an unreleased lease expires by itself). */
  async release(lease: Lease): Promise<void> {
    this.#held.delete(lease);
    try {
      if (this.#l2.sharded) {
        await DROP_LEASE.run<number>(
          this.#l2,
          [this.#keyspace.leaseKey(lease.redisKey, true)],
          [lease.token],
        );
        await this.#unregister(lease);
      } else {
        await RELEASE.run<number>(
          this.#l2,
          [this.#keyspace.leaseKey(lease.redisKey), lease.registryKey],
          [lease.token, lease.redisKey],
        );
      }
    } catch {
      // the lease expires after its TTL anyway
    }
  }

  /**
   * Gives back every lease still held (the cache is closing: their loads will not store), so that
   * another process loads those keys at once rather than after the leases expire; never throws.
   */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.#held].map((lease) => this.release(lease)));
  }

  /**
   * Cluster only: removes the load from the registry once its lease is gone; never throws (an entry
   * left behind only costs the next invalidation a useless lease delete, and expires with the registry).
   */
  async #unregister(lease: Lease): Promise<void> {
    try {
      await this.#l2.command(['SREM', lease.registryKey, registration(lease)]);
    } catch {
      // see above
    }
  }
}

/**
 * Claims the period `name` for `ttlMs` ms across every process sharing the Redis, with `SET … NX
 * PX`: `true` if this process got it, `false` if another process holds it. A claim is not
 * released: it marks a period (one periodic warming per interval).
 */
export async function claimPeriod(l2: L2Driver, name: string, ttlMs: number): Promise<boolean> {
  const token = `${processTag}:${process.pid}`;
  const reply = await l2.command<string | null>([
    'SET',
    l2.keyspace.claimKey(name),
    token,
    'NX',
    'PX',
    String(Math.max(1, Math.round(ttlMs))),
  ]);
  return reply === 'OK';
}
