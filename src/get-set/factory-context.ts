import { CacheKeyError, FactoryTimeoutError } from '../errors.js';
import type { Keyspace } from '../l2/keyspace.js';
import { callDuration, type Duration } from '../values/durations.js';
import type { Plan } from './plan.js';

/**
 * What a `getOrSet` factory is given; factories that take no argument can ignore it. Not generic,
 * so that TypeScript infers the value's type from what the factory returns: `stale` is `unknown`.
 */
export interface FactoryContext {
  /** The value being replaced, kept past its TTL by `grace` (of the type the factory returns); `undefined` when there is none. */
  readonly stale: unknown;
  /** Aborted at the call's `hardTimeoutMs` (reason: `FactoryTimeoutError`) and at `cache.close()`. */
  readonly signal: AbortSignal;
  /** Stores the value with this TTL (seconds, or a string such as `'30s'`) instead of the call's; throws `CacheKeyError`. */
  setTtl(ttl: Duration): void;
  /** Stores the value with these tags too, besides the call's; throws `CacheKeyError` for a bad tag. */
  setTags(tags: readonly string[]): void;
  /** `return ctx.skip(value)`: every caller gets `value`, and nothing is stored, in either tier. */
  skip<V>(value: V): V;
}

/** What a `getOrSetMany` batch factory is given besides the missing keys (not generic either). */
export interface BatchFactoryContext {
  /** The values being replaced, kept past their TTL by `grace`, by key (only keys that have one). */
  readonly stale: ReadonlyMap<string, unknown>;
  /** Aborted at the call's `hardTimeoutMs` (reason: `FactoryTimeoutError`) and at `cache.close()`. */
  readonly signal: AbortSignal;
  /** The TTL to store the values with (or only `key`'s): seconds or `'30s'`; throws `CacheKeyError`. */
  setTtl(ttl: Duration, key?: string): void;
  /** Tags to store the values with (or only `key`'s), besides the call's; throws `CacheKeyError`. */
  setTags(tags: readonly string[], key?: string): void;
  /** `return ctx.skip(values)`: the callers get `values`, and nothing of this batch is stored. */
  skip<M extends Map<string, unknown>>(values: M): M;
}

/** Loads one value; it may use the context it is given (`getOrSet(key, (ctx) => …)`). */
export type Factory<T> = (ctx: FactoryContext) => T | Promise<T>;
/** Loads the values of `keys` (without prefix) into a map from key to value. */
export type BatchFactory<T> = (
  keys: string[],
  ctx: BatchFactoryContext,
) => Map<string, T> | Promise<Map<string, T>>;

/** What a store of one value uses of its plan, after the factory's adjustments. */
export type StorePlan = Pick<Plan, 'ttl' | 'ttlJitter' | 'grace' | 'tagKeys'>;

/**
 * The factory runs of a loader that hold a live `AbortSignal`, so that `close()` aborts them; once
 * closed, a signal asked for is born aborted.
 */
export class FactoryRuns {
  readonly #live = new Set<FactoryRun>();
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  add(run: FactoryRun): void {
    this.#live.add(run);
  }

  delete(run: FactoryRun): void {
    this.#live.delete(run);
  }

  /** Aborts every running factory's signal: the cache is closing. */
  close(): void {
    this.#closed = true;
    for (const run of [...this.#live]) run.abort(new DOMException('the cache was closed', 'AbortError'));
  }
}

/**
 * One factory call: its signal (made only if the factory asks for it, aborted at the hard timeout
 * or at close), and what the factory asked for (TTL, tags, skip). A call's hard timeout counts from
 * the call's start, so `startedAt` is when the caller called, not when the factory began.
 */
export class FactoryRun {
  readonly #runs: FactoryRuns;
  readonly #keyspace: Keyspace;
  readonly #redisKey: string;
  readonly #hardTimeoutMs: number | undefined;
  readonly #startedAt: number;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #finished = false;
  #ttl: number | undefined;
  #tagKeys: string[] = [];
  /** Set by `skip`: the result is returned, not stored. */
  skipped = false;

  constructor(runs: FactoryRuns, keyspace: Keyspace, redisKey: string, plan: Plan, startedAt: number) {
    this.#runs = runs;
    this.#keyspace = keyspace;
    this.#redisKey = redisKey;
    this.#hardTimeoutMs = plan.hardTimeoutMs;
    this.#startedAt = startedAt;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#runs.closed) this.abort(new DOMException('the cache was closed', 'AbortError'));
      else if (!this.#finished) {
        this.#runs.add(this);
        if (this.#hardTimeoutMs !== undefined) {
          const timeoutMs = this.#hardTimeoutMs;
          const leftMs = this.#startedAt + timeoutMs - performance.now();
          const timeout = () => this.abort(new FactoryTimeoutError(this.#redisKey, timeoutMs));
          if (leftMs <= 0) timeout();
          // unref'd: a factory that ignores its signal must not keep the process alive for it
          else this.#timer = setTimeout(timeout, leftMs).unref();
        }
      }
    }
    return this.#controller.signal;
  }

  setTtl(ttl: Duration): void {
    this.#ttl = callDuration('ctx.setTtl ttl', ttl, 's', { min: 1, integer: true });
  }

  setTags(tags: readonly string[]): void {
    this.#tagKeys.push(...this.#keyspace.tagKeys(tags));
  }

  skip<V>(value: V): V {
    this.skipped = true;
    return value;
  }

  abort(reason: unknown): void {
    this.#controller?.abort(reason);
    this.finish();
  }

  /** The factory settled: its signal will not be aborted any more. */
  finish(): void {
    this.#finished = true;
    clearTimeout(this.#timer);
    this.#runs.delete(this);
  }

  /** `plan` with what the factory asked for (TTL, extra tags). */
  storePlan(plan: StorePlan): StorePlan {
    if (this.#ttl === undefined && this.#tagKeys.length === 0) return plan;
    const tagKeys =
      this.#tagKeys.length === 0 ? plan.tagKeys : [...new Set([...plan.tagKeys, ...this.#tagKeys])];
    return { ...plan, ttl: this.#ttl ?? plan.ttl, tagKeys };
  }
}

/** The context a single-value factory sees over `run`, with `stale` the value it replaces. */
export function factoryContext(run: FactoryRun, stale: { value: unknown } | undefined): FactoryContext {
  return {
    stale: stale?.value,
    get signal() {
      return run.signal;
    },
    setTtl: (ttl) => run.setTtl(ttl),
    setTags: (tags) => run.setTags(tags),
    skip: (value) => run.skip(value),
  };
}

/**
 * A batch factory's run: one signal for the batch, and TTLs and tags for every key or for one.
 * `keys` are the batch's keys without prefix.
 */
export class BatchRun {
  readonly #run: FactoryRun;
  readonly #keys: ReadonlySet<string>;
  readonly #keyspace: Keyspace;
  readonly #ttls = new Map<string, number>();
  readonly #tags = new Map<string, string[]>();

  constructor(run: FactoryRun, keyspace: Keyspace, keys: readonly string[]) {
    this.#run = run;
    this.#keyspace = keyspace;
    this.#keys = new Set(keys);
  }

  get skipped(): boolean {
    return this.#run.skipped;
  }

  /** The context the batch factory sees, with `stale` the values it replaces by key. */
  context(stale: ReadonlyMap<string, unknown>): BatchFactoryContext {
    const run = this.#run;
    return {
      stale,
      get signal() {
        return run.signal;
      },
      setTtl: (ttl, key) => {
        if (key === undefined) return run.setTtl(ttl);
        this.#ttls.set(this.#own(key), callDuration('ctx.setTtl ttl', ttl, 's', { min: 1, integer: true }));
      },
      setTags: (tags, key) => {
        if (key === undefined) return run.setTags(tags);
        const own = this.#own(key);
        this.#tags.set(own, [...(this.#tags.get(own) ?? []), ...this.#keyspace.tagKeys(tags)]);
      },
      skip: (values) => run.skip(values),
    };
  }

  finish(): void {
    this.#run.finish();
  }

  /** `plan` for the value of `key`, with what the factory asked for the batch and for that key. */
  storePlan(plan: StorePlan, key: string): StorePlan {
    const batch = this.#run.storePlan(plan);
    const ttl = this.#ttls.get(key);
    const tags = this.#tags.get(key);
    if (ttl === undefined && tags === undefined) return batch;
    return {
      ...batch,
      ttl: ttl ?? batch.ttl,
      tagKeys: tags === undefined ? batch.tagKeys : [...new Set([...batch.tagKeys, ...tags])],
    };
  }

  #own(key: string): string {
    if (!this.#keys.has(key)) {
      throw new CacheKeyError(`${JSON.stringify(key)} is not one of the keys this batch factory loads`);
    }
    return key;
  }
}

/**
 * The batch context over a single-value run: a batch factory called for one key (another process
 * held the rest of its keys' leases) sees the same API.
 */
export function singleKeyBatch(ctx: FactoryContext, key: string): BatchFactoryContext {
  const own = (given: string | undefined) => {
    if (given !== undefined && given !== key) {
      throw new CacheKeyError(`${JSON.stringify(given)} is not one of the keys this batch factory loads`);
    }
  };
  return {
    stale: ctx.stale === undefined ? new Map() : new Map([[key, ctx.stale]]),
    get signal() {
      return ctx.signal;
    },
    setTtl: (ttl, given) => {
      own(given);
      ctx.setTtl(ttl);
    },
    setTags: (tags, given) => {
      own(given);
      ctx.setTags(tags);
    },
    skip: (values) => {
      ctx.skip(values.get(key));
      return values;
    },
  };
}
