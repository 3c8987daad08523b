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
  /** The callers that joined it, by their `waitMs` (see `Joiners`). */
  joiners?: Map<number, Joiners<T>>;
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
    let done: Promise<T>;
    if (ownLoad === undefined) {
      done =
        trace === undefined ? flight.done : flight.done.then((value) => this.#traced(flight, value, trace));
    } else {
      const own = trace === undefined ? ownLoad : () => this.#ownLoad(ownLoad, trace);
      done = this.#joiners(flight, plan.waitMs).join(own, trace);
    }
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

  /** The callers of `flight` that wait on it for at most `waitMs` each. */
  #joiners<T>(flight: Flight<T>, waitMs: number): Joiners<T> {
    flight.joiners ??= new Map();
    let joiners = flight.joiners.get(waitMs);
    if (joiners === undefined) {
      joiners = new Joiners(flight, waitMs, this.#context.stats);
      flight.joiners.set(waitMs, joiners);
    }
    return joiners;
  }
}

/** One caller waiting on another's flight. */
interface Joiner<T> {
  /** When it stops waiting (`performance.now()` ms) and runs `ownLoad` instead. */
  until: number;
  ownLoad: () => Promise<T>;
  trace: GetOrSetTrace | undefined;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/**
 * The callers that joined one flight with the same `waitMs`: each gets the flight's outcome, or
 * once its own `waitMs` has passed, its own load's. They share one timer and one callback on the
 * flight: a stampede of hundreds of callers on one key costs no timer per caller. Callers join in
 * time order, so their deadlines come in the order they joined.
 */
class Joiners<T> {
  readonly #flight: Flight<T>;
  readonly #waitMs: number;
  readonly #stats: { waitTimeouts: number };
  #waiting: Array<Joiner<T>> = [];
  #timer: NodeJS.Timeout | undefined;
  #settled = false;

  constructor(flight: Flight<T>, waitMs: number, stats: { waitTimeouts: number }) {
    this.#flight = flight;
    this.#waitMs = waitMs;
    this.#stats = stats;
    flight.done.then(
      (value) => this.#settle((joiner) => this.#answer(joiner, value)),
      (err: unknown) => this.#settle((joiner) => joiner.reject(err)),
    );
  }

  /** The flight's outcome, or after `waitMs` the outcome of `ownLoad` instead (whatever the flight does later). */
  join(ownLoad: () => Promise<T>, trace: GetOrSetTrace | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const joiner = { until: performance.now() + this.#waitMs, ownLoad, trace, resolve, reject };
      if (this.#settled) {
        // settled while the flight was still listed (its listing is dropped a microtask later)
        this.#flight.done.then((value) => this.#answer(joiner, value), reject);
        return;
      }
      this.#waiting.push(joiner);
      if (this.#timer === undefined) this.#arm(this.#waitMs);
    });
  }

  #answer(joiner: Joiner<T>, value: T): void {
    if (joiner.trace) joiner.trace.outcome ??= this.#flight.source;
    joiner.resolve(value);
  }

  #arm(delayMs: number): void {
    // a timer may fire up to a millisecond before performance.now() reaches its deadline
    this.#timer = setTimeout(() => this.#expire(), Math.max(1, delayMs));
  }

  /** Every caller whose wait is over runs its own load; the timer is set again for the next one. */
  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    let due = 0;
    while (due < this.#waiting.length && this.#waiting[due]!.until <= now) due++;
    const expired = this.#waiting.splice(0, due);
    for (const joiner of expired) {
      this.#stats.waitTimeouts++;
      joiner.ownLoad().then(joiner.resolve, joiner.reject);
    }
    const next = this.#waiting[0];
    if (next !== undefined) this.#arm(next.until - now);
  }

  #settle(finish: (joiner: Joiner<T>) => void): void {
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const joiner of waiting) finish(joiner);
  }
}
