import type { RedisNode, ResolvedConfig } from '../../config/options.js';
import { L2UnavailableError } from '../../errors.js';
import { describeError, type Logger } from '../../logger.js';
import type {
  BreakerState,
  ConnectionHooks,
  L2Driver,
  L2Entry,
  L2Read,
  L2State,
  OwedWork,
  PendingStatus,
} from '../driver.js';
import { Keyspace } from '../keyspace.js';
import { FailedCalls, type OutageLog } from '../outage.js';
import { type PendingWork, pendingWorkFor } from '../pending/work.js';
import { commandOutageLog } from './data-node.js';
import { RedisDriver } from './driver.js';
import { discard, nodeName, Poll, type SideClient, SideQuery, sideClient, untilReady } from './nodes.js';
import { withTimeout } from './outcome.js';

/** How often the Sentinels are asked where the primary is, in ms (the `+switch-master` message is faster). */
const POLL_INTERVAL_MS = 1000;

/**
 * L2 behind Redis Sentinel. The Sentinels are only asked where the primary is; the data goes through
 * an ordinary `RedisDriver` connected to that primary, so every fail-fast promise of the standalone
 * driver (no queue, deadlines, reconnection, dead-connection replacement) holds here too. When the
 * Sentinels elect another primary, a new `RedisDriver` replaces the old one: cachette learns it from
 * the `+switch-master` message and, should that be missed, from asking again every second. During
 * the switch, calls fail as misses and `false`, like during any outage. What failed to reach the
 * old primary is owed to the new one, which applies it before its connection counts as ready.
 */
export class SentinelDriver implements L2Driver {
  readonly sharded = false;
  readonly keyspace: Keyspace;
  readonly #config: ResolvedConfig;
  readonly #log: Logger;
  readonly #sentinels: RedisNode[];
  readonly #name: string;
  #primary: RedisDriver | undefined;
  #address: string | undefined;
  #closed = false;
  /** Asks the Sentinels where the primary is every second (the `+switch-master` message is faster). */
  readonly #poll: Poll;
  readonly #firstLocation: Promise<void>;
  /** The connection that asks where the primary is, kept between polls while it works. */
  readonly #query: SideQuery;
  /** The Sentinel asked last: the next poll starts with it. */
  #queryIndex = 0;
  /** The connection subscribed to `+switch-master`. */
  #watch: SideClient | undefined;
  #unreachableLogged = false;
  #unknownNameLogged = false;

  readonly #hooks: ConnectionHooks | undefined;
  readonly #pending: PendingWork;
  readonly #failedCalls = new FailedCalls();
  /** One outage log for the primary, whichever server it is: an outage may end on the new one. */
  readonly #outage: OutageLog<unknown>;

  /** `hooks`: coherence's, given to the driver of each primary in turn. */
  constructor(config: ResolvedConfig, hooks?: ConnectionHooks) {
    if (config.topology.kind !== 'sentinel') throw new Error('SentinelDriver needs a sentinel topology');
    this.#config = config;
    this.#hooks = hooks;
    this.#log = config.logger;
    this.keyspace = new Keyspace(config.keyPrefix);
    this.#sentinels = config.topology.sentinels;
    this.#name = config.topology.name;
    this.#pending = pendingWorkFor(config, () => (this.#address === undefined ? undefined : [this.#address]));
    this.#outage = commandOutageLog(this.#log, config.redis.safeUrl, {
      failedCalls: this.#failedCalls,
      pending: this.#pending,
    });
    this.#query = new SideQuery((node) => this.#sentinelClient(node, false), config.connectTimeoutMs);
    this.#poll = new Poll(() => this.#askSentinels(), POLL_INTERVAL_MS);
    this.#firstLocation = withTimeout(this.#poll.start(), config.connectTimeoutMs + 100).catch(() => {});
  }

  get state(): L2State {
    if (this.#closed) return 'closed';
    return this.#primary?.state ?? 'connecting';
  }

  /** The breaker of the current primary's driver (a new primary starts closed). */
  get breaker(): BreakerState {
    return this.#primary?.breaker ?? 'closed';
  }

  get breakerOpens(): number {
    return this.#primary?.breakerOpens ?? 0;
  }

  get pending(): PendingStatus {
    return this.#pending.status();
  }

  get failedCalls(): FailedCalls {
    return this.#failedCalls;
  }

  owe(work: OwedWork): void {
    if (this.#pending.add(work) !== 'none') this.#primary?.applyOwedSoon();
  }

  async ready(timeoutMs: number): Promise<boolean> {
    return untilReady(
      {
        closed: () => this.#closed,
        ready: () => this.#primary?.state === 'ready',
        waitingOn: () => this.#primary,
      },
      timeoutMs,
    );
  }

  async get(key: string): Promise<L2Read> {
    return (await this.#current()).get(key);
  }

  async getMany(keys: string[]): Promise<L2Read[]> {
    return (await this.#current()).getMany(keys);
  }

  async set(entries: L2Entry[]): Promise<void> {
    return (await this.#current()).set(entries);
  }

  async delete(keys: string[]): Promise<number> {
    return (await this.#current()).delete(keys);
  }

  async *scan(pattern: string, count?: number): AsyncIterable<string[]> {
    yield* (await this.#current()).scan(pattern, count);
  }

  async scanPage(cursor: string, pattern: string, count: number): Promise<[string, string[]]> {
    return (await this.#current()).scanPage(cursor, pattern, count);
  }

  async command<T>(args: string[]): Promise<T> {
    return (await this.#current()).command<T>(args);
  }

  async commandOnPrimaries<T>(args: string[]): Promise<T[]> {
    return (await this.#current()).commandOnPrimaries<T>(args);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#poll.stop();
    this.#query.close();
    discard(this.#watch);
    this.#watch = undefined;
    await this.#primary?.close();
    this.#outage.close();
    this.#pending.abandon();
  }

  /** The driver of the current primary; before the first answer of the Sentinels, waits for it (bounded). */
  async #current(): Promise<RedisDriver> {
    if (this.#primary) return this.#primary;
    if (!this.#closed) await this.#firstLocation;
    if (this.#primary) return this.#primary;
    throw new L2UnavailableError();
  }

  /** Asks the Sentinels, one after the other, where the primary is, and follows the answer. */
  async #askSentinels(): Promise<void> {
    const count = this.#sentinels.length;
    let lastError = 'no Sentinel configured';
    for (let i = 0; i < count && !this.#closed; i++) {
      const index = (this.#queryIndex + i) % count;
      let reply: [string, string] | null;
      try {
        reply = await this.#ask(index);
      } catch (err) {
        lastError = `${nodeName(this.#sentinels[index]!)}: ${describeError(err)}`;
        continue;
      }
      if (reply === null) {
        if (!this.#unknownNameLogged) {
          this.#unknownNameLogged = true;
          this.#log.error(
            { sentinel: nodeName(this.#sentinels[index]!), name: this.#name },
            `cachette: the Sentinel does not monitor a primary named ${JSON.stringify(this.#name)}; check REDIS_SENTINEL_MASTER`,
          );
        }
        continue;
      }
      this.#unreachableLogged = false;
      this.#follow({ host: reply[0], port: Number(reply[1]) });
      this.#watchSwitches(index);
      return;
    }
    if (!this.#unreachableLogged && !this.#closed) {
      this.#unreachableLogged = true;
      this.#log.warn(
        { redis: this.#config.redis.safeUrl, err: lastError },
        'cachette: no Sentinel told where the primary is; serving misses until one does',
      );
    }
  }

  /** `SENTINEL GET-MASTER-ADDR-BY-NAME` on the Sentinel at `index`. */
  #ask(index: number): Promise<[string, string] | null> {
    this.#queryIndex = index;
    return this.#query.send(
      this.#sentinels[index]!,
      ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.#name],
      this.#config.socketTimeoutMs,
    );
  }

  /** Subscribes (once) to `+switch-master` on a Sentinel that answered: the fastest news of a failover. */
  #watchSwitches(index: number): void {
    if (this.#watch || this.#closed) return;
    const client = this.#sentinelClient(this.#sentinels[index]!, true);
    this.#watch = client;
    client
      .connect()
      .then(() =>
        client.subscribe('+switch-master', (message) => {
          // "<name> <old-ip> <old-port> <new-ip> <new-port>"
          const [name, , , host, port] = message.split(' ');
          if (name === this.#name && host && port) this.#follow({ host, port: Number(port) });
        }),
      )
      .catch(() => {
        // the poll covers a Sentinel that cannot be watched
      });
  }

  /** Points the data path at `node` if it is not there already; the old primary's driver is closed. */
  #follow(node: RedisNode): void {
    const address = nodeName(node);
    if (this.#closed || address === this.#address) return;
    const previous = this.#primary;
    const { redis } = this.#config;
    this.#primary = new RedisDriver(
      {
        ...this.#config,
        redis: {
          ...redis,
          host: node.host,
          port: node.port,
          safeUrl: `${redis.safeUrl} (primary ${address})`,
        },
      },
      this.#hooks,
      {
        address,
        pending: this.#pending,
        owns: () => true,
        sharded: false,
        failedCalls: this.#failedCalls,
        outage: this.#outage,
      },
    );
    this.#address = address;
    if (previous) {
      this.#log.info(
        { redis: redis.safeUrl, primary: address },
        `cachette: Sentinel moved the primary of ${this.#name} to ${address}`,
      );
      void previous.close();
    } else {
      this.#log.debug({ redis: redis.safeUrl, primary: address }, 'cachette: Sentinel primary located');
    }
  }

  #sentinelClient(node: RedisNode, reconnect: boolean): SideClient {
    const { topology } = this.#config;
    return sideClient(this.#config, node, {
      auth: topology.kind === 'sentinel' ? topology.auth : undefined,
      reconnect,
    });
  }
}
