import { setTimeout as sleep } from 'node:timers/promises';
import { L2TimeoutError, L2UnavailableError } from '../../errors.js';
import type { ConnectionHooks, L2Entry, L2Read } from '../driver.js';
import type { Keyspace } from '../keyspace.js';
import type { Script } from '../script.js';
import { announce } from './announce.js';
import type { Client, RedisConnection } from './connection.js';
import { mayHaveLeft } from './outcome.js';
import { plainWrites, taggedWrite, taggedWriteArgs, WRITE, writeArgs } from './write-scripts.js';

/** What the data commands need of their driver. */
export interface DataCommandParts {
  connection: RedisConnection;
  keyspace: Keyspace;
  hooks: ConnectionHooks | undefined;
  timeoutMs: number;
  /** Bounds a command by the operation deadline and feeds its outcome to the breaker. */
  track<T>(pending: Promise<T>): Promise<T>;
}

/**
 * The value commands of one Redis server: reads that bring each key's remaining TTL along, and
 * writes that cannot land after their deadline. Each sends in one round trip whatever it is given;
 * batching callers is the coalescer's (coalescer.ts).
 */
export class DataCommands {
  readonly #parts: DataCommandParts;
  /** The tagged write script names leases in this cache's key space. */
  readonly #taggedWrite: Script;

  constructor(parts: DataCommandParts) {
    this.#parts = parts;
    this.#taggedWrite = taggedWrite(parts.keyspace);
  }

  /**
   * Reads `keys` with their remaining TTLs, which bound how long L1 may keep them: `GET` and `PTTL`
   * for one key, `MGET` and a `PTTL` per key for several. All leave in the same socket write
   * (node-redis pipelines the commands of one tick).
   */
  async read(client: Client, keys: string[]): Promise<L2Read[]> {
    if (keys.length === 1) {
      const key = keys[0]!;
      const [text, pttlMs] = await this.#parts.track(
        Promise.all([
          client.sendCommand<string | null>(['GET', key]),
          client.sendCommand<number>(['PTTL', key]),
        ]),
      );
      return [{ text, pttlMs }];
    }
    const texts = client.sendCommand<Array<string | null>>(['MGET', ...keys]);
    // a PTTL per key: the same TTLs from one script call cost Redis about twice the time (Lua's
    // redis.call), which a read waits for (getMany(100): 2.28x a raw MGET against 1.31x, bench/)
    const ttls = Promise.all(keys.map((key) => client.sendCommand<number>(['PTTL', key])));
    const [values, pttls] = await this.#parts.track(Promise.all([texts, ttls]));
    return values.map((text, i) => ({ text, pttlMs: pttls[i] ?? -2 }));
  }

  /**
   * Writes `entries` in one step through the deadline-guarded script (write-scripts.ts), or as plain
   * `SET … EX` when the Redis user may not run scripts. Rejects when Redis failed or the write
   * reached it after its deadline (then it was dropped).
   */
  async write(client: Client, entries: L2Entry[]): Promise<void> {
    const { connection, hooks, timeoutMs, track } = this.#parts;
    if (!connection.guardedWrites) {
      const writes = plainWrites(client, entries);
      announce(hooks, client, entries);
      await track(Promise.all(writes));
      return;
    }
    const tagged = entries.some((entry) => entry.tags !== undefined && entry.tags.length > 0);
    const sentAt = performance.now();
    const deadline = connection.clock.deadline(sentAt, timeoutMs);
    const [script, args] = tagged
      ? [this.#taggedWrite, taggedWriteArgs(entries, deadline)]
      : [WRITE, writeArgs(entries, deadline)];
    let applied: number;
    try {
      // a flushed script cache (restart, SCRIPT FLUSH) gets the body, with the same deadline
      applied = await script.call((command) => {
        const write = client.sendCommand<number>(command);
        announce(hooks, client, entries);
        return track(write);
      }, args);
    } catch (err) {
      if (err instanceof L2UnavailableError && mayHaveLeft(err)) await this.#outliveWrite(sentAt);
      throw err;
    }
    if (applied !== 1) {
      throw new L2TimeoutError(timeoutMs, 'the write reached Redis after its deadline and was dropped');
    }
  }

  /**
   * Waits until a write sent at `sentAt` (performance.now) can no longer land. A write whose
   * connection failed under it (replaced after timeouts, reset) may still be in the network or in
   * Redis's socket buffer, and its script runs if it arrives before the deadline. Were its caller
   * told "failed" at once, an invalidation made next (by it or by anyone it tells) could be
   * overtaken by the write landing after it: a stale value after an invalidation. So the failure is
   * reported only once the deadline has passed; the call still settles within the deadline.
   */
  async #outliveWrite(sentAt: number): Promise<void> {
    const leftMs = sentAt + this.#parts.timeoutMs - performance.now();
    // a referenced timer: the wait is short, and a script awaiting this write must not exit silently mid-await
    if (leftMs > 0) await sleep(leftMs);
  }
}
