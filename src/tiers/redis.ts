import { isIP } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { createClient, type RedisClientType } from '@redis/client';
import type { ResolvedConfig } from '../config.js';
import { CacheError } from '../errors.js';
import { describeError, type Logger } from '../logger.js';
import { explainRefusal } from './acl.js';

/** The L2 connection state, as reported by `cache.status()`. */
export type L2State = 'connecting' | 'ready' | 'reconnecting' | 'closed';

/** One value to write: Redis key, serialised text, TTL in seconds. */
export interface L2Entry {
  key: string;
  text: string;
  ttl: number;
}

/**
 * The L2 driver: strings in and out, serialisation lives above it. Every method rejects on any
 * failure (unavailable, timeout, Redis error); the cache turns rejections into misses and `false`.
 */
export interface L2Driver {
  readonly state: L2State;
  /** Resolves `true` once connected, or `false` after `timeoutMs` (never rejects). */
  ready(timeoutMs: number): Promise<boolean>;
  /** The text under `key` (or `null`) and its remaining TTL in ms (negative when none/missing). */
  get(key: string): Promise<{ text: string | null; pttlMs: number }>;
  /** The texts under `keys` in order, with their remaining TTLs in ms, in one round trip. */
  getMany(keys: string[]): Promise<Array<{ text: string | null; pttlMs: number }>>;
  /** `SET key text EX ttl` for every entry, in one round trip. */
  set(entries: L2Entry[]): Promise<void>;
  /** `UNLINK` of the keys; resolves to how many existed. */
  delete(keys: string[]): Promise<number>;
  /** Iterates `SCAN MATCH pattern`, yielding batches of keys. */
  scan(pattern: string, count?: number): AsyncIterable<string[]>;
  /** Sends any command (admin and maintenance paths); still bounded by the operation deadline. */
  command<T>(args: string[]): Promise<T>;
  close(): Promise<void>;
}

/** Raised when L2 is not connected; the call is skipped at once instead of being queued. */
export class L2UnavailableError extends CacheError {
  constructor() {
    super('E_L2_UNAVAILABLE', 'Redis is not connected');
  }
}

/** Raised when Redis did not answer within the operation deadline. */
export class L2TimeoutError extends CacheError {
  constructor(timeoutMs: number) {
    super('E_L2_TIMEOUT', `Redis did not answer within ${timeoutMs} ms`);
  }
}

/** Consecutive timeouts after which the connection is considered dead and replaced. */
const TIMEOUTS_BEFORE_RECYCLE = 3;
/** How long `close()` waits for a graceful QUIT before dropping the socket, in ms. */
const CLOSE_GRACE_MS = 500;

type Client = RedisClientType;

/**
 * node-redis behind the L2 interface, configured to fail fast: no offline queue, a deadline on
 * every command, reconnection forever with capped backoff, a PING health check that replaces a
 * connection that stopped answering, and one log line per outage rather than one per call.
 */
export class RedisDriver implements L2Driver {
  readonly #config: ResolvedConfig;
  readonly #log: Logger;
  #client: Client;
  #state: L2State = 'connecting';
  #everConnected = false;
  #outageLogged = false;
  #consecutiveTimeouts = 0;
  #firstAttempt: Promise<void>;
  #healthTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  readonly #timeoutMs: number;

  constructor(config: ResolvedConfig) {
    this.#config = config;
    this.#log = config.logger;
    this.#timeoutMs = config.operationTimeoutMs;
    const { client, firstAttempt } = this.#open();
    this.#client = client;
    this.#firstAttempt = firstAttempt;
    this.#healthTimer = setInterval(() => void this.#healthCheck(), config.healthCheckIntervalMs);
    this.#healthTimer.unref();
  }

  get state(): L2State {
    return this.#state;
  }

  async ready(timeoutMs: number): Promise<boolean> {
    if (this.#state === 'ready') return true;
    if (this.#state === 'closed') return false;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      const client = this.#client;
      const onReady = () => done(true);
      function done(value: boolean) {
        clearTimeout(timer);
        client.off('ready', onReady);
        resolve(value);
      }
      client.on('ready', onReady);
    });
  }

  async get(key: string): Promise<{ text: string | null; pttlMs: number }> {
    const client = await this.#usable();
    // Both commands leave in the same write (node-redis pipelines commands of one tick).
    const [text, pttlMs] = await this.#track(
      Promise.all([
        client.sendCommand<string | null>(['GET', key]),
        client.sendCommand<number>(['PTTL', key]),
      ]),
    );
    return { text, pttlMs };
  }

  async getMany(keys: string[]): Promise<Array<{ text: string | null; pttlMs: number }>> {
    const client = await this.#usable();
    const texts = client.sendCommand<Array<string | null>>(['MGET', ...keys]);
    const ttls = keys.map((key) => client.sendCommand<number>(['PTTL', key]));
    const [values, pttls] = await this.#track(Promise.all([texts, Promise.all(ttls)]));
    return values.map((text, i) => ({ text, pttlMs: pttls[i] ?? -2 }));
  }

  async set(entries: L2Entry[]): Promise<void> {
    const client = await this.#usable();
    // SET … EX is one atomic command (S5): never SET followed by EXPIRE.
    const writes = entries.map(({ key, text, ttl }) =>
      client.sendCommand(['SET', key, text, 'EX', String(ttl)]),
    );
    await this.#track(Promise.all(writes));
  }

  async delete(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const client = await this.#usable();
    return this.#track(client.sendCommand<number>(['UNLINK', ...keys]));
  }

  async *scan(pattern: string, count = 1000): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const client = await this.#usable();
      const [next, keys] = await this.#track(
        client.sendCommand<[string, string[]]>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(count)]),
      );
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }

  async command<T>(args: string[]): Promise<T> {
    const client = await this.#usable();
    return this.#track(client.sendCommand<T>(args));
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'closed';
    clearInterval(this.#healthTimer);
    const client = this.#client;
    client.removeAllListeners('ready');
    if (client.isReady) {
      // QUIT lets Redis finish what it has; bounded, because a paused Redis never answers.
      const quit = client.close().catch(() => {});
      const timer = setTimeout(() => client.destroy(), CLOSE_GRACE_MS);
      await quit;
      clearTimeout(timer);
    }
    if (client.isOpen) client.destroy();
  }

  /** The client if it can take a command now; before the first connection attempt ends, waits for it. */
  async #usable(): Promise<Client> {
    if (this.#state === 'ready') return this.#client;
    if (this.#state === 'connecting' && !this.#everConnected) {
      await this.#firstAttempt;
      // the state may have changed while waiting
      if (this.state === 'ready') return this.#client;
    }
    throw new L2UnavailableError();
  }

  /**
   * Bounds a command by the operation deadline and watches its outcome to spot a connection that
   * has stopped answering. node-redis's own `timeout` only covers commands not yet written to the
   * socket, so the deadline is ours. A late reply is read and dropped by node-redis, keeping the
   * protocol in step.
   */
  #track<T>(pending: Promise<T>): Promise<T> {
    return withTimeout(pending, this.#timeoutMs, this.#onTimeout, this.#onAnswer);
  }

  readonly #onAnswer = (): void => {
    this.#consecutiveTimeouts = 0;
  };

  readonly #onTimeout = (): void => {
    if (!this.#config.retryOnTimeout) return;
    this.#consecutiveTimeouts++;
    if (this.#consecutiveTimeouts >= TIMEOUTS_BEFORE_RECYCLE) this.#recycle('consecutive timeouts');
  };

  async #healthCheck(): Promise<void> {
    if (this.#state !== 'ready') return;
    const client = this.#client;
    try {
      await withTimeout(client.sendCommand(['PING']), this.#config.socketTimeoutMs);
    } catch (err) {
      if (client === this.#client && this.#state === 'ready') {
        this.#recycle(`health check failed (${describeError(err)})`);
      }
    }
  }

  /** Drops a connection that stopped answering and opens a fresh one. */
  #recycle(reason: string): void {
    if (this.#state === 'closed') return;
    this.#consecutiveTimeouts = 0;
    this.#log.warn({ reason, redis: this.#config.redis.safeUrl }, 'cachette: replacing the Redis connection');
    const old = this.#client;
    old.removeAllListeners();
    old.on('error', () => {});
    // destroy() rejects whatever the old socket still had in flight; those callers already timed out
    old.destroy();
    this.#markDown(new Error(reason));
    this.#client = this.#open().client;
  }

  #open(): { client: Client; firstAttempt: Promise<void> } {
    const { redis, tlsOptions, connectTimeoutMs, healthCheckIntervalMs, reconnect } = this.#config;
    const client: Client = createClient({
      socket: {
        host: redis.host,
        port: redis.port,
        connectTimeout: connectTimeoutMs,
        keepAlive: true,
        noDelay: true,
        reconnectStrategy: (retries: number) => {
          const exp = Math.min(reconnect.maxDelayMs, reconnect.minDelayMs * 2 ** Math.min(retries, 20));
          return Math.round(exp / 2 + (Math.random() * exp) / 2);
        },
        ...(redis.tls ? tlsSocketOptions(redis.host, tlsOptions) : {}),
      },
      username: redis.username,
      password: redis.password,
      database: redis.db,
      disableOfflineQueue: true,
      pingInterval: healthCheckIntervalMs,
      disableClientInfo: true,
    });

    let settleFirst: () => void = () => {};
    const firstAttempt = new Promise<void>((resolve) => {
      settleFirst = resolve;
    });
    const connectTimer = setTimeout(() => settleFirst(), connectTimeoutMs + 100);
    connectTimer.unref();

    client.on('ready', () => {
      clearTimeout(connectTimer);
      settleFirst();
      if (this.#client !== client || this.#state === 'closed') return;
      this.#markUp();
    });
    client.on('error', (err: unknown) => {
      settleFirst();
      if (this.#client !== client || this.#state === 'closed') return;
      this.#markDown(err);
    });
    client.on('reconnecting', () => {
      if (this.#client === client && this.#state !== 'closed') {
        this.#state = this.#everConnected ? 'reconnecting' : 'connecting';
      }
    });
    client.connect().catch(() => {
      // connect() retries on its own until close(); a rejection only reports that close
    });
    return { client, firstAttempt };
  }

  #markUp(): void {
    this.#state = 'ready';
    this.#consecutiveTimeouts = 0;
    if (this.#outageLogged) {
      this.#log.info({ redis: this.#config.redis.safeUrl }, 'cachette: Redis connection restored');
    } else if (!this.#everConnected) {
      this.#log.debug({ redis: this.#config.redis.safeUrl }, 'cachette: connected to Redis');
    }
    this.#everConnected = true;
    this.#outageLogged = false;
  }

  #markDown(err: unknown): void {
    if (this.#state === 'ready') this.#state = 'reconnecting';
    if (!this.#outageLogged) {
      this.#outageLogged = true;
      this.#log.warn(
        {
          redis: this.#config.redis.safeUrl,
          err: redactSecrets(describeError(err), this.#config.redis.password),
        },
        'cachette: Redis unavailable; serving from memory and the application until it is back',
      );
    }
  }
}

/**
 * node-redis socket options for TLS. SNI carries a host name only (RFC 6066): for an IP address it
 * is left out and Node checks the certificate against the IP itself.
 */
export function tlsSocketOptions(host: string, extra: TlsOptions | undefined) {
  return { tls: true as const, ...(isIP(host) ? {} : { servername: host }), ...extra };
}

/** Removes a secret from a message in case a client error echoes it. */
export function redactSecrets(message: string, secret: string | undefined): string {
  return secret ? message.split(secret).join('***') : message;
}

/** Rejects with `L2TimeoutError` if `pending` has not settled within `timeoutMs`; the hooks see which happened. */
export function withTimeout<T>(
  pending: Promise<T>,
  timeoutMs: number,
  onTimeout?: () => void,
  onAnswer?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new L2TimeoutError(timeoutMs));
      onTimeout?.();
    }, timeoutMs);
    pending.then(
      (result) => {
        clearTimeout(timer);
        onAnswer?.();
        resolve(result);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(explainRefusal(err));
      },
    );
  });
}
