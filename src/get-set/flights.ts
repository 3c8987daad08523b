import { FactoryTimeoutError } from '../errors.js';
import type { GetOrSetTrace } from '../tracing/channels.js';
import type { LoadContext } from './context.js';
import type { Plan } from './plan.js';

/** Where a load's value came from: Redis, this process's factory, another process's, or the stale value. */
export type LoadSource = 'l2' | 'loaded' | 'waited' | 'stale';

/** One load of one key in this process; every concurrent caller of that key shares it. */
export interface Flight<T> {
  /** A stale value found in L2, known once the first read returned. */
  stale: { value: T } | undefined;
  done: Promise<T>;
  /** Set by the load before `done` resolves (for tracing). */
  source?: LoadSource;
}

/** A flight whose outcome is decided from outside (by `getOrSetMany`'s batch). */
export interface Pending<T> {
  flight: Flight<T>;
  settle(outcome: Promise<T>): void;
}

/** A flight settled later by `settle`. */
export function pendingFlight<T>(): Pending<T> {
  let settle: (outcome: Promise<T>) => void = () => {};
  const done = new Promise<T>((resolve) => {
    settle = resolve;
  });
  return { flight: { stale: undefined, done }, settle };
}

/**
 * Single-flight within this process: the loads running now, by Redis key, and each caller's wait
 * on one, bounded by that caller's own `lock.waitMs` (a caller that joined another's load then
 * calls its own factory: a factory that never settles cannot hold its key's callers for good) and
 * its soft and hard timeouts.
 */
export class Flights {
  readonly #context: LoadContext;
  /** The loads running now, each with the time (ms since the epoch) until which it may be joined. */
  readonly #running = new Map<string, { flight: Flight<unknown>; joinableUntil: number }>();

  constructor(context: LoadContext) {
    this.#context = context;
  }

  /** The load of `redisKey` running now, if any and still joinable. */
  get<T>(redisKey: string): Flight<T> | undefined {
    const running = this.#running.get(redisKey);
    if (running === undefined || Date.now() >= running.joinableUntil) return undefined;
    return running.flight as Flight<T>;
  }

  /**
   * Records `flight` as the load of `redisKey` until it settles; it may be joined for `joinableMs`
   * only: later callers start a load of their own rather than join one that may never end.
   */
  track<T>(redisKey: string, flight: Flight<T>, joinableMs: number): void {
    this.#running.set(redisKey, {
      flight: flight as Flight<unknown>,
      joinableUntil: Date.now() + joinableMs,
    });
    const forget = () => {
      if (this.#running.get(redisKey)?.flight === flight) this.#running.delete(redisKey);
    };
    // handles the rejection too, so a flight nobody awaits any more never raises an unhandled rejection
    flight.done.then(forget, forget);
  }

  /**
   * One caller's wait on a flight, bounded by its own soft and hard timeouts. A caller that joined
   * another caller's flight passes `ownLoad`: after `plan.waitMs` it stops waiting and runs that.
   * `trace.outcome` tells where the caller's value came from.
   */
  await<T>(
    flight: Flight<T>,
    redisKey: string,
    plan: Plan,
    ownLoad?: () => Promise<T>,
    trace?: GetOrSetTrace,
  ): Promise<T> {
    const shared =
      trace === undefined ? flight.done : flight.done.then((value) => this.#traced(flight, value, trace));
    const own = ownLoad === undefined || trace === undefined ? ownLoad : () => this.#ownLoad(ownLoad, trace);
    const done = own === undefined ? shared : this.#bounded(shared, plan.waitMs, own);
    const { softTimeoutMs, hardTimeoutMs } = plan;
    if (softTimeoutMs === undefined && hardTimeoutMs === undefined) return done;
    const context = this.#context;
    const stale = () => {
      if (trace) trace.outcome = 'stale';
      return flight.stale!.value;
    };
    return new Promise<T>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const settle = (finish: () => void) => {
        for (const timer of timers) clearTimeout(timer);
        finish();
      };
      done.then(
        (value) => settle(() => resolve(value)),
        (err: unknown) => settle(() => reject(err)),
      );
      if (softTimeoutMs !== undefined) {
        timers.push(
          setTimeout(() => {
            if (flight.stale === undefined) return;
            context.stats.staleServed++;
            settle(() => resolve(stale()));
          }, softTimeoutMs),
        );
      }
      if (hardTimeoutMs !== undefined) {
        timers.push(
          setTimeout(() => {
            context.stats.factoryTimeouts++;
            const timeout = new FactoryTimeoutError(redisKey, hardTimeoutMs);
            if (flight.stale !== undefined) {
              context.servedStale(redisKey, timeout);
              settle(() => resolve(stale()));
            } else settle(() => reject(timeout));
          }, hardTimeoutMs),
        );
      }
    });
  }

  /** Where this caller's value came from, unless it was answered already (stale, its own load). */
  #traced<T>(flight: Flight<T>, value: T, trace: GetOrSetTrace): T {
    trace.outcome ??= flight.source;
    return value;
  }

  async #ownLoad<T>(ownLoad: () => Promise<T>, trace: GetOrSetTrace): Promise<T> {
    const value = await ownLoad();
    trace.outcome ??= 'loaded';
    return value;
  }

  /** `done`, or after `waitMs` the outcome of `ownLoad` instead (whatever `done` does later). */
  #bounded<T>(done: Promise<T>, waitMs: number, ownLoad: () => Promise<T>): Promise<T> {
    const stats = this.#context.stats;
    return new Promise<T>((resolve, reject) => {
      let waiting = true;
      const timer = setTimeout(() => {
        waiting = false;
        stats.waitTimeouts++;
        ownLoad().then(resolve, reject);
      }, waitMs);
      done.then(
        (value) => {
          if (!waiting) return;
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          if (!waiting) return;
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }
}
