import { CacheKeyError, FactoryTimeoutError } from '../errors.js';
import { tagKeys } from '../invalidation/tags.js';
import type { FillGuard } from '../l1/fill-guard.js';
import type { MemoryTier } from '../l1/memory.js';
import type { L2Driver, L2Read } from '../l2/redis/driver.js';
import { describeError, type Logger, RateLimitedLog } from '../logger.js';
import type { DomainCounters } from '../stats.js';
import { unwrap, wrap } from '../values/envelope.js';
import type { Serializer } from '../values/serializer.js';
import { type Lease, Leases } from './lease.js';

/** Timings of the cross-process lease taken by `getOrSet`. */
export interface LockOptions {
  /** How long the lease lives, in ms: a holder that dies blocks others at most this long. Default 5000. */
  leaseMs?: number;
  /** How long a process waits for another one's value before calling the factory itself, in ms. Default `leaseMs`. */
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
  /** Factory results not stored because the key was invalidated (or the lease lost) meanwhile. */
  storesSkipped: number;
  /** Background refreshes started by `refreshAhead`. */
  refreshes: number;
}

/** What the loader needs from the cache that owns it. */
export interface LoaderHost {
  readonly l1: MemoryTier | undefined;
  readonly l2: L2Driver;
  readonly guard: FillGuard;
  readonly serializer: Serializer;
  /** Whether the serializer writes JSON (the grace envelope then embeds the value as JSON). */
  readonly json: boolean;
  readonly log: Logger;
  /** The value's text, or `undefined` when it is refused (logged and counted by the cache). */
  serialize(value: unknown, redisKey: string, counters: DomainCounters): string | undefined;
  /** Keeps a value in L1 as its text (parsed on first read there), for at most `ttlMs`. */
  fillL1Text(redisKey: string, text: string, ttlMs: number): void;
  /** A store of `redisKey` failed or its outcome is unknown: the key leaves L1. */
  writeFailed(redisKey: string): void;
  l2Failed(operation: string, counters: DomainCounters, err: unknown): void;
}

/** The domain a load works in: key prefix, resolved TTL (seconds), counters. */
export interface LoadTarget {
  prefix: string;
  ttl: number;
  counters: DomainCounters;
}

export type Factory<T> = () => T | Promise<T>;
export type BatchFactory<T> = (keys: string[]) => Map<string, T> | Promise<Map<string, T>>;

interface Plan {
  ttl: number;
  grace: number;
  softTimeoutMs: number | undefined;
  hardTimeoutMs: number | undefined;
  lock: Required<LockOptions> | undefined;
  refreshAhead: number | undefined;
  /** Index keys of the value's tags. */
  tagKeys: string[];
}

/** One load of one key in this process; every concurrent caller of that key shares it. */
interface Flight<T> {
  /** A stale value found in L2, known once the first read returned. */
  stale: { value: T } | undefined;
  done: Promise<T>;
}

/** A flight whose outcome is decided from outside (by `getOrSetMany`'s batch). */
interface Pending<T> {
  flight: Flight<T>;
  settle(outcome: Promise<T>): void;
}

function pendingFlight<T>(): Pending<T> {
  let settle: (outcome: Promise<T>) => void = () => {};
  const done = new Promise<T>((resolve) => {
    settle = resolve;
  });
  return { flight: { stale: undefined, done }, settle };
}

type Read<T> =
  | { kind: 'fresh'; value: T; freshMs: number; ttl: number | undefined }
  | { kind: 'stale'; value: T }
  | { kind: 'miss' }
  | { kind: 'failed' };

type LeaseWait<T> =
  | { kind: 'lease'; lease: Lease }
  | { kind: 'value'; value: T }
  /** Redis failed: single-flight degrades to this process. */
  | { kind: 'unlocked' }
  /** Another process still holds the lease after `waitMs`: call the factory, leave the store to it. */
  | { kind: 'gave-up' };

const DEFAULT_LEASE_MS = 5000;
/** First and largest pause between two polls of a value another process is loading, in ms. */
const POLL_FIRST_MS = 5;
const POLL_MAX_MS = 100;

function positive(name: string, value: number | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new CacheKeyError(`${name} must be a ${integer ? 'whole ' : ''}number > 0, got ${String(value)}`);
  }
  return value;
}

/** Validates per-call loading options once, into a complete plan. */
function planFor(ttl: number, options: LoadOptions | undefined): Plan {
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
    refreshAhead,
    tagKeys: tagKeys(options?.tags),
  };
}

/**
 * `getOrSet` and `getOrSetMany` (G1): read through both tiers, and on a miss call the factory once
 * per key — once per process through shared in-flight promises, once across processes through a
 * Redis lease — store its result unless the key was invalidated meanwhile, and fall back on a
 * stale value (grace) when the factory fails or is too slow.
 */
export class Loader {
  readonly #host: LoaderHost;
  readonly #leases: Leases;
  readonly #flights = new Map<string, Flight<unknown>>();
  readonly #refreshing = new Set<string>();
  readonly #problems = new RateLimitedLog();
  readonly #stats: LoadingStats = {
    factoryCalls: 0,
    factoryErrors: 0,
    factoryTimeouts: 0,
    staleServed: 0,
    leaseWaits: 0,
    waitsWoken: 0,
    storesSkipped: 0,
    refreshes: 0,
  };

  /** Callers waiting for another process's value, by key: woken when Redis reports the key changed. */
  readonly #wakers = new Map<string, Set<() => void>>();

  constructor(host: LoaderHost) {
    this.#host = host;
    this.#leases = new Leases(host.l2);
  }

  /**
   * Coherence reported `redisKey` changed (every key without one): a caller waiting for another
   * process to store it reads it again now instead of at its next poll.
   */
  changed(redisKey?: string): void {
    if (this.#wakers.size === 0) return;
    const woken = redisKey === undefined ? [...this.#wakers.values()] : [this.#wakers.get(redisKey)];
    for (const wakers of woken) for (const wake of [...(wakers ?? [])]) wake();
  }

  /** Resolves after `ms` (to `false`), or as soon as `changed()` reports `redisKey` (to `true`). */
  #pause(redisKey: string, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let wakers = this.#wakers.get(redisKey);
      if (wakers === undefined) {
        wakers = new Set();
        this.#wakers.set(redisKey, wakers);
      }
      const waiting = wakers;
      const wake = (woken = true) => {
        clearTimeout(timer);
        waiting.delete(wake);
        if (waiting.size === 0 && this.#wakers.get(redisKey) === waiting) this.#wakers.delete(redisKey);
        resolve(woken);
      };
      const timer = setTimeout(wake, ms, false);
      waiting.add(wake);
    });
  }

  stats(): LoadingStats {
    return { ...this.#stats };
  }

  /** The value under `redisKey`, or the factory's result (stored unless invalidated meanwhile). */
  getOrSet<T>(target: LoadTarget, redisKey: string, factory: Factory<T>, options?: LoadOptions): Promise<T> {
    const plan = planFor(target.ttl, options);
    const local = this.#host.l1?.get(redisKey);
    if (local !== undefined) {
      target.counters.l1Hits++;
      return Promise.resolve(local as T);
    }
    let flight = this.#flights.get(redisKey) as Flight<T> | undefined;
    if (flight === undefined) {
      const started: Flight<T> = { stale: undefined, done: Promise.resolve(undefined as T) };
      started.done = this.#load(target, redisKey, factory, plan, started);
      this.#track(redisKey, started);
      flight = started;
    }
    return this.#await(flight, redisKey, plan);
  }

  /** `getOrSet` for several keys of one domain: one L2 round trip, one batch factory call for the misses. */
  async getOrSetMany<T>(
    target: LoadTarget,
    keys: readonly string[],
    batchFactory: BatchFactory<T>,
    options?: LoadOptions,
  ): Promise<Array<T | undefined>> {
    const plan = planFor(target.ttl, options);
    const results: Array<T | undefined> = new Array(keys.length);
    const waits: Array<Promise<void>> = [];
    const wait = (flight: Flight<T | undefined>, redisKey: string, index: number): void => {
      waits.push(
        this.#await(flight, redisKey, plan).then((value) => {
          results[index] = value;
        }),
      );
    };
    const started = new Map<string, Pending<T | undefined>>();
    keys.forEach((key, index) => {
      const redisKey = target.prefix + key;
      const local = this.#host.l1?.get(redisKey);
      if (local !== undefined) {
        target.counters.l1Hits++;
        results[index] = local as T;
        return;
      }
      const running = (this.#flights.get(redisKey) ?? started.get(redisKey)?.flight) as
        | Flight<T | undefined>
        | undefined;
      if (running !== undefined) {
        wait(running, redisKey, index);
        return;
      }
      const pending = pendingFlight<T | undefined>();
      started.set(redisKey, pending);
      this.#track(redisKey, pending.flight);
      wait(pending.flight, redisKey, index);
    });
    if (started.size > 0) void this.#loadMany(target, started, batchFactory, plan);
    await Promise.all(waits);
    return results;
  }

  /** Settles every pending flight of `getOrSetMany`: from L2, or from one batch factory call; never throws. */
  async #loadMany<T>(
    target: LoadTarget,
    pending: Map<string, Pending<T | undefined>>,
    batchFactory: BatchFactory<T>,
    plan: Plan,
  ): Promise<void> {
    const host = this.#host;
    const redisKeys = [...pending.keys()];
    const tickets = new Map(redisKeys.map((redisKey) => [redisKey, host.guard.ticket(redisKey)]));
    let replies: L2Read[] | undefined;
    try {
      replies = await host.l2.getMany(redisKeys);
      // on a cluster, keys of a failed server read as misses (and are loaded); the failure is counted once
      const failed = replies.find((reply) => reply.failed !== undefined);
      if (failed) host.l2Failed('getOrSetMany', target.counters, failed.failed);
    } catch (err) {
      host.l2Failed('getOrSetMany', target.counters, err);
    }
    const needed: string[] = [];
    redisKeys.forEach((redisKey, j) => {
      const reply = replies?.[j];
      const read: Read<T> =
        reply?.text == null
          ? { kind: 'miss' }
          : this.#decode<T>(redisKey, reply.text, reply.pttlMs, tickets.get(redisKey)!);
      const { flight, settle } = pending.get(redisKey)!;
      if (read.kind === 'fresh') {
        target.counters.l2Hits++;
        settle(Promise.resolve(read.value));
        return;
      }
      target.counters.misses++;
      if (read.kind === 'stale') flight.stale = { value: read.value };
      needed.push(redisKey);
    });
    if (needed.length === 0) return;

    // keys another process is loading are waited for one by one; the rest go to one batch call
    const leases = new Map<string, Lease>();
    let mine = needed;
    if (plan.lock && replies !== undefined) {
      const lock = plan.lock;
      const acquisitions = await Promise.all(
        needed.map((redisKey) =>
          this.#leases.acquire(redisKey, target.prefix, lock.leaseMs, plan.tagKeys).catch(() => undefined),
        ),
      );
      mine = [];
      needed.forEach((redisKey, j) => {
        const acquisition = acquisitions[j];
        if (acquisition?.acquired === false) {
          const key = redisKey.slice(target.prefix.length);
          const single = async () => (await batchFactory([key])).get(key);
          const { flight, settle } = pending.get(redisKey)!;
          settle(this.#fill(target, redisKey, single, plan, tickets.get(redisKey)!, flight.stale, true));
          return;
        }
        if (acquisition?.acquired) leases.set(redisKey, acquisition.lease);
        mine.push(redisKey);
      });
      if (mine.length === 0) return;
    }

    let values: Map<string, T>;
    try {
      this.#stats.factoryCalls++;
      values = await batchFactory(mine.map((redisKey) => redisKey.slice(target.prefix.length)));
      if (!(values instanceof Map)) throw new TypeError('the getOrSetMany batch factory must return a Map');
    } catch (err) {
      this.#stats.factoryErrors++;
      await Promise.all(
        mine.map(async (redisKey) => {
          const lease = leases.get(redisKey);
          if (lease) await this.#leases.release(lease);
          const { flight, settle } = pending.get(redisKey)!;
          if (flight.stale === undefined) return settle(Promise.reject(err));
          this.#stats.staleServed++;
          this.#report(redisKey, err);
          settle(Promise.resolve(flight.stale.value));
        }),
      );
      return;
    }
    await Promise.all(
      mine.map(async (redisKey) => {
        const value = values.get(redisKey.slice(target.prefix.length));
        const lease = leases.get(redisKey);
        if (value === undefined) {
          if (lease) await this.#leases.release(lease);
        } else {
          await this.#store(target, redisKey, value, plan, tickets.get(redisKey)!, lease);
        }
        pending.get(redisKey)!.settle(Promise.resolve(value));
      }),
    );
  }

  #track<T>(redisKey: string, flight: Flight<T>): void {
    this.#flights.set(redisKey, flight as Flight<unknown>);
    const forget = () => {
      if (this.#flights.get(redisKey) === flight) this.#flights.delete(redisKey);
    };
    // handles the rejection too, so a flight nobody awaits any more never raises an unhandled rejection
    flight.done.then(forget, forget);
  }

  /** One caller's wait on a flight, bounded by its own soft and hard timeouts. */
  #await<T>(flight: Flight<T>, redisKey: string, plan: Plan): Promise<T> {
    const { softTimeoutMs, hardTimeoutMs } = plan;
    if (softTimeoutMs === undefined && hardTimeoutMs === undefined) return flight.done;
    return new Promise<T>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const settle = (finish: () => void) => {
        for (const timer of timers) clearTimeout(timer);
        finish();
      };
      flight.done.then(
        (value) => settle(() => resolve(value)),
        (err: unknown) => settle(() => reject(err)),
      );
      if (softTimeoutMs !== undefined) {
        timers.push(
          setTimeout(() => {
            if (flight.stale === undefined) return;
            this.#stats.staleServed++;
            settle(() => resolve(flight.stale!.value));
          }, softTimeoutMs),
        );
      }
      if (hardTimeoutMs !== undefined) {
        timers.push(
          setTimeout(() => {
            this.#stats.factoryTimeouts++;
            if (flight.stale !== undefined) {
              this.#stats.staleServed++;
              this.#report(redisKey, new FactoryTimeoutError(redisKey, hardTimeoutMs));
              settle(() => resolve(flight.stale!.value));
            } else settle(() => reject(new FactoryTimeoutError(redisKey, hardTimeoutMs)));
          }, hardTimeoutMs),
        );
      }
    });
  }

  async #load<T>(target: LoadTarget, redisKey: string, factory: Factory<T>, plan: Plan, flight: Flight<T>) {
    const ticket = this.#host.guard.ticket(redisKey);
    const read = await this.#read<T>(target, redisKey, ticket);
    if (read.kind === 'fresh') {
      target.counters.l2Hits++;
      this.#maybeRefreshAhead(target, redisKey, factory, plan, read);
      return read.value;
    }
    target.counters.misses++;
    if (read.kind === 'stale') flight.stale = { value: read.value };
    return this.#fill(target, redisKey, factory, plan, ticket, flight.stale, read.kind !== 'failed');
  }

  /** Reads `redisKey` from L2; a fresh value also fills L1 unless the key changed meanwhile. */
  async #read<T>(target: LoadTarget, redisKey: string, ticket: number): Promise<Read<T>> {
    const host = this.#host;
    let reply: L2Read;
    try {
      reply = await host.l2.get(redisKey);
    } catch (err) {
      host.l2Failed('getOrSet', target.counters, err);
      return { kind: 'failed' };
    }
    if (reply.text === null) return { kind: 'miss' };
    return this.#decode<T>(redisKey, reply.text, reply.pttlMs, ticket);
  }

  #decode<T>(redisKey: string, stored: string, pttlMs: number, ticket: number): Read<T> {
    const host = this.#host;
    const { text, freshMs, ttl } = unwrap(stored, pttlMs);
    let value: T;
    try {
      value = host.serializer.deserialize(text) as T;
    } catch {
      // an unreadable value is as good as none: the factory replaces it
      return { kind: 'miss' };
    }
    if (freshMs <= 0) return { kind: 'stale', value };
    if (host.guard.stillValid(redisKey, ticket)) host.fillL1Text(redisKey, text, freshMs);
    return { kind: 'fresh', value, freshMs, ttl };
  }

  /** Calls the factory (under the lease when Redis is there), stores its result, falls back on `stale`. */
  async #fill<T>(
    target: LoadTarget,
    redisKey: string,
    factory: Factory<T>,
    plan: Plan,
    ticket: number,
    stale: { value: T } | undefined,
    l2Reachable: boolean,
  ): Promise<T> {
    let lease: Lease | undefined;
    let mayStore = true;
    if (plan.lock && l2Reachable) {
      const outcome = await this.#leaseOrValue<T>(target, redisKey, plan.lock, plan.tagKeys, ticket);
      if (outcome.kind === 'value') return outcome.value;
      if (outcome.kind === 'lease') lease = outcome.lease;
      else if (outcome.kind === 'gave-up') mayStore = false;
    }
    let value: T;
    try {
      this.#stats.factoryCalls++;
      value = await factory();
    } catch (err) {
      this.#stats.factoryErrors++;
      if (lease) await this.#leases.release(lease);
      if (stale === undefined) throw err;
      this.#stats.staleServed++;
      this.#report(redisKey, err);
      return stale.value;
    }
    if (value === undefined || !mayStore) {
      if (lease) await this.#leases.release(lease);
      return value;
    }
    await this.#store(target, redisKey, value, plan, ticket, lease);
    return value;
  }

  /**
   * Takes the key's lease, or waits for the process holding it to store the value: reads L2 again
   * as soon as coherence reports the key changed (the read that found it missing left it tracked,
   * so the holder's store is reported), else after a growing pause (a lost report, coherence off),
   * and retries the lease whenever the value is still missing (the holder may have died, failed,
   * or been invalidated), until `waitMs` has passed.
   */
  async #leaseOrValue<T>(
    target: LoadTarget,
    redisKey: string,
    lock: Required<LockOptions>,
    tagKeys: readonly string[],
    ticket: number,
  ): Promise<LeaseWait<T>> {
    const guard = this.#host.guard;
    const deadline = Date.now() + lock.waitMs;
    let pauseMs = POLL_FIRST_MS;
    let waiting = false;
    // the ticket of the latest read: a fill guard for it, and a change reported since it was taken
    // means the value may be there already
    let readTicket = ticket;
    let skippedPause = false;
    for (;;) {
      let remainingMs: number;
      try {
        const acquiring = this.#leases.acquire(redisKey, target.prefix, lock.leaseMs, tagKeys);
        // Sent right behind the acquisition on the same connection (both leave in this tick, in this
        // order), so Redis runs it just after: a value stored by a loader that finished between our
        // miss and our acquisition shows here (seen in the two-process stampede benchmark), at no
        // extra round trip.
        const reading = this.#host.l2.get(redisKey).catch(() => undefined);
        const acquisition = await acquiring;
        const reply = await reading;
        const read: Read<T> =
          reply?.text == null
            ? { kind: 'miss' }
            : this.#decode<T>(redisKey, reply.text, reply.pttlMs, readTicket);
        if (acquisition.acquired) {
          if (read.kind !== 'fresh') return { kind: 'lease', lease: acquisition.lease };
          await this.#leases.release(acquisition.lease);
          return { kind: 'value', value: read.value };
        }
        if (read.kind === 'fresh') return { kind: 'value', value: read.value };
        remainingMs = acquisition.remainingMs;
      } catch (err) {
        this.#host.l2Failed('getOrSet', target.counters, err);
        return { kind: 'unlocked' };
      }
      if (!waiting) {
        waiting = true;
        this.#stats.leaseWaits++;
      }
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) return { kind: 'gave-up' };
      // a report that arrived before the reply above (it comes on another connection) is not waited
      // for; not twice in a row, so that a key changing all the time does not make the loop spin
      if (skippedPause || guard.stillValid(redisKey, readTicket)) {
        skippedPause = false;
        if (await this.#pause(redisKey, Math.max(1, Math.min(pauseMs, leftMs, remainingMs)))) {
          this.#stats.waitsWoken++;
        }
        pauseMs = Math.min(pauseMs * 2, POLL_MAX_MS);
      } else {
        skippedPause = true;
        this.#stats.waitsWoken++;
      }
      readTicket = guard.ticket(redisKey);
      const read = await this.#read<T>(target, redisKey, readTicket);
      if (read.kind === 'fresh') return { kind: 'value', value: read.value };
      if (read.kind === 'failed') return { kind: 'unlocked' };
    }
  }

  /**
   * Stores a factory result: through the lease when one is held (the write happens only if the
   * lease is still ours, so no process invalidated the key meanwhile), and only if this process
   * did not touch the key meanwhile either (FillGuard).
   */
  async #store<T>(
    target: LoadTarget,
    redisKey: string,
    value: T,
    plan: Plan,
    ticket: number,
    lease: Lease | undefined,
  ): Promise<void> {
    const host = this.#host;
    const { counters } = target;
    const text = host.serialize(value, redisKey, counters);
    if (text === undefined || !host.guard.stillValid(redisKey, ticket)) {
      if (text !== undefined) this.#stats.storesSkipped++;
      if (lease) await this.#leases.release(lease);
      return;
    }
    const stored = wrap(text, plan.ttl, plan.grace, host.json);
    const redisTtl = plan.ttl + plan.grace;
    try {
      if (lease) {
        if (!(await this.#leases.storeAndRelease(lease, stored, redisTtl, plan.tagKeys))) {
          host.writeFailed(redisKey);
          this.#stats.storesSkipped++;
          return;
        }
      } else {
        await host.l2.set([{ key: redisKey, text: stored, ttl: redisTtl, tags: plan.tagKeys }]);
      }
    } catch (err) {
      host.writeFailed(redisKey);
      host.l2Failed('getOrSet', counters, err);
      if (lease) await this.#leases.release(lease);
      return;
    }
    counters.sets++;
    // L1 keeps the text, as set() does, so callers mutating the result cannot change the cached value
    if (host.guard.stillValid(redisKey, ticket)) host.fillL1Text(redisKey, text, plan.ttl * 1000);
  }

  #maybeRefreshAhead<T>(
    target: LoadTarget,
    redisKey: string,
    factory: Factory<T>,
    plan: Plan,
    read: { freshMs: number; ttl: number | undefined },
  ): void {
    if (plan.refreshAhead === undefined || !Number.isFinite(read.freshMs)) return;
    const ttlMs = (read.ttl ?? plan.ttl) * 1000;
    if (ttlMs - read.freshMs < plan.refreshAhead * ttlMs || this.#refreshing.has(redisKey)) return;
    this.#refreshing.add(redisKey);
    this.#stats.refreshes++;
    void this.#refresh(target, redisKey, factory, plan).finally(() => this.#refreshing.delete(redisKey));
  }

  /** A background refresh: only the process that gets the lease refreshes; failures are logged at debug. */
  async #refresh<T>(target: LoadTarget, redisKey: string, factory: Factory<T>, plan: Plan): Promise<void> {
    const ticket = this.#host.guard.ticket(redisKey);
    let lease: Lease | undefined;
    if (plan.lock) {
      try {
        const acquisition = await this.#leases.acquire(
          redisKey,
          target.prefix,
          plan.lock.leaseMs,
          plan.tagKeys,
        );
        if (!acquisition.acquired) return;
        lease = acquisition.lease;
      } catch {
        return;
      }
    }
    try {
      this.#stats.factoryCalls++;
      const value = await factory();
      if (value === undefined) {
        if (lease) await this.#leases.release(lease);
        return;
      }
      await this.#store(target, redisKey, value, plan, ticket, lease);
    } catch (err) {
      this.#stats.factoryErrors++;
      if (lease) await this.#leases.release(lease);
      this.#host.log.debug(
        { key: redisKey, err: describeError(err) },
        'cachette: refresh-ahead failed; the current value stays',
      );
    }
  }

  #report(redisKey: string, err: unknown): void {
    const reason = describeError(err);
    this.#problems.emit(`stale:${redisKey}`, (suppressed) =>
      this.#host.log.warn(
        { key: redisKey, err: reason, suppressed },
        'cachette: factory failed or timed out; serving the stale value',
      ),
    );
  }
}
