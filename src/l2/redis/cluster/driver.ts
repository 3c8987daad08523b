import type { RedisNode, ResolvedConfig } from '../../../config/options.js';
import { L2CursorError, L2RoutingError, L2UnavailableError } from '../../../errors.js';
import type {
  BreakerState,
  HooksFor,
  L2Driver,
  L2Entry,
  L2Read,
  L2State,
  OwedWork,
  PendingStatus,
} from '../../driver.js';
import { Keyspace } from '../../keyspace.js';
import { FailedCalls } from '../../outage.js';
import { type PendingWork, pendingWorkFor } from '../../pending/work.js';
import { RedisDriver } from '../driver.js';
import { untilReady } from '../nodes.js';
import { registerShards, type ShardWrite } from './shard-registry.js';
import { type Primary, SlotMap } from './slot-map.js';
import { keySlot, SLOT_COUNT, slotTag } from './slots.js';

/** Keyless commands that any node answers alike. */
const ANY_NODE = new Set(['PING', 'ECHO', 'TIME', 'PUBLISH']);
/** Keyless commands whose answer depends on the node: they need `commandOnPrimaries`. */
const PER_NODE = new Set([
  'INFO',
  'DBSIZE',
  'SCAN',
  'KEYS',
  'RANDOMKEY',
  'FLUSHDB',
  'FLUSHALL',
  'SCRIPT',
  'CONFIG',
  'CLIENT',
  'CLUSTER',
  'MEMORY',
  'LATENCY',
  'SLOWLOG',
]);
const SCRIPT_CALLS = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO']);

/**
 * L2 on Redis Cluster. cachette reads the slot map (`CLUSTER SLOTS`) and talks to each primary
 * through a `RedisDriver` of its own, so every fail-fast promise of the standalone driver holds per
 * node: no queue, the deadline on every command, a breaker, reconnection, dead-connection
 * replacement, writes that cannot land after their deadline (with the clock of the node that runs
 * them), one log line per outage. Each key goes to the primary of its slot; calls on several keys
 * are split per slot (Redis refuses a command or script across slots with CROSSSLOT).
 *
 * Failover: while a primary is down, calls for its slots fail as misses and `false` at once; a
 * failed call, a `MOVED` reply, or the poll every second reads the slot map again, and calls go to
 * the promoted replica as soon as the cluster names it. Redirections are not followed: the call
 * fails (a miss), and the map is refreshed for the next one.
 *
 * Pending work (l2/pending/) is applied per primary: a key's delete by the primary of its slot, a
 * pattern, tag or flush by every primary, each as soon as it answers (at once for those in use),
 * and by a replica promoted meanwhile too.
 *
 * Why not node-redis's `createCluster`: its `connect()` rejects for good when no seed answers at
 * start (cachette must start with Redis down and connect later), and it routes, queues and
 * redirects commands over node connections it owns, where cachette needs, per node, the write
 * deadline in that node's clock, a breaker, a health check and the replacement of a dead connection.
 */
export class ClusterDriver implements L2Driver {
  readonly sharded = true;
  readonly keyspace: Keyspace;
  readonly #config: ResolvedConfig;
  readonly #hooksFor: HooksFor | undefined;
  readonly #map: SlotMap;
  readonly #pending: PendingWork;
  readonly #failedCalls = new FailedCalls();
  #closed = false;

  /** `hooksFor`: coherence's hooks of each primary, asked when the driver connects to it. */
  constructor(config: ResolvedConfig, hooksFor?: HooksFor) {
    if (config.topology.kind !== 'cluster') throw new Error('ClusterDriver needs a cluster topology');
    this.#config = config;
    this.#hooksFor = hooksFor;
    this.keyspace = new Keyspace(config.keyPrefix);
    this.#pending = pendingWorkFor(
      config,
      () =>
        this.#map.mapped && this.#map.uncoveredSlots === 0
          ? this.#map.primaries.map(({ address }) => address)
          : undefined,
      keySlot,
    );
    this.#map = new SlotMap(config, config.topology.nodes, (node, address) => this.#connect(node, address));
  }

  get state(): L2State {
    if (this.#closed) return 'closed';
    if (!this.#map.mapped) return 'connecting';
    let reconnecting = this.#map.uncoveredSlots > 0;
    let ready = !reconnecting;
    for (const { driver } of this.#map.primaries) {
      if (driver.state !== 'ready') ready = false;
      if (driver.state === 'reconnecting') reconnecting = true;
    }
    if (ready) return 'ready';
    return reconnecting ? 'reconnecting' : 'connecting';
  }

  /** The worst breaker among the primaries: `open` if any is open, then `half-open`, else `closed`. */
  get breaker(): BreakerState {
    let worst: BreakerState = 'closed';
    for (const { driver } of this.#map.primaries) {
      if (driver.breaker === 'open') return 'open';
      if (driver.breaker === 'half-open') worst = 'half-open';
    }
    return worst;
  }

  get breakerOpens(): number {
    return this.#map.primaries.reduce((sum, { driver }) => sum + driver.breakerOpens, this.#map.retiredOpens);
  }

  get pending(): PendingStatus {
    return this.#pending.status();
  }

  get failedCalls(): FailedCalls {
    return this.#failedCalls;
  }

  /** Owes `work`; the primaries it concerns that are in use apply it at once. */
  owe(work: OwedWork): void {
    const concerned = this.#pending.add(work);
    if (concerned === 'none') return;
    if (concerned === 'all') {
      for (const { driver } of this.#map.primaries) driver.applyOwedSoon();
      return;
    }
    for (const slot of new Set(concerned)) this.#map.primaryOf(slot)?.driver.applyOwedSoon();
  }

  async ready(timeoutMs: number): Promise<boolean> {
    return untilReady(
      {
        closed: () => this.#closed,
        ready: () => this.state === 'ready',
        waitingOn: () => this.#map.primaries.find(({ driver }) => driver.state !== 'ready')?.driver,
      },
      timeoutMs,
    );
  }

  async get(key: string): Promise<L2Read> {
    const primary = await this.#primaryOf(key);
    return primary.driver.get(key).catch(this.#failed);
  }

  async getMany(keys: string[]): Promise<L2Read[]> {
    const groups = await this.#bySlot(keys, (key) => key);
    const results: L2Read[] = new Array(keys.length);
    const outcomes = await Promise.allSettled(
      groups.map(({ primary, indexes }) => primary.driver.getMany(indexes.map((i) => keys[i]!))),
    );
    // one failed primary (an open breaker, a failover) costs the keys it holds, not the whole call
    let failures = 0;
    outcomes.forEach((outcome, g) => {
      const { indexes } = groups[g]!;
      if (outcome.status === 'fulfilled') {
        indexes.forEach((index, j) => {
          results[index] = outcome.value[j]!;
        });
        return;
      }
      failures++;
      for (const index of indexes) results[index] = { text: null, pttlMs: -2, failed: outcome.reason };
    });
    if (failures > 0 && failures === outcomes.length) {
      this.#failed((outcomes[0] as PromiseRejectedResult).reason);
    }
    if (failures > 0) this.#map.refreshSoon();
    return results;
  }

  /**
   * Tag indexes go to their shard beside each value (l2/tag-index.ts), so each slot's write stays one script;
   * each shard's slot is registered under its tag first, so that `invalidateTags` finds it.
   */
  async set(given: L2Entry[]): Promise<void> {
    const shards: ShardWrite[] = [];
    // a write lands within its deadline of being sent, or never: the registry outlives the shard
    const lateMs = this.#config.operationTimeoutMs;
    const entries = given.map((entry) => {
      if (entry.tags === undefined || entry.tags.length === 0) return entry;
      const hashTag = slotTag(keySlot(entry.key));
      for (const indexKey of entry.tags) shards.push({ indexKey, hashTag, ttlMs: entry.ttl * 1000 + lateMs });
      return { ...entry, tags: entry.tags.map((indexKey) => this.keyspace.shardKey(indexKey, hashTag)) };
    });
    const groups = await this.#bySlot(entries, (entry) => entry.key);
    if (shards.length > 0) await registerShards(this, shards);
    // every group settles before the call does: a failure reported while another primary's write is
    // still in flight would let that write land after the caller heard "failed" (see RedisDriver.set)
    const outcomes = await Promise.allSettled(
      groups.map(({ primary, indexes }) => primary.driver.set(indexes.map((i) => entries[i]!))),
    );
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) this.#failed(failed.reason);
  }

  async delete(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const groups = await this.#bySlot(keys, (key) => key);
    const counts = await Promise.all(
      groups.map(({ primary, indexes }) => primary.driver.delete(indexes.map((i) => keys[i]!))),
    ).catch(this.#failed);
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** Walks every primary in turn (keys live only on the primary of their slot). */
  async *scan(pattern: string, count?: number): AsyncIterable<string[]> {
    for (const primary of await this.#allPrimaries()) {
      try {
        yield* primary.driver.scan(pattern, count);
      } catch (err) {
        this.#failed(err);
      }
    }
  }

  /**
   * The cursor is `<first slot of the node>-<node's SCAN cursor>`: the node is found again by the
   * slot (which its replica keeps after a failover), and the walk moves to the primary with the
   * next first slot when the node's own cursor comes back to 0.
   */
  async scanPage(cursor: string, pattern: string, count: number): Promise<[string, string[]]> {
    await this.#allPrimaries();
    const dash = cursor.indexOf('-');
    const slot = dash === -1 ? 0 : Number(cursor.slice(0, dash));
    const nodeCursor = dash === -1 ? cursor : cursor.slice(dash + 1);
    if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) {
      throw new L2CursorError(`cursor ${JSON.stringify(cursor)} names no hash slot`);
    }
    const primary = this.#usable(this.#map.primaryOf(slot));
    const [next, keys] = await primary.driver.scanPage(nodeCursor, pattern, count).catch(this.#failed);
    if (next !== '0') return [`${slot}-${next}`, keys];
    const following = this.#map.primaries.find((candidate) => candidate.firstSlot > slot);
    return [following ? `${following.firstSlot}-0` : '0', keys];
  }

  async command<T>(args: string[]): Promise<T> {
    const name = (args[0] ?? '').toUpperCase();
    let primary: Primary;
    if (SCRIPT_CALLS.has(name)) {
      if (!(Number(args[2]) > 0)) throw new L2RoutingError(name);
      primary = await this.#primaryOf(args[3]!);
    } else if (ANY_NODE.has(name)) {
      const [first] = await this.#allPrimaries();
      primary = first!;
    } else if (PER_NODE.has(name) || args.length < 2) {
      throw new L2RoutingError(name);
    } else {
      primary = await this.#primaryOf(args[1]!);
    }
    return primary.driver.command<T>(args).catch(this.#failed);
  }

  async commandOnPrimaries<T>(args: string[]): Promise<T[]> {
    const primaries = await this.#allPrimaries();
    return Promise.all(primaries.map(({ driver }) => driver.command<T>(args))).catch(this.#failed);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#map.close();
    this.#pending.abandon();
  }

  /** The primary serving `key`'s slot; before the first slot map, waits for it (bounded). */
  async #primaryOf(key: string): Promise<Primary> {
    await this.#map.first();
    return this.#usable(this.#map.primaryOf(keySlot(key)));
  }

  /** `primary` if calls may go to it now; otherwise asks for a fresh slot map and throws. */
  #usable(primary: Primary | undefined): Primary {
    if (primary && !(primary.late && primary.driver.state !== 'ready')) return primary;
    this.#map.refreshSoon();
    throw new L2UnavailableError(
      'E_L2_UNAVAILABLE',
      primary
        ? `the Redis Cluster primary ${primary.address} is not connected yet`
        : 'no Redis Cluster primary serves this slot now',
    );
  }

  /** Every primary, by first slot; rejects unless the map covers every slot. */
  async #allPrimaries(): Promise<readonly Primary[]> {
    await this.#map.first();
    if (!this.#map.mapped || this.#map.uncoveredSlots > 0) {
      this.#map.refreshSoon();
      throw new L2UnavailableError('E_L2_UNAVAILABLE', 'the Redis Cluster does not serve every slot now');
    }
    const primaries = this.#map.primaries;
    for (const primary of primaries) this.#usable(primary);
    return primaries;
  }

  /** The positions of `items` grouped by hash slot, each group with the primary serving it. */
  async #bySlot<I>(
    items: I[],
    keyOf: (item: I) => string,
  ): Promise<Array<{ primary: Primary; indexes: number[] }>> {
    await this.#map.first();
    const groups = new Map<number, { primary: Primary; indexes: number[] }>();
    for (let i = 0; i < items.length; i++) {
      const slot = keySlot(keyOf(items[i]!));
      let group = groups.get(slot);
      if (!group) {
        group = { primary: this.#usable(this.#map.primaryOf(slot)), indexes: [] };
        groups.set(slot, group);
      }
      group.indexes.push(i);
    }
    return [...groups.values()];
  }

  /** A call failed: the slot map may be outdated (a failover, a MOVED reply), so read it again soon. */
  readonly #failed = (err: unknown): never => {
    this.#map.refreshSoon();
    throw err;
  };

  /**
   * A standalone driver for one primary, with the cluster's credentials and TLS settings, and the
   * primary's own connection hooks when coherence is on (a subscriber and tracking per node).
   */
  #connect(node: RedisNode, address: string): Pick<Primary, 'driver' | 'retire'> {
    const { redis } = this.#config;
    const hooks = this.#hooksFor?.(address);
    const driver = new RedisDriver(
      {
        ...this.#config,
        redis: { ...redis, host: node.host, port: node.port, safeUrl: `${redis.safeUrl} (node ${address})` },
      },
      hooks,
      {
        address,
        pending: this.#pending,
        owns: (slot) => this.#map.primaryOf(slot)?.address === address,
        sharded: true,
        failedCalls: this.#failedCalls,
      },
    );
    return { driver, retire: hooks && (() => hooks.retire()) };
  }
}
