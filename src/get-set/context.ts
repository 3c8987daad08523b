import type { DomainCounters, L2Failures } from '../domains/stats.js';
import type { L1 } from '../l1/l1.js';
import type { L2Driver, L2Read } from '../l2/driver.js';
import { describeError, type Logger, RateLimitedLog } from '../logger.js';
import type { Codec, Decoded } from '../values/codec.js';
import { spreadTtl } from '../values/durations.js';
import { wrap } from '../values/envelope.js';
import { type Factory, FactoryRun, FactoryRuns, factoryContext, type StorePlan } from './factory-context.js';
import { type Lease, Leases } from './lease.js';
import type { LoadingStats, Plan } from './plan.js';

/** What loads work with: both tiers, the codec, and where Redis failures are counted. */
export interface LoaderParts {
  readonly l1: L1;
  readonly l2: L2Driver;
  readonly codec: Codec;
  readonly failures: L2Failures;
  readonly log: Logger;
}

/** The domain a load works in: key prefix, resolved TTL (seconds) and jitter, counters. */
export interface LoadTarget {
  prefix: string;
  ttl: number;
  ttlJitter: number;
  counters: DomainCounters;
}

/** A read of L2: decoded, or failed (Redis did not answer). */
export type Read<T> = Decoded<T> | { kind: 'failed' };

/**
 * What every part of the loading path shares (loader.ts, batch.ts, flights.ts, lease-wait.ts): the
 * tiers, the leases, the counters of `cache.stats().loading`, and the steps they all take — read a
 * key, store a factory's result, report a stale answer.
 */
export class LoadContext {
  readonly l1: L1;
  readonly l2: L2Driver;
  readonly codec: Codec;
  readonly failures: L2Failures;
  readonly log: Logger;
  readonly leases: Leases;
  /** Factories running with a live signal, aborted at close. */
  readonly runs = new FactoryRuns();
  readonly stats: LoadingStats = {
    factoryCalls: 0,
    factoryErrors: 0,
    factoryTimeouts: 0,
    staleServed: 0,
    leaseWaits: 0,
    waitsWoken: 0,
    waitTimeouts: 0,
    storesSkipped: 0,
    refreshes: 0,
  };
  readonly #problems = new RateLimitedLog();
  /** Set by `Cache.close()`: loads still running are abandoned, their results not stored. */
  closed = false;

  constructor(parts: LoaderParts) {
    this.l1 = parts.l1;
    this.l2 = parts.l2;
    this.codec = parts.codec;
    this.failures = parts.failures;
    this.log = parts.log;
    this.leases = new Leases(parts.l2);
  }

  /** Reads `redisKey` from L2 (a read taken after `ticket`); a fresh value also fills L1 unless the key changed meanwhile. */
  async read<T>(target: LoadTarget, redisKey: string, ticket: number): Promise<Read<T>> {
    let reply: L2Read;
    try {
      reply = await this.l2.get(redisKey);
    } catch (err) {
      this.failures.report('getOrSet', target.counters, err);
      return { kind: 'failed' };
    }
    return this.codec.decode<T>('getOrSet', redisKey, reply, ticket, target.counters);
  }

  /**
   * Stores a factory result: through the lease when one is held (the write happens only if the
   * lease is still ours, so no process invalidated the key meanwhile), and only if this process
   * did not touch the key since `ticket` either (the fill guard). Each store draws its own TTL
   * within the plan's jitter.
   */
  async store<T>(
    target: LoadTarget,
    redisKey: string,
    value: T,
    plan: StorePlan,
    ticket: number,
    lease: Lease | undefined,
  ): Promise<void> {
    if (this.closed) {
      // a lease taken while the cache closed: close() could not give it back
      if (lease) await this.leases.release(lease);
      return;
    }
    const { counters } = target;
    const text = this.codec.serialize(value, redisKey, counters);
    if (text === undefined || !this.l1.unchangedSince(redisKey, ticket)) {
      if (text !== undefined) this.stats.storesSkipped++;
      if (lease) await this.leases.release(lease);
      return;
    }
    const ttl = spreadTtl(plan.ttl, plan.ttlJitter);
    const stored = wrap(text, ttl, plan.grace, this.codec.json);
    const redisTtl = ttl + plan.grace;
    try {
      if (lease) {
        if (!(await this.leases.storeAndRelease(lease, stored, redisTtl, plan.tagKeys))) {
          this.l1.evict(redisKey);
          this.stats.storesSkipped++;
          return;
        }
      } else {
        await this.l2.set([{ key: redisKey, text: stored, ttl: redisTtl, tags: plan.tagKeys }]);
      }
    } catch (err) {
      // what Redis holds under the key is older than the factory's result: deleted once Redis answers
      this.l1.evict(redisKey);
      this.l2.owe({ kind: 'keys', prefix: target.prefix, keys: [redisKey] });
      this.failures.report('getOrSet', counters, err);
      if (lease) await this.leases.release(lease);
      return;
    }
    counters.sets++;
    // L1 keeps the text, as set() does, so callers mutating the result cannot change the cached value
    this.l1.fill(redisKey, text, ttl * 1000, ticket);
  }

  /**
   * Calls `factory` for a caller that stopped waiting for another caller's load of `redisKey`: the
   * result is returned, not stored (the load it waited for still holds the key's lease), so the
   * factory's TTL, tags and skip change nothing; its signal aborts at the caller's hard timeout and
   * at close. On a factory failure, `stale()` is served if there is one.
   */
  async callAlone<T>(
    redisKey: string,
    factory: Factory<T>,
    stale: () => { value: T } | undefined,
    call: { plan: Plan; startedAt: number },
  ): Promise<T> {
    const run = new FactoryRun(this.runs, this.l2.keyspace, redisKey, call.plan, call.startedAt);
    try {
      this.stats.factoryCalls++;
      return await factory(factoryContext(run, stale()));
    } catch (err) {
      this.stats.factoryErrors++;
      const fallback = stale();
      if (fallback === undefined) throw err;
      this.servedStale(redisKey, err);
      return fallback.value;
    } finally {
      run.finish();
    }
  }

  /** A caller got the stale value of `redisKey` because its factory failed or was too slow (`err`). */
  servedStale(redisKey: string, err: unknown): void {
    this.stats.staleServed++;
    const reason = describeError(err);
    this.#problems.emit(`stale:${redisKey}`, (suppressed) =>
      this.log.warn(
        { key: redisKey, err: reason, suppressed },
        'cachette: factory failed or timed out; serving the stale value',
      ),
    );
  }
}
