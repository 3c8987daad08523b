import { describeError } from '../logger.js';
import type { GetOrSetTrace } from '../tracing/channels.js';
import { assertFunction, assertValidKeys } from '../values/keys.js';
import { getOrSetMany, type LoadOne } from './batch.js';
import { LoadContext, type LoaderParts, type LoadTarget } from './context.js';
import { type Flight, Flights, type LoadSource } from './flights.js';
import type { Lease } from './lease.js';
import { leaseOrValue } from './lease-wait.js';
import {
  type BatchFactory,
  type Factory,
  type LoadingStats,
  type LoadOptions,
  type Plan,
  planFor,
} from './plan.js';
import { Waiters } from './waiters.js';

/**
 * `getOrSet` and `getOrSetMany`: read through both tiers, and on a miss call the factory once
 * per key — once per process through shared in-flight promises (flights.ts), once across processes
 * through a Redis lease (lease.ts, lease-wait.ts) — store its result unless the key was invalidated
 * meanwhile, and fall back on a stale value (grace) when the factory fails or is too slow.
 */
export class Loader {
  readonly #context: LoadContext;
  readonly #flights: Flights;
  readonly #waiters = new Waiters();
  readonly #refreshing = new Set<string>();

  constructor(parts: LoaderParts) {
    this.#context = new LoadContext(parts);
    this.#flights = new Flights(this.#context);
  }

  /**
   * Coherence reported `redisKey` changed (every key without one): it leaves L1, so that a read of
   * it in flight does not refill it, and the callers waiting for another process to store it read it
   * again now instead of at their next poll.
   */
  changed(redisKey?: string): void {
    if (redisKey === undefined) this.#context.l1.evictAll();
    else this.#context.l1.evict(redisKey);
    this.#waiters.wake(redisKey);
  }

  /** The cache is closing: loads still running are abandoned (their results are returned, not stored). */
  close(): void {
    this.#context.closed = true;
  }

  stats(): LoadingStats {
    return { ...this.#context.stats };
  }

  /**
   * The value under `redisKey`, or the factory's result (stored unless invalidated meanwhile);
   * `trace.outcome` tells where it came from.
   */
  getOrSet<T>(
    target: LoadTarget,
    redisKey: string,
    factory: Factory<T>,
    options?: LoadOptions,
    trace?: GetOrSetTrace,
  ): Promise<T> {
    assertFunction(factory, 'the getOrSet factory');
    const plan = planFor(target.ttl, options);
    const local = this.#context.l1.get(redisKey);
    if (local !== undefined) {
      target.counters.l1Hits++;
      if (trace) trace.outcome = 'l1';
      return Promise.resolve(local as T);
    }
    const running = this.#flights.get<T>(redisKey);
    if (running !== undefined) {
      // another caller's load: waited for at most lock.waitMs, then this caller's own factory runs
      const alone = () => this.#context.callAlone(redisKey, factory, () => running.stale);
      return this.#flights.await(running, redisKey, plan, alone, trace);
    }
    const started: Flight<T> = { stale: undefined, done: Promise.resolve(undefined as T) };
    started.done = this.#load(target, redisKey, factory, plan, started);
    this.#flights.track(redisKey, started, plan.waitMs);
    return this.#flights.await(started, redisKey, plan, undefined, trace);
  }

  /**
   * `getOrSet` for several keys of one domain: one L2 round trip, one batch factory call for the
   * misses. Throws `CacheKeyError` for a bad key.
   */
  getOrSetMany<T>(
    target: LoadTarget,
    keys: readonly string[],
    batchFactory: BatchFactory<T>,
    options?: LoadOptions,
  ): Promise<Array<T | undefined>> {
    assertValidKeys(keys);
    assertFunction(batchFactory, 'the getOrSetMany batch factory');
    const plan = planFor(target.ttl, options);
    const loadOne: LoadOne = (target, redisKey, factory, plan, ticket, stale) =>
      this.#fill(target, redisKey, factory, plan, ticket, stale, true);
    return getOrSetMany(this.#context, this.#flights, loadOne, target, keys, batchFactory, plan);
  }

  async #load<T>(target: LoadTarget, redisKey: string, factory: Factory<T>, plan: Plan, flight: Flight<T>) {
    const ticket = this.#context.l1.ticket(redisKey);
    const read = await this.#context.read<T>(target, redisKey, ticket);
    if (read.kind === 'fresh') {
      target.counters.l2Hits++;
      flight.source = 'l2';
      this.#maybeRefreshAhead(target, redisKey, factory, plan, read);
      return read.value;
    }
    target.counters.misses++;
    if (read.kind === 'stale') flight.stale = { value: read.value };
    return this.#fill(target, redisKey, factory, plan, ticket, flight.stale, read.kind !== 'failed', flight);
  }

  /**
   * Calls the factory (under the lease when Redis is there), stores its result, falls back on `stale`;
   * says in `flight.source` where the value came from.
   */
  async #fill<T>(
    target: LoadTarget,
    redisKey: string,
    factory: Factory<T>,
    plan: Plan,
    ticket: number,
    stale: { value: T } | undefined,
    l2Reachable: boolean,
    flight?: { source?: LoadSource },
  ): Promise<T> {
    const context = this.#context;
    let lease: Lease | undefined;
    let mayStore = true;
    if (plan.lock && l2Reachable) {
      const outcome = await leaseOrValue<T>(
        context,
        this.#waiters,
        target,
        redisKey,
        plan.lock,
        plan.tagKeys,
        ticket,
      );
      if (outcome.kind === 'value') {
        if (flight) flight.source = 'waited';
        return outcome.value;
      }
      if (outcome.kind === 'lease') lease = outcome.lease;
      else if (outcome.kind === 'gave-up') {
        context.stats.waitTimeouts++;
        mayStore = false;
      }
    }
    let value: T;
    try {
      context.stats.factoryCalls++;
      value = await factory();
    } catch (err) {
      context.stats.factoryErrors++;
      if (lease) await context.leases.release(lease);
      if (stale === undefined) throw err;
      context.servedStale(redisKey, err);
      if (flight) flight.source = 'stale';
      return stale.value;
    }
    if (flight) flight.source = 'loaded';
    if (value === undefined || !mayStore) {
      if (lease) await context.leases.release(lease);
      return value;
    }
    await context.store(target, redisKey, value, plan, ticket, lease);
    return value;
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
    this.#context.stats.refreshes++;
    void this.#refresh(target, redisKey, factory, plan).finally(() => this.#refreshing.delete(redisKey));
  }

  /** A background refresh: only the process that gets the lease refreshes; failures are logged at debug. */
  async #refresh<T>(target: LoadTarget, redisKey: string, factory: Factory<T>, plan: Plan): Promise<void> {
    const context = this.#context;
    const ticket = context.l1.ticket(redisKey);
    let lease: Lease | undefined;
    if (plan.lock) {
      try {
        const acquisition = await context.leases.acquire(
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
      context.stats.factoryCalls++;
      const value = await factory();
      if (value === undefined) {
        if (lease) await context.leases.release(lease);
        return;
      }
      await context.store(target, redisKey, value, plan, ticket, lease);
    } catch (err) {
      context.stats.factoryErrors++;
      if (lease) await context.leases.release(lease);
      context.log.debug(
        { key: redisKey, err: describeError(err) },
        'cachette: refresh-ahead failed; the current value stays',
      );
    }
  }
}
