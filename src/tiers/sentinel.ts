import { createClient, type RedisClientType } from '@redis/client';
import type { BreakerState } from '../breaker.js';
import type { RedisNode, ResolvedConfig } from '../config.js';
import { describeError, type Logger } from '../logger.js';
import {
  type L2Driver,
  type L2Entry,
  type L2Read,
  type L2State,
  L2UnavailableError,
  RedisDriver,
  tlsSocketOptions,
  withTimeout,
} from './redis.js';

/** How often the Sentinels are asked where the primary is, in ms (the `+switch-master` message is faster). */
const POLL_INTERVAL_MS = 1000;

type SentinelClient = RedisClientType;

/**
 * L2 behind Redis Sentinel. The Sentinels are only asked where the primary is; the data goes through
 * an ordinary `RedisDriver` connected to that primary, so every fail-fast promise of the standalone
 * driver (no queue, deadlines, reconnection, dead-connection replacement) holds here too. When the
 * Sentinels elect another primary, a new `RedisDriver` replaces the old one: cachette learns it from
 * the `+switch-master` message and, should that be missed, from asking again every second. During
 * the switch, calls fail as misses and `false`, like during any outage.
 */
export class SentinelDriver implements L2Driver {
  readonly sharded = false;
  readonly #config: ResolvedConfig;
  readonly #log: Logger;
  readonly #sentinels: RedisNode[];
  readonly #name: string;
  #primary: RedisDriver | undefined;
  #address: string | undefined;
  #closed = false;
  #locating: Promise<void> | undefined;
  readonly #firstLocation: Promise<void>;
  #pollTimer: NodeJS.Timeout | undefined;
  /** The connection used to ask, to the Sentinel at `#queryIndex`. */
  #query: SentinelClient | undefined;
  #queryIndex = 0;
  /** The connection subscribed to `+switch-master`. */
  #watch: SentinelClient | undefined;
  #unreachableLogged = false;
  #unknownNameLogged = false;

  constructor(config: ResolvedConfig) {
    if (config.topology.kind !== 'sentinel') throw new Error('SentinelDriver needs a sentinel topology');
    this.#config = config;
    this.#log = config.logger;
    this.#sentinels = config.topology.sentinels;
    this.#name = config.topology.name;
    const first = this.#locate();
    this.#firstLocation = withTimeout(first, config.connectTimeoutMs + 100).catch(() => {});
    void first.finally(() => this.#schedulePoll());
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

  async ready(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed) return false;
      const primary = this.#primary;
      if (primary?.state === 'ready') return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      // the primary may be replaced while waiting: wait in slices and look again
      if (primary) await primary.ready(Math.min(left, 250));
      else await sleep(Math.min(left, 50));
    }
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
    clearTimeout(this.#pollTimer);
    for (const client of [this.#query, this.#watch]) discard(client);
    this.#query = undefined;
    this.#watch = undefined;
    await this.#primary?.close();
  }

  /** The driver of the current primary; before the first answer of the Sentinels, waits for it (bounded). */
  async #current(): Promise<RedisDriver> {
    if (this.#primary) return this.#primary;
    if (!this.#closed) await this.#firstLocation;
    if (this.#primary) return this.#primary;
    throw new L2UnavailableError();
  }

  #schedulePoll(): void {
    if (this.#closed) return;
    this.#pollTimer = setTimeout(() => {
      void this.#locate().finally(() => this.#schedulePoll());
    }, POLL_INTERVAL_MS);
    this.#pollTimer.unref();
  }

  /** Asks the Sentinels, one after the other, where the primary is, and follows the answer. */
  #locate(): Promise<void> {
    this.#locating ??= this.#askSentinels().finally(() => {
      this.#locating = undefined;
    });
    return this.#locating;
  }

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

  /** `SENTINEL GET-MASTER-ADDR-BY-NAME` on the Sentinel at `index`, over a connection kept between polls. */
  async #ask(index: number): Promise<[string, string] | null> {
    const { connectTimeoutMs, socketTimeoutMs } = this.#config;
    if (this.#query && (this.#queryIndex !== index || !this.#query.isReady)) {
      discard(this.#query);
      this.#query = undefined;
    }
    if (!this.#query) {
      const client = this.#sentinelClient(this.#sentinels[index]!, false);
      this.#query = client;
      this.#queryIndex = index;
      try {
        await withTimeout(client.connect(), connectTimeoutMs);
      } catch (err) {
        discard(client);
        if (this.#query === client) this.#query = undefined;
        throw err;
      }
    }
    try {
      return await withTimeout(
        this.#query.sendCommand<[string, string] | null>(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.#name]),
        socketTimeoutMs,
      );
    } catch (err) {
      discard(this.#query);
      this.#query = undefined;
      throw err;
    }
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
    this.#primary = new RedisDriver({
      ...this.#config,
      redis: { ...redis, host: node.host, port: node.port, safeUrl: `${redis.safeUrl} (primary ${address})` },
    });
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

  #sentinelClient(node: RedisNode, reconnect: boolean): SentinelClient {
    const { redis, tlsOptions, connectTimeoutMs, reconnect: backoff, topology } = this.#config;
    const auth = topology.kind === 'sentinel' ? topology.auth : undefined;
    const client = createClient({
      ...(auth ? { username: auth.username, password: auth.password } : {}),
      socket: {
        host: node.host,
        port: node.port,
        connectTimeout: connectTimeoutMs,
        reconnectStrategy: reconnect
          ? (retries: number) => Math.min(backoff.maxDelayMs, backoff.minDelayMs * 2 ** retries)
          : false,
        ...(redis.tls ? tlsSocketOptions(node.host, tlsOptions) : {}),
      },
      disableOfflineQueue: !reconnect,
      disableClientInfo: true,
    });
    client.on('error', () => {
      // failures surface through the calls that need this connection
    });
    return client;
  }
}

function nodeName({ host, port }: RedisNode): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function discard(client: SentinelClient | undefined): void {
  if (client?.isOpen) client.destroy();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
