import { createClient, type RedisClientType } from '@redis/client';
import type { ResolvedConfig } from '../../config/options.js';
import { describeError, type Logger } from '../../logger.js';
import type { CommandConnection, ConnectionHooks, L2State } from '../driver.js';
import { RedisClock } from './clock.js';
import { isAnswer, isRefusal, type OutcomeHook, tlsSocketOptions, withTimeout } from './outcome.js';
import { WRITE_SCRIPT } from './write-scripts.js';

export type Client = RedisClientType;

/** Consecutive timeouts after which the connection is considered dead and replaced. */
const TIMEOUTS_BEFORE_RECYCLE = 3;
/** How long `close()` waits for a graceful QUIT before dropping the socket, in ms. */
const CLOSE_GRACE_MS = 500;
/**
 * Hard cap on commands queued or awaiting a reply on one connection. The breaker keeps the queue
 * short during an outage; this only stops a pathological caller from growing it without bound.
 */
const MAX_QUEUED_COMMANDS = 10_000;

/** What the connection tells the driver that owns it (the breaker and the outage log live there). */
export interface ConnectionEvents {
  /** Hears the outcome of the checks a new connection runs (they feed the breaker). */
  outcome: OutcomeHook;
  /** The connection passed its checks; `inTime`: it answered them within the operation deadline. */
  up(inTime: boolean): void;
  /** The connection failed, or is being replaced. */
  down(err: unknown): void;
  /** The connection stopped answering and is being replaced, for `reason`. */
  replacing(reason: string): void;
  /** Whether the periodic health check should run now (while the breaker is open, its probes do the job). */
  checking(): boolean;
  /** Redis refused the write script for good: writes are plain SETs from now on. */
  unguarded(err: unknown): void;
  /**
   * The last step before a new connection counts as ready: what the server is owed (l2/pending/) is
   * applied on `client`. A rejection keeps the connection not ready (retried like a failed check).
   */
  recover(client: Client): Promise<void>;
}

/**
 * The command connection to one Redis server: node-redis configured to fail fast (no offline
 * queue, no per-command timer: the driver's deadlines bound every command), reconnection forever
 * with capped backoff, a health check that replaces a connection that stopped answering, and the
 * replacement of a connection after consecutive timeouts.
 *
 * A connection counts as ready only after it answered `TIME` (which also calibrates the clock the
 * write deadlines use), loaded the write script, ran the coherence hooks' `prepare`, and applied
 * what the server is owed.
 */
export class RedisConnection {
  readonly clock = new RedisClock();
  readonly #config: ResolvedConfig;
  readonly #log: Logger;
  readonly #hooks: ConnectionHooks | undefined;
  readonly #events: ConnectionEvents;
  readonly #timeoutMs: number;
  readonly #readyWaiters = new Set<(ready: boolean) => void>();
  readonly #connections = new WeakMap<Client, CommandConnection>();
  #client: Client;
  #state: L2State = 'connecting';
  #everConnected = false;
  #consecutiveTimeouts = 0;
  #firstAttempt: Promise<void>;
  #healthTimer: NodeJS.Timeout | undefined;
  #verifyTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  /** `false` once Redis refused the write script (ACL without scripting): plain SETs. */
  #guardedWrites = true;

  constructor(config: ResolvedConfig, hooks: ConnectionHooks | undefined, events: ConnectionEvents) {
    this.#config = config;
    this.#log = config.logger;
    this.#hooks = hooks;
    this.#events = events;
    this.#timeoutMs = config.operationTimeoutMs;
    const { client, firstAttempt } = this.#open();
    this.#client = client;
    this.#firstAttempt = firstAttempt;
    this.#healthTimer = setInterval(() => void this.#healthCheck(), config.healthCheckIntervalMs);
    this.#healthTimer.unref();
  }

  get client(): Client {
    return this.#client;
  }

  get state(): L2State {
    return this.#state;
  }

  get everConnected(): boolean {
    return this.#everConnected;
  }

  /** Settles when the first connection attempt ended, whatever its outcome (bounded by the connect timeout). */
  get firstAttempt(): Promise<void> {
    return this.#firstAttempt;
  }

  /** Whether writes carry their deadline (the write script); `false` when Redis refused scripts. */
  get guardedWrites(): boolean {
    return this.#guardedWrites;
  }

  /** Resolves `true` once connected, or `false` after `timeoutMs` or on close (never rejects). */
  async ready(timeoutMs: number): Promise<boolean> {
    if (this.#state === 'ready') return true;
    if (this.#state === 'closed') return false;
    return new Promise<boolean>((resolve) => {
      const done = (value: boolean) => {
        clearTimeout(timer);
        this.#readyWaiters.delete(done);
        resolve(value);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      this.#readyWaiters.add(done);
    });
  }

  /** A command answered: the run of timeouts that replaces the connection starts again. */
  answered(): void {
    this.#consecutiveTimeouts = 0;
  }

  /** A command timed out; a run of them replaces the connection (`retryOnTimeout`). */
  timedOut(reason: string): void {
    if (!this.#config.retryOnTimeout) return;
    this.#consecutiveTimeouts++;
    if (this.#consecutiveTimeouts >= TIMEOUTS_BEFORE_RECYCLE) this.recycle(reason);
  }

  /** Asks Redis something cheap within `timeoutMs`: TIME (recalibrating the clock), or PING when writes are unguarded. */
  async checkAnswer(timeoutMs: number, onOutcome?: OutcomeHook, client = this.#client): Promise<void> {
    if (this.#guardedWrites) await this.clock.calibrate(client, timeoutMs, onOutcome);
    else await withTimeout(client.sendCommand(['PING']), timeoutMs, onOutcome);
  }

  /** Drops a connection that stopped answering and opens a fresh one. */
  recycle(reason: string): void {
    if (this.#state === 'closed') return;
    this.#consecutiveTimeouts = 0;
    this.#events.replacing(reason);
    this.#markDown(new Error(`replacing the Redis connection: ${reason}`));
    const old = this.#client;
    old.removeAllListeners();
    old.on('error', () => {});
    // destroy() rejects whatever the old socket still had in flight; those callers already timed
    // out, and the write script stops any of their writes Redis still holds from landing late
    old.destroy();
    this.#client = this.#open().client;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'closed';
    clearInterval(this.#healthTimer);
    clearTimeout(this.#verifyTimer);
    for (const waiter of [...this.#readyWaiters]) waiter(false);
    const client = this.#client;
    this.#loseConnection(client);
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

  /**
   * Turns a node-redis connection into a ready one: clock calibrated, write script loaded (or, if
   * the Redis user may not run them, plain writes from now on and a PING instead), coherence
   * prepared. An error reply (NOAUTH, LOADING…) or a timeout leaves it not ready and retries on
   * the probe interval; commands fail fast meanwhile.
   */
  async #verify(client: Client): Promise<void> {
    clearTimeout(this.#verifyTimer);
    if (client !== this.#client || this.#state === 'closed' || !client.isReady) return;
    const timeoutMs = this.#config.connectTimeoutMs;
    const onOutcome = this.#events.outcome;
    const startedAt = performance.now();
    let inTime = false;
    try {
      if (this.#guardedWrites) {
        try {
          await Promise.all([
            this.clock.calibrate(client, timeoutMs, onOutcome),
            withTimeout(client.sendCommand(['SCRIPT', 'LOAD', WRITE_SCRIPT]), timeoutMs),
          ]);
        } catch (err) {
          if (!isRefusal(err)) throw err;
          this.#guardedWrites = false;
          this.#events.unguarded(err);
        }
      }
      if (!this.#guardedWrites) await this.checkAnswer(timeoutMs, onOutcome, client);
      const connection = this.#connections.get(client);
      if (this.#hooks && connection) await this.#hooks.prepare(connection);
      // whether it answered fast enough is told by its checks, not by how much it was owed
      inTime = performance.now() - startedAt <= this.#timeoutMs;
      await this.#events.recover(client);
    } catch (err) {
      // the state may have changed while waiting
      if (client !== this.#client || this.state === 'closed') return;
      this.#markDown(err);
      this.#verifyTimer = setTimeout(() => void this.#verify(client), this.#config.breaker.probeIntervalMs);
      this.#verifyTimer.unref();
      return;
    }
    if (client === this.#client && this.state !== 'closed' && client.isReady) {
      this.#markUp(inTime);
    }
  }

  async #healthCheck(): Promise<void> {
    if (this.#state !== 'ready' || !this.#events.checking()) return;
    const client = this.#client;
    try {
      await this.checkAnswer(this.#config.socketTimeoutMs, undefined, client);
    } catch (err) {
      if (client === this.#client && this.#state === 'ready' && !isAnswer(err)) {
        this.recycle(`health check failed (${describeError(err)})`);
      }
    }
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
      commandsQueueMaxLength: MAX_QUEUED_COMMANDS,
      pingInterval: healthCheckIntervalMs,
      disableClientInfo: true,
      // every command already carries the driver's deadline; node-redis's default 5 s one would add
      // an AbortSignal, a timer and two listeners per command, a measurable part of an L2 hit
      commandOptions: { timeout: 0 },
    });

    if (this.#hooks) {
      this.#connections.set(client, {
        host: redis.host,
        port: redis.port,
        send: <T>(args: string[]) => withTimeout(client.sendCommand<T>(args), connectTimeoutMs),
      });
    }

    let settleFirst: () => void = () => {};
    const firstAttempt = new Promise<void>((resolve) => {
      settleFirst = resolve;
    });
    const connectTimer = setTimeout(() => settleFirst(), connectTimeoutMs + 100);
    connectTimer.unref();

    client.on('ready', () => {
      void this.#verify(client).finally(() => {
        clearTimeout(connectTimer);
        settleFirst();
      });
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

  #markUp(inTime: boolean): void {
    this.#state = 'ready';
    this.#consecutiveTimeouts = 0;
    const first = !this.#everConnected;
    this.#everConnected = true;
    if (first) this.#log.debug({ redis: this.#config.redis.safeUrl }, 'cachette: connected to Redis');
    this.#events.up(inTime);
    for (const waiter of [...this.#readyWaiters]) waiter(true);
  }

  #markDown(err: unknown): void {
    this.#loseConnection(this.#client);
    if (this.#state === 'ready') this.#state = 'reconnecting';
    this.#events.down(err);
  }

  /** Tells coherence that whatever it enabled on `client`'s server-side connection is gone. */
  #loseConnection(client: Client): void {
    const connection = this.#connections.get(client);
    if (this.#hooks && connection) this.#hooks.lost(connection);
  }
}
