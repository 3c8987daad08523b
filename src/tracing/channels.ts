import { type TracingChannel, tracingChannel } from 'node:diagnostics_channel';

/**
 * The `node:diagnostics_channel` tracing channels cachette publishes on. Each call traced publishes
 * `start` and `end` around its synchronous part, then `asyncStart` and `asyncEnd` once it settled (and
 * `error` if it rejected: a programming error or a factory's error). The context object is the same
 * for every event of one call: `outcome` (and the counts of batch calls) are set on it before
 * `asyncStart`, `result` and `error` by Node. Nothing is published, and nothing allocated, while a
 * channel has no subscriber.
 */

/** How a traced call ended. Redis failures are not rejections: they answer a miss or `false`, with outcome `error`. */
export type TraceOutcome =
  /** get, getOrSet: answered by the memory tier (L1). */
  | 'l1'
  /** get, getOrSet: answered by Redis (L2). */
  | 'l2'
  /** get: neither tier has the key. */
  | 'miss'
  /** getOrSet: the factory was called in this process and its value returned. */
  | 'loaded'
  /** getOrSet: another process loaded the key; this call waited for its value. */
  | 'waited'
  /** getOrSet: the stale (graced) value, because the factory failed or was too slow. */
  | 'stale'
  /** getMany, getOrSetMany: every key answered by the cache (either tier). */
  | 'hit'
  /** getMany: some keys answered, some not; getOrSetMany: some keys loaded by the batch factory. */
  | 'partial'
  /** set, setMany: stored in Redis and L1. */
  | 'stored'
  /** set, setMany: a value was refused (no JSON form, larger than `maxValueBytes`). */
  | 'refused'
  /** delete, deletePattern, invalidate: done; `removed` says how many keys when Redis tells. */
  | 'removed'
  /** Redis failed (or a factory rejected): the caller got a miss, `false`, or the rejection. */
  | 'error';

/** What every traced call's context carries. */
export interface TraceContext {
  /**
   * The cache method: `get`, `getMany`, `set`, `setMany`, `delete`, `deleteMany`, `deletePattern`,
   * `getOrSet`, `getOrSetMany`, `invalidate`.
   */
  operation: string;
  /** The domain of the call (`default` when none was given); absent for invalidations across domains. */
  dbType?: string;
  /** The key of a single-key call, without the domain prefix. */
  key?: string;
  /** The keys of a batch call, without the domain prefix. */
  keys?: readonly string[];
  /** Set when the call settles. */
  outcome?: TraceOutcome;
  /** Set by Node: what the call resolved to. */
  result?: unknown;
  /** Set by Node: why the call rejected. */
  error?: unknown;
}

/** `cachette:get`: `get` and `getMany`. */
export interface GetTrace extends TraceContext {
  operation: 'get' | 'getMany';
  /** getMany: keys answered by either tier. */
  hits?: number;
}

/** `cachette:set`: `set` and `setMany`. */
export interface SetTrace extends TraceContext {
  operation: 'set' | 'setMany';
}

/** `cachette:delete`: `delete`, `deleteMany` and `deletePattern`. */
export interface DeleteTrace extends TraceContext {
  operation: 'delete' | 'deleteMany' | 'deletePattern';
  /** deletePattern: the glob, on the part of keys after the prefix. */
  pattern?: string;
  /** deleteMany, deletePattern: Redis keys removed. */
  removed?: number;
}

/** `cachette:getOrSet`: `getOrSet` and `getOrSetMany`. */
export interface GetOrSetTrace extends TraceContext {
  operation: 'getOrSet' | 'getOrSetMany';
  /** getOrSetMany: keys this call's batch factory was asked for. */
  loaded?: number;
}

/** `cachette:invalidate`: every function of the invalidation module (`invalidateTags` and `flushAll` included). */
export interface InvalidateTrace extends TraceContext {
  operation: 'invalidate';
  /** Which one: `key`, `pattern`, `domain`, `group`, `tags` or `flush`. */
  invalidation: string;
  /** pattern: the glob. */
  pattern?: string;
  /** tags: the tags. */
  tags?: readonly string[];
  /** group: its name. */
  group?: string;
  /** flush: `app` or `database`. */
  scope?: string;
  /** Why, as the caller said. */
  reason?: string;
  /** Redis keys removed. */
  removed?: number;
}

/** The channels, by the name they are published under. */
export const CHANNEL_NAMES: {
  /** `get` and `getMany`. */
  readonly get: 'cachette:get';
  /** `set` and `setMany`. */
  readonly set: 'cachette:set';
  /** `delete`, `deleteMany` and `deletePattern`. */
  readonly delete: 'cachette:delete';
  /** `getOrSet` and `getOrSetMany`. */
  readonly getOrSet: 'cachette:getOrSet';
  /** Every function of the invalidation module. */
  readonly invalidate: 'cachette:invalidate';
} = {
  get: 'cachette:get',
  set: 'cachette:set',
  delete: 'cachette:delete',
  getOrSet: 'cachette:getOrSet',
  invalidate: 'cachette:invalidate',
};

/** The tracing channel `cachette:get`. */
export const getChannel: TracingChannel<unknown, GetTrace> = tracingChannel(CHANNEL_NAMES.get);
/** The tracing channel `cachette:set`. */
export const setChannel: TracingChannel<unknown, SetTrace> = tracingChannel(CHANNEL_NAMES.set);
/** The tracing channel `cachette:delete`. */
export const deleteChannel: TracingChannel<unknown, DeleteTrace> = tracingChannel(CHANNEL_NAMES.delete);
/** The tracing channel `cachette:getOrSet`. */
export const getOrSetChannel: TracingChannel<unknown, GetOrSetTrace> = tracingChannel(CHANNEL_NAMES.getOrSet);
/** The tracing channel `cachette:invalidate`. */
export const invalidateChannel: TracingChannel<unknown, InvalidateTrace> = tracingChannel(
  CHANNEL_NAMES.invalidate,
);

/**
 * Whether anyone listens on `channel`: one check per call, so an untraced call costs nothing more.
 * (`hasSubscribers` of a tracing channel needs Node 20.13; before, each of its channels is asked.)
 */
export function traced(channel: TracingChannel<unknown, object>): boolean {
  return (
    channel.hasSubscribers ??
    (channel.start.hasSubscribers ||
      channel.end.hasSubscribers ||
      channel.asyncStart.hasSubscribers ||
      channel.asyncEnd.hasSubscribers ||
      channel.error.hasSubscribers)
  );
}

/** Runs `call` as one traced call on `channel`, with `context` shared by its events; a rejection is outcome `error`. */
export function traceCall<C extends TraceContext, R>(
  channel: TracingChannel<unknown, C>,
  context: C,
  call: () => Promise<R>,
): Promise<R> {
  return channel.tracePromise(async () => {
    try {
      return await call();
    } catch (err) {
      context.outcome = 'error';
      throw err;
    }
  }, context);
}

/** `traceCall` for calls whose result says the outcome: `false` is a Redis failure, a number the keys removed. */
export function traceRemoval<C extends DeleteTrace | InvalidateTrace, R extends number | boolean>(
  channel: TracingChannel<unknown, C>,
  context: C,
  call: () => Promise<R>,
): Promise<R> {
  return traceCall(channel, context, async () => {
    const result = await call();
    context.outcome = result === false ? 'error' : 'removed';
    if (typeof result === 'number') context.removed = result;
    return result;
  });
}

/** `traceCall` for `getMany`: the outcome and `hits` from how many keys were answered. */
export function traceReadMany<T>(
  context: GetTrace,
  read: () => Promise<Array<T | undefined>>,
): Promise<Array<T | undefined>> {
  return traceCall(getChannel, context, async () => {
    const values = await read();
    const hits = values.reduce((n: number, value) => (value === undefined ? n : n + 1), 0);
    context.hits = hits;
    context.outcome ??= hits === values.length ? 'hit' : hits === 0 ? 'miss' : 'partial';
    return values;
  });
}

/**
 * `traceCall` for `getOrSetMany`: `load` gets a batch factory that counts the keys it is asked for
 * (`loaded`), which say whether this call loaded all, some or none of them.
 */
export function traceLoadMany<F extends (keys: string[], ...rest: never[]) => unknown, R>(
  context: GetOrSetTrace,
  batchFactory: F,
  load: (factory: F) => Promise<R>,
): Promise<R> {
  // a batch factory that is not a function must still be refused as such (CacheKeyError)
  const counted =
    typeof batchFactory !== 'function'
      ? batchFactory
      : (((keys: string[], ...rest: never[]) => {
          context.loaded = (context.loaded ?? 0) + keys.length;
          return batchFactory(keys, ...rest);
        }) as F);
  return traceCall(getOrSetChannel, context, async () => {
    const values = await load(counted);
    const loaded = context.loaded ?? 0;
    const all = context.keys?.length ?? 0;
    context.outcome = loaded === 0 ? 'hit' : loaded === all ? 'loaded' : 'partial';
    return values;
  });
}
