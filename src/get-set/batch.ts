import type { L2Read } from '../l2/driver.js';
import type { LoadContext, LoadTarget, Read } from './context.js';
import type { Flight, Flights, Pending } from './flights.js';
import { pendingFlight } from './flights.js';
import type { Lease } from './lease.js';
import type { BatchFactory, Factory, Plan } from './plan.js';

/** Loads one key like `getOrSet` (loader.ts): for a key another process holds the lease of. */
export type LoadOne = <T>(
  target: LoadTarget,
  redisKey: string,
  factory: Factory<T>,
  plan: Plan,
  ticket: number,
  stale: { value: T } | undefined,
) => Promise<T>;

/**
 * `getOrSet` for several keys of one domain: L1, then one L2 round trip for the rest, then one batch
 * factory call for what is still missing. Keys already loading in this process join their flight.
 */
export async function getOrSetMany<T>(
  context: LoadContext,
  flights: Flights,
  loadOne: LoadOne,
  target: LoadTarget,
  keys: readonly string[],
  batchFactory: BatchFactory<T>,
  plan: Plan,
): Promise<Array<T | undefined>> {
  // dense: a key left without a value is an `undefined` element, not a hole
  const results = new Array<T | undefined>(keys.length).fill(undefined);
  const waits: Array<Promise<void>> = [];
  const wait = (
    flight: Flight<T | undefined>,
    redisKey: string,
    index: number,
    alone?: () => Promise<T | undefined>,
  ): void => {
    waits.push(
      flights.await(flight, redisKey, plan, alone).then((value) => {
        results[index] = value;
      }),
    );
  };
  const started = new Map<string, Pending<T | undefined>>();
  keys.forEach((key, index) => {
    const redisKey = target.prefix + key;
    const local = context.l1.get(redisKey);
    if (local !== undefined) {
      target.counters.l1Hits++;
      results[index] = local as T;
      return;
    }
    const mine = started.get(redisKey)?.flight;
    if (mine !== undefined) {
      wait(mine, redisKey, index);
      return;
    }
    const running = flights.get<T | undefined>(redisKey);
    if (running !== undefined) {
      // another caller's load: waited for at most lock.waitMs, then this key alone goes to the batch factory
      const single = async () => (await batchFactory([key])).get(key);
      wait(running, redisKey, index, () => context.callAlone(redisKey, single, () => running.stale));
      return;
    }
    const pending = pendingFlight<T | undefined>();
    started.set(redisKey, pending);
    flights.track(redisKey, pending.flight, plan.waitMs);
    wait(pending.flight, redisKey, index);
  });
  if (started.size > 0) void loadMany(context, loadOne, target, started, batchFactory, plan);
  await Promise.all(waits);
  return results;
}

/** Settles every pending flight of `getOrSetMany`: from L2, or from one batch factory call; never throws. */
async function loadMany<T>(
  context: LoadContext,
  loadOne: LoadOne,
  target: LoadTarget,
  pending: Map<string, Pending<T | undefined>>,
  batchFactory: BatchFactory<T>,
  plan: Plan,
): Promise<void> {
  const { l1, l2, codec, leases, stats } = context;
  const redisKeys = [...pending.keys()];
  const tickets = new Map(redisKeys.map((redisKey) => [redisKey, l1.ticket(redisKey)]));
  let replies: L2Read[] | undefined;
  try {
    replies = await l2.getMany(redisKeys);
    // on a cluster, keys of a failed server read as misses (and are loaded); the failure is counted once
    const failed = replies.find((reply) => reply.failed !== undefined);
    if (failed) context.failures.report('getOrSetMany', target.counters, failed.failed);
  } catch (err) {
    context.failures.report('getOrSetMany', target.counters, err);
  }
  const needed: string[] = [];
  redisKeys.forEach((redisKey, j) => {
    const reply = replies?.[j];
    const read: Read<T> =
      reply === undefined
        ? { kind: 'miss' }
        : codec.decode<T>('getOrSetMany', redisKey, reply, tickets.get(redisKey)!, target.counters);
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
  const held = new Map<string, Lease>();
  let mine = needed;
  if (plan.lock && replies !== undefined) {
    const lock = plan.lock;
    const acquisitions = await Promise.all(
      needed.map((redisKey) =>
        leases.acquire(redisKey, target.prefix, lock.leaseMs, plan.tagKeys).catch(() => undefined),
      ),
    );
    mine = [];
    needed.forEach((redisKey, j) => {
      const acquisition = acquisitions[j];
      if (acquisition?.acquired === false) {
        const key = redisKey.slice(target.prefix.length);
        const single = async () => (await batchFactory([key])).get(key);
        const { flight, settle } = pending.get(redisKey)!;
        settle(loadOne(target, redisKey, single, plan, tickets.get(redisKey)!, flight.stale));
        return;
      }
      if (acquisition?.acquired) held.set(redisKey, acquisition.lease);
      mine.push(redisKey);
    });
    if (mine.length === 0) return;
  }

  let values: Map<string, T>;
  try {
    stats.factoryCalls++;
    values = await batchFactory(mine.map((redisKey) => redisKey.slice(target.prefix.length)));
    if (!(values instanceof Map)) throw new TypeError('the getOrSetMany batch factory must return a Map');
  } catch (err) {
    stats.factoryErrors++;
    await Promise.all(
      mine.map(async (redisKey) => {
        const lease = held.get(redisKey);
        if (lease) await leases.release(lease);
        const { flight, settle } = pending.get(redisKey)!;
        if (flight.stale === undefined) return settle(Promise.reject(err));
        context.servedStale(redisKey, err);
        settle(Promise.resolve(flight.stale.value));
      }),
    );
    return;
  }
  await Promise.all(
    mine.map(async (redisKey) => {
      const value = values.get(redisKey.slice(target.prefix.length));
      const lease = held.get(redisKey);
      if (value === undefined) {
        if (lease) await leases.release(lease);
      } else {
        await context.store(target, redisKey, value, plan, tickets.get(redisKey)!, lease);
      }
      pending.get(redisKey)!.settle(Promise.resolve(value));
    }),
  );
}
