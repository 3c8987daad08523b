import type { Domain, Domains } from '../domains/registry.js';
import { CacheKeyError } from '../errors.js';
import type { Keyspace } from '../l2/keyspace.js';
import { callDuration, type Duration, describeValue } from '../values/durations.js';
import { assertTags } from '../values/tags.js';

/** Timings of the cross-process lease taken by `getOrSet`: ms, or strings such as `'5s'`. */
export interface LockOptions {
  /** How long the lease lives, in ms: a holder that dies blocks others at most this long. Default 5000. */
  leaseMs?: Duration;
  /**
   * How long a caller waits for another caller's factory (in this process or another) before calling
   * its own, in ms; its result is then returned, not stored. Default `leaseMs`.
   */
  waitMs?: Duration;
}

/** Options of `getOrSet` / `getOrSetMany` besides `dbType`. */
export interface LoadOptions {
  /** TTL of the stored value: seconds, or a string such as `'5m'`. Default: the domain's. */
  ttl?: Duration;
  /** Spread of the stored values' expiries, a fraction of the TTL (see the `ttlJitter` option). Default: the domain's. */
  ttlJitter?: number;
  /** How long an expired value is kept to be served when the factory fails or is slow: seconds or `'6h'`. Default 0 (none). */
  grace?: Duration;
  /** After this many ms (or `'200ms'`), a caller that has a stale value gets it; the factory goes on and refreshes the cache. */
  softTimeoutMs?: Duration;
  /** After this many ms (or `'5s'`), the call serves the stale value or rejects with `FactoryTimeoutError`; the factory's `signal` is aborted. */
  hardTimeoutMs?: Duration;
  /** Cross-process single-flight through a Redis lease: `true` (default), `false` (per process only), or timings. */
  lock?: boolean | LockOptions;
  /** Fraction of the TTL (0 < x < 1) after which a read refreshes the value in the background. Default off. */
  refreshAhead?: number;
  /** Tags stored with the value (see `invalidateTags`); a load in progress is revoked by them too. */
  tags?: readonly string[];
  /**
   * Skip both tiers for this call: call the factory and store its result. Loads of the key already
   * running (in any process) started before this call: they are not joined, and their results are
   * not stored over this one. Default `false`.
   */
  forceFresh?: boolean;
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

/** A call's load options, validated once. */
export interface Plan {
  /** Seconds. */
  ttl: number;
  /** Fraction of `ttl` each store may take off at random. */
  ttlJitter: number;
  /** Seconds. */
  grace: number;
  softTimeoutMs: number | undefined;
  hardTimeoutMs: number | undefined;
  lock: { leaseMs: number; waitMs: number } | undefined;
  /** How long a caller waits for another caller's factory in this process: `lock.waitMs`, default 5000 without a lock. */
  waitMs: number;
  refreshAhead: number | undefined;
  /** Index keys of the value's tags. */
  tagKeys: string[];
  forceFresh: boolean;
}

const DEFAULT_LEASE_MS = 5000;

/** A per-call duration in `unit`, > 0, or `undefined` when not given; throws `CacheKeyError`. */
function optional(name: string, value: unknown, unit: 's' | 'ms', integer = false): number | undefined {
  return value === undefined ? undefined : callDuration(name, value, unit, { integer });
}

/**
 * Validates per-call loading options once, into a complete plan for a domain whose resolved TTL
 * (seconds) and jitter are given; tags are named in `keyspace`. Throws `CacheKeyError`.
 */
export function planFor(
  target: { ttl: number; ttlJitter: number },
  options: LoadOptions | undefined,
  keyspace: Keyspace,
): Plan {
  const grace = graceOf(options?.grace);
  const refreshAhead = refreshAheadOf(options?.refreshAhead);
  const lock = lockOf(options?.lock);
  return {
    ttl: target.ttl,
    ttlJitter: target.ttlJitter,
    grace,
    softTimeoutMs: optional('softTimeoutMs', options?.softTimeoutMs, 'ms'),
    hardTimeoutMs: optional('hardTimeoutMs', options?.hardTimeoutMs, 'ms'),
    lock,
    waitMs: lock?.waitMs ?? DEFAULT_LEASE_MS,
    refreshAhead,
    tagKeys: keyspace.tagKeys(options?.tags),
    forceFresh: options?.forceFresh === true,
  };
}

/**
 * Checks what `planFor` and the domain's `loadTarget` validate (throws `CacheKeyError` alike),
 * building nothing: an L1 hit answers without a plan, yet a bad option throws whatever the cache holds.
 */
export function checkLoadOptions(options: LoadOptions, domains: Domains, domain: Domain): void {
  // property reads, not a walk over the object's keys (`for…in` cost a hit with only a dbType 20%)
  if (options.ttl !== undefined) domains.ttlFor(domain, options.ttl);
  if (options.ttlJitter !== undefined) domains.jitterFor(domain, options.ttlJitter);
  if (options.grace !== undefined) graceOf(options.grace);
  if (options.refreshAhead !== undefined) refreshAheadOf(options.refreshAhead);
  if (options.lock !== undefined && options.lock !== true) lockOf(options.lock);
  if (options.softTimeoutMs !== undefined) optional('softTimeoutMs', options.softTimeoutMs, 'ms');
  if (options.hardTimeoutMs !== undefined) optional('hardTimeoutMs', options.hardTimeoutMs, 'ms');
  if (options.tags !== undefined) assertTags(options.tags);
}

function graceOf(grace: unknown): number {
  return grace === 0 ? 0 : (optional('grace', grace, 's', true) ?? 0);
}

function refreshAheadOf(refreshAhead: unknown): number | undefined {
  if (
    refreshAhead !== undefined &&
    !(typeof refreshAhead === 'number' && refreshAhead > 0 && refreshAhead < 1)
  ) {
    throw new CacheKeyError(
      `refreshAhead is a fraction of the TTL between 0 and 1, got ${describeValue(refreshAhead)}`,
    );
  }
  return refreshAhead;
}

function lockOf(option: boolean | LockOptions | undefined): Plan['lock'] {
  if (option === false) return undefined;
  if (
    option !== undefined &&
    typeof option !== 'boolean' &&
    (typeof option !== 'object' || option === null)
  ) {
    throw new CacheKeyError(`lock is true, false or { leaseMs, waitMs }, got ${describeValue(option)}`);
  }
  const given = option === undefined || option === true ? {} : option;
  const leaseMs = optional('lock.leaseMs', given.leaseMs, 'ms') ?? DEFAULT_LEASE_MS;
  return { leaseMs, waitMs: optional('lock.waitMs', given.waitMs, 'ms') ?? leaseMs };
}
