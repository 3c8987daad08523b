import { createHash, randomBytes } from 'node:crypto';
import type { L2Driver } from './tiers/redis.js';

/**
 * Cross-process single-flight for `getOrSet`: a short Redis lease per key.
 *
 * The process that wins `SET lease token NX PX` calls the factory; the others wait for the value.
 * The token is unique per acquisition and acts as a fencing token: the final write is a script
 * that stores the value only if the lease still holds that token, so a holder whose lease expired
 * (it was too slow, or paused) or was removed by an invalidation cannot write an outdated value.
 *
 * Invalidations reach the lease in two ways: `delete` removes the key's lease with the key, and
 * bulk invalidations (`deletePattern`, flush) bump the domain's epoch, which the lease remembers
 * at acquisition and the final write compares. A `FLUSHDB` removes leases and epochs alike.
 */

/** Namespace of lease keys; never inside a domain prefix, so pattern deletes and key listings skip them. */
const LEASE_NAMESPACE = '__cachette:lease:';
/** Namespace of per-domain epoch counters, bumped by bulk invalidations. */
const EPOCH_NAMESPACE = '__cachette:epoch:';

/** The lease key that guards the loading of `redisKey`. */
export function leaseKey(redisKey: string): string {
  return LEASE_NAMESPACE + redisKey;
}

/** The epoch counter of the domain with key prefix `prefix`. */
export function epochKey(prefix: string): string {
  return EPOCH_NAMESPACE + prefix;
}

class Script {
  readonly sha: string;
  constructor(readonly text: string) {
    this.sha = createHash('sha1').update(text).digest('hex');
  }

  /** EVALSHA, falling back to EVAL once when Redis does not know the script yet (restart, SCRIPT FLUSH). */
  async run<T>(l2: L2Driver, keys: string[], args: string[]): Promise<T> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await l2.command<T>(['EVALSHA', this.sha, ...tail]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return l2.command<T>(['EVAL', this.text, ...tail]);
    }
  }
}

// KEYS: lease, epoch. ARGV: token, lease ms. -> {1, epoch} when acquired, {0, lease pttl} otherwise.
const ACQUIRE = new Script(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('GET', KEYS[2]) or ''}
end
return {0, redis.call('PTTL', KEYS[1])}
`);

// KEYS: value, lease, epoch. ARGV: token, epoch seen at acquisition, text, ttl seconds.
// -> 1 stored, 0 lease lost (expired, taken over or removed by delete), -1 epoch moved (bulk invalidation).
const STORE_AND_RELEASE = new Script(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[2] then return -1 end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
return 1
`);

// KEYS: lease. ARGV: token. Compare-and-delete: never removes a lease another process took over.
const RELEASE = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** A lease this process holds. */
export interface Lease {
  redisKey: string;
  epochKey: string;
  token: string;
  /** The domain epoch when the lease was taken; the final write requires it unchanged. */
  epoch: string;
}

export type Acquisition = { acquired: true; lease: Lease } | { acquired: false; remainingMs: number };

/** What happened to a write through the lease. */
export type StoreOutcome = 'stored' | 'lease-lost' | 'invalidated';

const processTag = randomBytes(4).toString('hex');
let sequence = 0;

/** Takes, uses and releases per-key leases; every method rejects when Redis fails (callers degrade). */
export class Leases {
  readonly #l2: L2Driver;

  constructor(l2: L2Driver) {
    this.#l2 = l2;
  }

  /** Tries to take the lease of `redisKey` (domain `prefix`) for `leaseMs` ms. */
  async acquire(redisKey: string, prefix: string, leaseMs: number): Promise<Acquisition> {
    const token = `${processTag}:${process.pid}:${++sequence}:${randomBytes(6).toString('hex')}`;
    const epoch = epochKey(prefix);
    const [won, detail] = await ACQUIRE.run<[number, string | number]>(
      this.#l2,
      [leaseKey(redisKey), epoch],
      [token, String(Math.max(1, Math.round(leaseMs)))],
    );
    if (won === 1)
      return { acquired: true, lease: { redisKey, epochKey: epoch, token, epoch: String(detail) } };
    return { acquired: false, remainingMs: Number(detail) };
  }

  /** Writes `text` under the leased key with `ttl` seconds if the lease and the epoch still hold, and releases it. */
  async storeAndRelease(lease: Lease, text: string, ttl: number): Promise<StoreOutcome> {
    const result = await STORE_AND_RELEASE.run<number>(
      this.#l2,
      [lease.redisKey, leaseKey(lease.redisKey), lease.epochKey],
      [lease.token, lease.epoch, text, String(ttl)],
    );
    return result === 1 ? 'stored' : result === 0 ? 'lease-lost' : 'invalidated';
  }

  /** Gives the lease back without writing; never throws (an unreleased lease expires by itself). */
  async release(lease: Lease): Promise<void> {
    try {
      await RELEASE.run<number>(this.#l2, [leaseKey(lease.redisKey)], [lease.token]);
    } catch {
      // the lease expires after its TTL anyway
    }
  }
}
