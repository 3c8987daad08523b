import { CacheKeyError } from '../errors.js';
import { tagKeys } from '../l2/keyspace.js';

/** Timings of the cross-process lease taken by `getOrSet`. */
export interface LockOptions {
  /** How long the lease lives, in ms: a holder that dies blocks others at most this long. Default 5000. */
  leaseMs?: number;
  /**
   * How long a caller waits for another caller's factory (in this process or another) before calling
   * its own, in ms; its result is then returned, not stored. Default `leaseMs`.
   */
  waitMs?: number;
}

/** Options of `getOrSet` / `getOrSetMany` besides `dbType`. */
export interface LoadOptions {
  /** TTL of the stored value in seconds. Default: the domain's. */
  ttl?: number;
  /** Seconds an expired value is kept to be served when the factory fails or is slow. Default 0 (none). */
  grace?: number;
  /** After this many ms, a caller that has a stale value gets it; the factory goes on and refreshes the cache. */
  softTimeoutMs?: number;
  /** After this many ms, the call serves the stale value or rejects with `FactoryTimeoutError`. */
  hardTimeoutMs?: number;
  /** Cross-process single-flight through a Redis lease: `true` (default), `false` (per process only), or timings. */
  lock?: boolean | LockOptions;
  /** Fraction of the TTL (0 < x < 1) after which a read refreshes the value in the background. Default off. */
  refreshAhead?: number;
  /** Tags stored with the value (see `invalidateTags`); a load in progress is revoked by them too. */
  tags?: readonly string[];
}

/** Counters of the loading path, in `cache.stats().loading`. */
export interface LoadingStats {
  /** Factory calls (including batch factories and background refreshes). */
  factoryCalls: number;
  /** Factory calls that threw or rejected. */
  factoryErrors: number;
  /** Calls that reached `hardTimeoutMs`. */
  factoryTimeouts: number;
  /** Calls answered with a stale value (factory failure, soft or hard timeout). */
  staleServed: number;
  /** Calls that found another process loading the key and waited for its value. */
  leaseWaits: number;
  /**
   * Pauses of those waits cut short (or skipped) because Redis reported the key changed (the holder
   * stored it), rather than ended by a poll: the waiter read the value right after it was stored.
   */
  waitsWoken: number;
  /**
   * Callers that stopped waiting for another caller's factory (in this process or another) after
   * `lock.waitMs` and called their own.
   */
  waitTimeouts: number;
  /** Factory results not stored because the key was invalidated (or the lease lost) meanwhile. */
  storesSkipped: number;
  /** Background refreshes started by `refreshAhead`. */
  refreshes: number;
}

/** Loads the value of a missing key for `getOrSet`: `undefined` stores nothing, a throw reaches the callers. */
export type Factory<T> = () => T | Promise<T>;
/** Loads several missing keys (without prefix) for `getOrSetMany`: a `Map` from key to value. */
export type BatchFactory<T> = (keys: string[]) => Map<string, T> | Promise<Map<string, T>>;

/** A call's load options, validated once. */
export interface Plan {
  ttl: number;
  grace: number;
  softTimeoutMs: number | undefined;
  hardTimeoutMs: number | undefined;
  lock: Required<LockOptions> | undefined;
  /** How long a caller waits for another caller's factory in this process: `lock.waitMs`, default 5000 without a lock. */
  waitMs: number;
  refreshAhead: number | undefined;
  /** Index keys of the value's tags. */
  tagKeys: string[];
}

const DEFAULT_LEASE_MS = 5000;

function positive(name: string, value: number | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new CacheKeyError(`${name} must be a ${integer ? 'whole ' : ''}number > 0, got ${String(value)}`);
  }
  return value;
}

/** Validates per-call loading options once, into a complete plan. */
export function planFor(ttl: number, options: LoadOptions | undefined): Plan {
  const grace = options?.grace === 0 ? 0 : (positive('grace', options?.grace, true) ?? 0);
  const refreshAhead = positive('refreshAhead', options?.refreshAhead);
  if (refreshAhead !== undefined && refreshAhead >= 1) {
    throw new CacheKeyError(`refreshAhead is a fraction of the TTL between 0 and 1, got ${refreshAhead}`);
  }
  const lockOption = options?.lock ?? true;
  let lock: Required<LockOptions> | undefined;
  if (lockOption !== false) {
    const given = lockOption === true ? {} : lockOption;
    const leaseMs = positive('lock.leaseMs', given.leaseMs) ?? DEFAULT_LEASE_MS;
    lock = { leaseMs, waitMs: positive('lock.waitMs', given.waitMs) ?? leaseMs };
  }
  return {
    ttl,
    grace,
    softTimeoutMs: positive('softTimeoutMs', options?.softTimeoutMs),
    hardTimeoutMs: positive('hardTimeoutMs', options?.hardTimeoutMs),
    lock,
    waitMs: lock?.waitMs ?? DEFAULT_LEASE_MS,
    refreshAhead,
    tagKeys: tagKeys(options?.tags),
  };
}

/** Whether a call's `options` hold any load option besides `dbType` (an L1 hit then still validates them). */
export function hasLoadOptions(options: object): boolean {
  for (const name in options) if (name !== 'dbType') return true;
  return false;
}
