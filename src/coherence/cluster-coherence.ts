import type { ResolvedConfig } from '../config/options.js';
import type { NodeConnectionHooks } from '../l2/driver.js';
import type { Coherence } from './coherence.js';
import type { CoherenceStatus, CoherenceTarget, L1Coherence } from './l1-coherence.js';

/**
 * Coherence on Redis Cluster: one `Coherence` per primary. A node reports changes of its own keys
 * only, and `CLIENT TRACKING … REDIRECT` must name a subscriber on the same node, so each primary
 * gets its own subscriber and its own tracking; the cluster driver asks for the hooks of a primary
 * when it connects to it (`hooksFor`) and retires them when the primary is gone (failover).
 *
 * Invalidations flow when they flow from every primary: until then L1 copies live at most
 * `degradedL1TtlMs`, and a primary whose invalidations come back empties L1 (what it reported
 * meanwhile is lost), as with one server. In `'pubsub'` mode each node's subscriber receives every
 * message (Redis Cluster forwards PUBLISH to all nodes): evicting a key twice is harmless.
 */
export class ClusterCoherence implements L1Coherence {
  readonly #config: ResolvedConfig;
  readonly #create: () => Coherence;
  readonly #nodes = new Map<string, Coherence>();
  #target: CoherenceTarget | undefined;
  #closed = false;

  /** `create()` makes the coherence of one primary (a `Coherence` of this configuration). */
  constructor(config: ResolvedConfig, create: () => Coherence) {
    this.#config = config;
    this.#create = create;
  }

  /** Connects coherence to the L1 it keeps coherent. */
  attach(target: CoherenceTarget): void {
    this.#target = target;
    for (const node of this.#nodes.values()) node.attach(target);
  }

  /** The connection hooks of the primary at `address` (a Coherence of its own), until `retire()`. */
  readonly hooksFor = (address: string): NodeConnectionHooks => {
    this.#nodes.get(address)?.close();
    const node = this.#create();
    if (this.#target) node.attach(this.#target);
    if (this.#closed) node.close();
    else this.#nodes.set(address, node);
    return {
      prepare: (connection) => node.prepare(connection),
      lost: (connection) => node.lost(connection),
      get announcing() {
        return node.announcing;
      },
      announcement: (keys) => node.announcement(keys),
      retire: () => {
        node.close();
        if (this.#nodes.get(address) === node) this.#nodes.delete(address);
        // its slots moved (a failover): changes there are reported by the new primary only once its
        // own tracking is on, so what L1 holds lives at most the degraded TTL, as during any outage
        if (!this.#closed) this.#target?.capL1Ttl(this.#config.coherence.degradedL1TtlMs);
      },
    };
  };

  /** The longest an L1 copy may live now, in ms: unbounded while every primary's invalidations flow. */
  get maxL1TtlMs(): number {
    if (this.#nodes.size === 0) return this.#config.coherence.degradedL1TtlMs;
    let ttlMs = Number.POSITIVE_INFINITY;
    for (const node of this.#nodes.values()) ttlMs = Math.min(ttlMs, node.maxL1TtlMs);
    return ttlMs;
  }

  /** Every primary's status together: connected when all are, counters summed. */
  status(): CoherenceStatus {
    const statuses = [...this.#nodes.values()].map((node) => node.status());
    const sum = (field: 'messages' | 'invalidatedKeys' | 'l1Flushes' | 'disconnects') =>
      statuses.reduce((total, status) => total + status[field], 0);
    const configured = this.#config.coherence.mode === 'pubsub' ? 'pubsub' : 'tracking';
    return {
      // a primary that refused tracking fell back to pub/sub, which then applies to the whole
      mode: statuses.some((status) => status.mode === 'pubsub') ? 'pubsub' : configured,
      connected: statuses.length > 0 && statuses.every((status) => status.connected),
      messages: sum('messages'),
      invalidatedKeys: sum('invalidatedKeys'),
      l1Flushes: sum('l1Flushes'),
      disconnects: sum('disconnects'),
      degradedL1TtlMs: this.#config.coherence.degradedL1TtlMs,
    };
  }

  close(): void {
    this.#closed = true;
    for (const node of this.#nodes.values()) node.close();
    this.#nodes.clear();
  }
}
