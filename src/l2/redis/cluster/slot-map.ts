import type { RedisNode, ResolvedConfig } from '../../../config/options.js';
import { redactSecrets } from '../../../config/redis-target.js';
import { describeError, type Logger } from '../../../logger.js';
import type { RedisDriver } from '../driver.js';
import { nodeName, Poll, type SideClient, SideQuery, sideClient } from '../nodes.js';
import { withTimeout } from '../outcome.js';
import { SLOT_COUNT } from './slots.js';

/** How often the slot map is read again, in ms (a failed call asks for it sooner). */
const POLL_INTERVAL_MS = 1000;
/** Least time between two slot-map reads asked by `refreshSoon`, in ms: an outage fails many calls. */
const REFRESH_MIN_INTERVAL_MS = 100;
/**
 * Longest wait for one node's `CLUSTER SLOTS`, in ms (capped by `socketTimeoutMs`): a node that hangs
 * (paused, overloaded) must not hold up reading the map from the next node during a failover.
 */
const MAP_READ_TIMEOUT_MS = 1000;

/** A primary of the cluster: its address, the first hash slot it serves, and the driver talking to it. */
export interface Primary {
  address: string;
  firstSlot: number;
  driver: RedisDriver;
  /**
   * Found after start-up (a failover, a new node). A driver makes calls wait for its first
   * connection attempt, which is right at start-up only: calls for a new primary fail at once until
   * it is connected, so that a failover never holds a call longer than the operation deadline.
   */
  late: boolean;
  /** Tells the per-node connection hooks (coherence) that this primary is gone. */
  retire: (() => void) | undefined;
}

/** One range of `CLUSTER SLOTS`: slots `from` to `to` (inclusive), their primary and replicas. */
export interface SlotRange {
  from: number;
  to: number;
  primary: RedisNode;
  replicas: RedisNode[];
}

/** Opens the driver of a new primary (and its coherence hooks); see `ClusterDriver`. */
export type ConnectPrimary = (node: RedisNode, address: string) => Pick<Primary, 'driver' | 'retire'>;

/**
 * Where each hash slot lives: the slot map (`CLUSTER SLOTS`), read at start, every second, and
 * sooner when a call failed (`refreshSoon`), asked of the node that answered last, then of every
 * node of the last map, then of the configured ones. Each primary gets a driver of its own,
 * opened when the primary appears and closed when it is gone (a failover).
 */
export class SlotMap {
  readonly #config: ResolvedConfig;
  readonly #log: Logger;
  readonly #seeds: RedisNode[];
  readonly #connect: ConnectPrimary;
  /** The primary of every slot; `undefined` for a slot no primary serves (or before the first map). */
  #slots: Array<Primary | undefined> = new Array(SLOT_COUNT);
  /** The primaries, by first slot served. */
  #primaries: Primary[] = [];
  /** Every node of the last map (primaries and replicas), asked first when the map is read again. */
  #known: RedisNode[] = [];
  #mapped = false;
  #uncoveredSlots = 0;
  #closed = false;
  /** Reads the slot map every second, and sooner after a failed call. */
  readonly #mapPoll: Poll;
  readonly #firstMap: Promise<void>;
  /** The connection that reads the slot map, kept between reads while it works. */
  readonly #query: SideQuery;
  #unreachableLogged = false;
  /** Breaker opens of the drivers of former primaries, so that the total never goes down. */
  #retiredOpens = 0;

  constructor(config: ResolvedConfig, seeds: RedisNode[], connect: ConnectPrimary) {
    this.#config = config;
    this.#log = config.logger;
    this.#seeds = seeds;
    this.#connect = connect;
    this.#query = new SideQuery((node) => this.#queryClient(node), config.connectTimeoutMs);
    this.#mapPoll = new Poll(() => this.#readMap(), POLL_INTERVAL_MS);
    this.#firstMap = withTimeout(this.#mapPoll.start(), config.connectTimeoutMs + 100).catch(() => {});
  }

  /** Whether a slot map was read. */
  get mapped(): boolean {
    return this.#mapped;
  }

  /** Slots no primary serves in the last map. */
  get uncoveredSlots(): number {
    return this.#uncoveredSlots;
  }

  /** The primaries, by first slot served. */
  get primaries(): readonly Primary[] {
    return this.#primaries;
  }

  /** Breaker opens of the drivers of former primaries. */
  get retiredOpens(): number {
    return this.#retiredOpens;
  }

  /** The primary serving `slot` in the last map. */
  primaryOf(slot: number): Primary | undefined {
    return this.#slots[slot];
  }

  /** Before the first slot map: waits for it (bounded by the connect timeout). */
  async first(): Promise<void> {
    if (!this.#mapped && !this.#closed) await this.#firstMap;
  }

  /** A call failed: the slot map may be outdated (a failover, a MOVED reply), so read it again soon. */
  refreshSoon(): void {
    if (this.#closed || this.#mapPoll.asking) return;
    if (this.#mapPoll.sinceLastMs < REFRESH_MIN_INTERVAL_MS) return;
    void this.#mapPoll.now();
  }

  /** Stops reading the map, and closes every primary's driver. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#mapPoll.stop();
    this.#query.close();
    await Promise.all(this.#primaries.map((primary) => this.#retire(primary)));
  }

  /** Asks the known nodes, one after the other, for the slot map, and follows the first answer. */
  async #readMap(): Promise<void> {
    let lastError = 'no cluster node configured';
    for (const node of this.#candidates()) {
      if (this.#closed) return;
      let ranges: SlotRange[];
      try {
        ranges = parseSlots(await this.#ask(node), node);
      } catch (err) {
        lastError = `${nodeName(node)}: ${this.#redacted(err)}`;
        continue;
      }
      this.#unreachableLogged = false;
      this.#apply(ranges);
      return;
    }
    if (!this.#unreachableLogged && !this.#closed) {
      this.#unreachableLogged = true;
      this.#log.warn(
        { redis: this.#config.redis.safeUrl, err: lastError },
        'cachette: no Redis Cluster node told the slot map; serving misses until one does',
      );
    }
  }

  /** The node asked last time first, then the nodes of the last map, then the configured ones. */
  #candidates(): RedisNode[] {
    const seen = new Set<string>();
    const nodes: RedisNode[] = [];
    const last = [...this.#known, ...this.#seeds].find((node) => nodeName(node) === this.#query.address);
    for (const node of [...(last ? [last] : []), ...this.#known, ...this.#seeds]) {
      const address = nodeName(node);
      if (seen.has(address)) continue;
      seen.add(address);
      nodes.push(node);
    }
    return nodes;
  }

  /** `CLUSTER SLOTS` on `node`. */
  #ask(node: RedisNode): Promise<unknown> {
    return this.#query.send(
      node,
      ['CLUSTER', 'SLOTS'],
      Math.min(this.#config.socketTimeoutMs, MAP_READ_TIMEOUT_MS),
    );
  }

  /** Points every slot at its primary's driver, opening drivers for new primaries and closing former ones. */
  #apply(ranges: SlotRange[]): void {
    if (this.#closed) return;
    const previous = new Map(this.#primaries.map((primary) => [primary.address, primary]));
    const next = new Map<string, Primary>();
    const slots: Array<Primary | undefined> = new Array(SLOT_COUNT);
    const known: RedisNode[] = [];
    for (const { from, to, primary: node, replicas } of ranges) {
      const address = nodeName(node);
      let primary = next.get(address);
      if (!primary) {
        const kept = previous.get(address);
        primary = kept
          ? { ...kept, firstSlot: from }
          : { address, firstSlot: from, late: this.#mapped, ...this.#connect(node, address) };
        next.set(address, primary);
        known.push(node);
      }
      primary.firstSlot = Math.min(primary.firstSlot, from);
      slots.fill(primary, from, to + 1);
      known.push(...replicas);
    }
    let uncovered = 0;
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (!slots[slot]) uncovered++;
    const changed = next.size !== previous.size || [...next.keys()].some((address) => !previous.has(address));
    for (const [address, former] of previous) {
      if (next.has(address)) continue;
      this.#retiredOpens += former.driver.breakerOpens;
      void this.#retire(former);
    }
    this.#slots = slots;
    this.#primaries = [...next.values()].sort((a, b) => a.firstSlot - b.firstSlot);
    this.#known = known;
    const wasMapped = this.#mapped;
    this.#mapped = true;
    if (changed) {
      const fields = { redis: this.#config.redis.safeUrl, primaries: [...next.keys()] };
      if (wasMapped)
        this.#log.info(fields, 'cachette: the Redis Cluster primaries changed; calls follow them');
      else this.#log.debug(fields, 'cachette: Redis Cluster slot map read');
    }
    if (uncovered > 0 && uncovered !== this.#uncoveredSlots) {
      this.#log.warn(
        { redis: this.#config.redis.safeUrl, uncoveredSlots: uncovered },
        'cachette: some Redis Cluster hash slots have no primary; their keys are misses until they do',
      );
    }
    this.#uncoveredSlots = uncovered;
  }

  /** Closes the driver of a primary that is gone (or on close), then retires its hooks. */
  async #retire(primary: Primary): Promise<void> {
    await primary.driver.close();
    primary.retire?.();
  }

  #queryClient(node: RedisNode): SideClient {
    const { username, password } = this.#config.redis;
    return sideClient(this.#config, node, { auth: { username, password }, reconnect: false });
  }

  #redacted(err: unknown): string {
    return redactSecrets(describeError(err), this.#config.redis.password);
  }
}

/**
 * Reads a `CLUSTER SLOTS` reply: `[from, to, [host, port, id…], …replicas]` per range. A node that
 * does not know its own address answers an empty host: it is then the node that was asked.
 */
export function parseSlots(reply: unknown, asked: RedisNode): SlotRange[] {
  if (!Array.isArray(reply) || reply.length === 0)
    throw new Error('the node serves no slot (not in a cluster yet?)');
  const nodeOf = (entry: unknown): RedisNode => {
    if (!Array.isArray(entry)) throw new Error('unexpected CLUSTER SLOTS reply');
    const host = String(entry[0] ?? '');
    return { host: host === '' || host === '?' ? asked.host : host, port: Number(entry[1]) };
  };
  return reply.map((range: unknown) => {
    if (!Array.isArray(range) || range.length < 3) throw new Error('unexpected CLUSTER SLOTS reply');
    const [from, to, primary, ...replicas] = range;
    return { from: Number(from), to: Number(to), primary: nodeOf(primary), replicas: replicas.map(nodeOf) };
  });
}
