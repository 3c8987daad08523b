import { createClient, type RedisClientType } from '@redis/client';
import type { RedisNode, ResolvedConfig } from '../../config/options.js';
import { tlsSocketOptions, withTimeout } from './outcome.js';

/**
 * What the Sentinel and Cluster drivers share: they find their data nodes through side connections
 * of their own (to a Sentinel, to any cluster node), then talk to each data node through a
 * standalone `RedisDriver`.
 */

/** A connection that only asks where the data is (`SENTINEL GET-MASTER-ADDR-BY-NAME`, `CLUSTER SLOTS`). */
export type SideClient = RedisClientType;

export interface SideClientOptions {
  /** Credentials (a cluster node takes the data nodes' own, a Sentinel its own); none when `undefined`. */
  auth: { username?: string | undefined; password?: string | undefined } | undefined;
  /** Reconnect with the configured backoff (a subscription kept open); otherwise one attempt, no queue. */
  reconnect: boolean;
}

/** A side connection to `node`, with the configured TLS and connect timeout; its errors surface through the calls that use it. */
export function sideClient(config: ResolvedConfig, node: RedisNode, options: SideClientOptions): SideClient {
  const { redis, tlsOptions, connectTimeoutMs, reconnect: backoff } = config;
  const { username, password } = options.auth ?? {};
  const client: SideClient = createClient({
    socket: {
      host: node.host,
      port: node.port,
      connectTimeout: connectTimeoutMs,
      reconnectStrategy: options.reconnect
        ? (retries: number) => Math.min(backoff.maxDelayMs, backoff.minDelayMs * 2 ** retries)
        : false,
      ...(redis.tls ? tlsSocketOptions(node.host, tlsOptions) : {}),
    },
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    disableOfflineQueue: !options.reconnect,
    disableClientInfo: true,
  });
  client.on('error', () => {
    // failures surface through the calls that need this connection
  });
  return client;
}

/** Closes a side connection at once, if it is open. */
export function discard(client: SideClient | undefined): void {
  if (client?.isOpen) client.destroy();
}

/** `host:port`, with brackets around an IPv6 host. */
export function nodeName({ host, port }: RedisNode): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** What `untilReady` watches: a driver whose data nodes may change while it waits. */
export interface ReadyWatch {
  closed(): boolean;
  ready(): boolean;
  /** A data node's driver to wait on (one still connecting); `undefined` when there is none yet. */
  waitingOn(): { ready(timeoutMs: number): Promise<boolean> } | undefined;
}

/**
 * Resolves `true` once `watch` is ready, `false` when `timeoutMs` passes or it closes first. The
 * data nodes may change while waiting (a failover, a new slot map): it waits in slices and looks again.
 */
export async function untilReady(watch: ReadyWatch, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (watch.closed()) return false;
    if (watch.ready()) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const waiting = watch.waitingOn();
    if (waiting) await waiting.ready(Math.min(left, 250));
    else await new Promise((resolve) => setTimeout(resolve, Math.min(left, 50)).unref());
  }
}

/**
 * One side connection kept between questions (a poll every second must not open one each time),
 * replaced when the next question goes to another node or the connection stopped working.
 */
export class SideQuery {
  readonly #open: (node: RedisNode) => SideClient;
  readonly #connectTimeoutMs: number;
  #client: SideClient | undefined;
  #address: string | undefined;

  constructor(open: (node: RedisNode) => SideClient, connectTimeoutMs: number) {
    this.#open = open;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /** The node the kept connection goes (or last went) to. */
  get address(): string | undefined {
    return this.#address;
  }

  /** Sends `args` to `node` within `timeoutMs` (after connecting within the connect timeout); a failure drops the connection. */
  async send<T>(node: RedisNode, args: string[], timeoutMs: number): Promise<T> {
    const address = nodeName(node);
    if (this.#client && (this.#address !== address || !this.#client.isReady)) this.close();
    if (!this.#client) {
      const client = this.#open(node);
      this.#client = client;
      this.#address = address;
      try {
        await withTimeout(client.connect(), this.#connectTimeoutMs);
      } catch (err) {
        discard(client);
        if (this.#client === client) this.#client = undefined;
        throw err;
      }
    }
    try {
      return await withTimeout(this.#client.sendCommand<T>(args), timeoutMs);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  close(): void {
    discard(this.#client);
    this.#client = undefined;
  }
}

/**
 * Where the data nodes are, asked again `intervalMs` after each answer and on demand in between
 * (a failed call, a switch message): one question at a time, a demand during one joins it.
 * `ask` must not reject: it logs and keeps the last answer instead.
 */
export class Poll {
  readonly #ask: () => Promise<void>;
  readonly #intervalMs: number;
  #asking: Promise<void> | undefined;
  #lastAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(ask: () => Promise<void>, intervalMs: number) {
    this.#ask = ask;
    this.#intervalMs = intervalMs;
  }

  /** Asks at once and polls from then on; resolves with the first answer. */
  start(): Promise<void> {
    const first = this.now();
    void first.finally(() => this.#schedule());
    return first;
  }

  /** Asks now, or joins the question in flight. */
  now(): Promise<void> {
    this.#asking ??= this.#ask().finally(() => {
      this.#asking = undefined;
      this.#lastAt = performance.now();
    });
    return this.#asking;
  }

  /** Whether a question is in flight. */
  get asking(): boolean {
    return this.#asking !== undefined;
  }

  /** Milliseconds since the last answer (`Infinity` before the first). */
  get sinceLastMs(): number {
    return performance.now() - this.#lastAt;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.now().finally(() => this.#schedule());
    }, this.#intervalMs);
    this.#timer.unref();
  }
}
