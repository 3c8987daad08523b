import { describeError } from '../logger.js';
import type { GetOrSetTrace } from '../tracing/channels.js';
import { assertFunction, assertValidKeys } from '../values/keys.js';
import { getOrSetMany, type LoadOne } from './batch.js';
import { LoadContext, type LoaderParts, type LoadTarget } from './context.js';
import { type BatchFactory, type Factory, FactoryRun, factoryContext } from './factory-context.js';
import { type Flight, Flights, type LoadSource } from './flights.js';
import type { Lease } from './lease.js';
import { leaseOrValue } from './lease-wait.js';
import { type LoadingStats, type LoadOptions, type Plan, planFor } from './plan.js';
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
   * Coherence reported `redisKey` changed (every key without one): wakes the callers waiting for
   * another process to store it, which read it again now instead of at their next poll.
   */
  wakeWaiters(redisKey?: string): void {
    this.#waiters.wake(redisKey);
  }

  /**
   * The cache is closing: loads still running are abandoned (results returned, not stored), their
   * signals abort, and their leases are given back (resolves once Redis answered or failed).
   */
  close(): Promise<void> {
    this.#context.closed = true;
    this.#context.runs.close();
    return this.#context.leases.releaseAll();
  }

  stats(): LoadingStats {
    return { ...this.#context.stats };
  }

  /**
   * The value under `redisKey` past an L1 miss (the cache answers L1 hits itself), or the factory's
   * result (stored unless invalidated meanwhile); `trace.outcome` tells where it came from.
   */
  getOrSet<T>(
    target: LoadTarget,
    redisKey: string,
    factory: Factory<T>,
    options?: LoadOptions,
    trace?: GetOrSetTrace,
  ): Promise<T> {
    assertFunction(factory, 'the getOrSet factory');
    const plan = planFor(target, options, this.#context.l2.keyspace);
    const startedAt = performance.now();
    if (!plan.forceFresh) {
      const running = this.#flights.get<T>(redisKey);
      if (running !== undefined) {
        // another caller's load: waited for at most lock.waitMs, then this caller's own factory runs
        const alone = () =>
          this.#context.callAlone(redisKey, factory, () => running.stale, { plan, startedAt });
        return this.#flights.await(running, redisKey, plan, alone, trace);
      }
    }
    // a forced load joins no load already running (it may have read before the caller asked),
    // but the callers that come after it join it
    const flight: Flight<T> = { stale: undefined, done: Promise.resolve(undefined as T) };
    flight.done = plan.forceFresh
      ? this.#loadFresh(target, redisKey, factory, plan, startedAt)
      : this.#load(target, redisKey, factory, plan, flight, startedAt);
    this.#flights.track(redisKey, flight, plan.waitMs);
    return this.#flights.await(flight, redisKey, plan, undefined, trace);
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
    const plan = planFor(target, options, this.#context.l2.keyspace);
    const startedAt = performance.now();
    const loadOne: LoadOne = (target, redisKey, factory, plan, ticket, stale) =>
      this.#fill(target, redisKey, factory, plan, ticket, stale, true, startedAt);
    return getOrSetMany(
      this.#context,
      this.#flights,
      loadOne,
      { target, plan, startedAt },
      keys,
      batchFactory,
    );
  }

  async #load<T>(
    target: LoadTarget,
    redisKey: string,
    factory: Factory<T>,
    plan: Plan,
    flight: Flight<T>,
    startedAt: number,
  ): Promise<T> {
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
    return this.#fill(
      target,
      redisKey,
      factory,
      plan,
      ticket,
      flight.stale,
      read.kind !== 'failed',
      startedAt,
      flight,
    );
  }

  /**
   * `forceFresh`: neither tier is read, and the factory runs under the key's lease, taken even from a
   * load already running (in any process): that load was started before this call, so, like after an
   * invalidation, it returns its result to its callers but does not store it.
   */
  async #loadFresh<T>(
    target: LoadTarget,
    redisKey: string,
    factory: Factory<T>,
    plan: Plan,
    startedAt: number,
  ): Promise<T> {
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
          true,
        );
        if (acquisition.acquired) lease = acquisition.lease;
      } catch (err) {
        context.failures.report('getOrSet', target.counters, err);
      }
    }
    return this.#call(target, redisKey, factory, plan, { ticket, stale: undefined, lease, startedAt });
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
    startedAt: number,
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
    return this.#call(target, redisKey, factory, plan, { ticket, stale, lease, mayStore, startedAt, flight });
  }

  /**
   * Calls the factory with its context, then stores its result, unless it is `undefined`, the
   * factory skipped it, or storing is left to another process; releases the lease otherwise. A
   * failed factory falls back on `stale`, else its error propagates.
   */
  async #call<T>(
    target: LoadTarget,
    redisKey: string,
    factory: Factory<T>,
    plan: Plan,
    load: {
      ticket: number;
      stale: { value: T } | undefined;
      lease: Lease | undefined;
      mayStore?: boolean;
      startedAt: number;
      /** Where the caller's value came from, for tracing. */
      flight?: { source?: LoadSource };
    },
  ): Promise<T> {
    const context = this.#context;
    const { stale, lease } = load;
    const run = new FactoryRun(context.runs, context.l2.keyspace, redisKey, plan, load.startedAt);
    let value: T;
    try {
      context.stats.factoryCalls++;
      value = await factory(factoryContext(run, stale));
    } catch (err) {
      context.stats.factoryErrors++;
      if (lease) await context.leases.release(lease);
      if (stale === undefined) throw err;
      context.servedStale(redisKey, err);
      if (load.flight) load.flight.source = 'stale';
      return stale.value;
    } finally {
      run.finish();
    }
    if (load.flight) load.flight.source = 'loaded';
    if (value === undefined || load.mayStore === false || run.skipped) {
      if (lease) await context.leases.release(lease);
      return value;
    }
    await context.store(target, redisKey, value, run.storePlan(plan), load.ticket, lease);
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
      // no caller waits: the hard timeout counts from the refresh's start
      await this.#call(target, redisKey, factory, plan, {
        ticket,
        stale: undefined,
        lease,
        startedAt: performance.now(),
      });
    } catch (err) {
      context.log.debug(
        { key: redisKey, err: describeError(err) },
        'cachette: refresh-ahead failed; the current value stays',
      );
    }
  }
}
