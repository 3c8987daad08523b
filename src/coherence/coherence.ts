import { randomUUID } from 'node:crypto';
import type { ResolvedConfig } from '../config/options.js';
import type { CommandConnection, HooksFor, NodeConnectionHooks } from '../l2/driver.js';
import { OutageLog } from '../l2/outage.js';
import { isRefusal } from '../l2/redis/outcome.js';
import type { Logger } from '../logger.js';
import type { CoherenceStatus, CoherenceTarget, L1Coherence } from './l1-coherence.js';
import type { RespValue } from './resp.js';
import { Subscriber, type Subscription } from './subscriber.js';

/** The channel Redis sends client-side caching invalidations on (RESP2 `REDIRECT`). */
const INVALIDATE_CHANNEL = '__redis__:invalidate';

/**
 * Keeps this process's L1 coherent with every other writer of the shared Redis.
 *
 * `tracking`: Redis server-assisted client-side caching, in its default mode. Every command
 * connection enables `CLIENT TRACKING on REDIRECT <subscriber> NOLOOP` before it counts as ready.
 * Redis then remembers the keys each connection read, and reports the next change of any of them
 * (by anyone: another worker, the Python service, redis-cli, expiry, eviction, FLUSHDB) on a
 * separate subscriber connection, except the changes made by the connection itself, which updates
 * its L1 itself. Every way a value reaches L1 reads its key on the command connection first: an L2
 * read with `GET`, and a write with the `EXISTS` its script runs right after the `SET` (reads
 * inside a script count for the connection that called it). So a process hears only of the keys it may
 * hold, not of every write under the prefixes, and never of its own writes.
 * `pubsub`: where tracking is refused (ACL, managed Redis), writes and deletes made through
 * cachette PUBLISH their keys on a channel, in the same round trip; receivers evict them.
 *
 * While invalidations are not flowing (subscriber down, tracking not yet re-enabled on a new
 * command connection), L1 copies live at most `degradedL1TtlMs`; once they flow again L1 is
 * emptied, since what was sent meanwhile is lost. Every eviction also stops a read already in
 * flight from filling L1 with the value it is bringing back (see l1/fill-guard.ts).
 */
export class Coherence implements L1Coherence, NodeConnectionHooks {
  readonly #log: Logger;
  readonly #prefixes: string[];
  readonly #channel: string;
  readonly #degradedL1TtlMs: number;
  readonly #subscriber: Subscriber;
  /** Identifies this process's announcements, which it ignores. */
  readonly #id = randomUUID();
  #mode: 'tracking' | 'pubsub';
  #target: CoherenceTarget | undefined;
  /** The current command connection (tracking mode needs it to redirect to the subscriber). */
  #connection: CommandConnection | undefined;
  /** The subscriber's client id while it is up. */
  #subscriberId: number | undefined;
  #subscriberUp = false;
  /** Tracking is on for this connection, redirected to this subscriber id. */
  #tracking: { connection: CommandConnection; clientId: number } | undefined;
  #connected = false;
  #everConnected = false;
  #servedUncovered = false;
  #closed = false;
  #reconciling: Promise<void> | undefined;
  #again = false;
  #messages = 0;
  #invalidatedKeys = 0;
  #l1Flushes = 0;
  #disconnects = 0;
  /** A warning when invalidations stop, reminders while they do, one line when they flow again. */
  readonly #outage: OutageLog<undefined>;

  constructor(config: ResolvedConfig) {
    this.#log = config.logger;
    this.#prefixes = [...new Set(Object.values(config.domains).map((domain) => domain.prefix))];
    this.#channel = config.coherence.channel;
    this.#degradedL1TtlMs = config.coherence.degradedL1TtlMs;
    this.#mode = config.coherence.mode === 'pubsub' ? 'pubsub' : 'tracking';
    this.#outage = new OutageLog(
      this.#log,
      { redis: config.redis.safeUrl, degradedL1TtlMs: this.#degradedL1TtlMs },
      { mark: () => undefined, since: () => ({ mode: this.#mode }) },
      {
        start:
          'cachette: invalidations stopped; L1 copies live at most coherence.degradedL1TtlMs until they flow again',
        still: 'cachette: invalidations still stopped; L1 copies live at most coherence.degradedL1TtlMs',
        end: 'cachette: invalidations flow again; L1 emptied',
      },
    );
    const { redis } = config;
    this.#subscriber = new Subscriber(
      {
        username: redis.username,
        password: redis.password,
        tls: redis.tls,
        tlsOptions: config.tlsOptions,
        connectTimeoutMs: config.connectTimeoutMs,
        heartbeatIntervalMs: config.healthCheckIntervalMs,
        heartbeatTimeoutMs: Math.min(config.socketTimeoutMs, config.healthCheckIntervalMs),
        reconnect: config.reconnect,
      },
      this.#subscription(),
      {
        up: (clientId) => this.#onSubscriberUp(clientId),
        down: () => this.#onSubscriberDown(),
        message: (channel, payload) => this.#onMessage(channel, payload),
        refused: (command, reply) => this.#onRefused(`${command}: ${reply}`),
      },
    );
  }

  /** One server: its command connection follows the server (a Sentinel failover too), so one set of hooks serves. */
  readonly hooksFor: HooksFor = () => this;

  /** Connects coherence to the L1 it keeps coherent. */
  attach(target: CoherenceTarget): void {
    this.#target = target;
  }

  /** The longest an L1 copy may live now, in ms: unbounded while connected, else the degraded TTL. */
  get maxL1TtlMs(): number {
    return this.#connected ? Number.POSITIVE_INFINITY : this.#degradedL1TtlMs;
  }

  get announcing(): boolean {
    return this.#mode === 'pubsub';
  }

  status(): CoherenceStatus {
    return {
      mode: this.#mode,
      connected: this.#connected,
      messages: this.#messages,
      invalidatedKeys: this.#invalidatedKeys,
      l1Flushes: this.#l1Flushes,
      disconnects: this.#disconnects,
      degradedL1TtlMs: this.#degradedL1TtlMs,
    };
  }

  /** A new command connection: the subscriber follows it to its server, then tracking is enabled on it. */
  async prepare(connection: CommandConnection): Promise<void> {
    if (this.#closed) return;
    // a new connection (or the same client reconnected) has no tracking on the server side
    this.#connection = connection;
    this.#tracking = undefined;
    this.#update();
    this.#subscriber.connectTo({ host: connection.host, port: connection.port });
    await this.#subscriber.settled();
    await this.#reconcile();
    // the connection must not count as ready without tracking while the subscriber is up; the
    // failure is the connection's (a timeout): the driver retries it
    if (
      this.#mode === 'tracking' &&
      this.#subscriberUp &&
      this.#connection === connection &&
      !this.#tracking
    ) {
      throw new Error('could not enable CLIENT TRACKING on the new connection');
    }
    // the connection serves reads from now on; while invalidations do not flow, what they bring into
    // L1 must go once they do
    if (!this.#connected) this.#servedUncovered = true;
  }

  lost(connection: CommandConnection): void {
    if (connection !== this.#connection) return;
    this.#connection = undefined;
    this.#tracking = undefined;
    this.#update();
  }

  announcement(keys: readonly string[] | 'all'): [string, string] | undefined {
    if (this.#mode !== 'pubsub') return undefined;
    // a message of the sender's id alone: the database was flushed
    if (keys === 'all') return [this.#channel, this.#id];
    const cached = keys.filter((key) => this.#isCached(key));
    if (cached.length === 0) return undefined;
    return [this.#channel, `${this.#id}\n${cached.join('\n')}`];
  }

  retire(): void {
    this.close();
  }

  close(): void {
    this.#closed = true;
    this.#connected = false;
    this.#outage.close();
    this.#subscriber.close();
  }

  /** Whether `key` is under a domain prefix, so that L1 may hold it. */
  #isCached(key: string): boolean {
    return this.#prefixes.some((prefix) => key.startsWith(prefix));
  }

  #subscription(): Subscription {
    return this.#mode === 'tracking'
      ? { channels: [INVALIDATE_CHANNEL], needId: true }
      : { channels: [this.#channel], needId: false };
  }

  #onSubscriberUp(clientId: number | undefined): void {
    this.#subscriberUp = true;
    this.#subscriberId = clientId;
    void this.#reconcile().catch(() => {
      // the command connection failed meanwhile; its replacement's prepare() enables tracking
    });
  }

  #onSubscriberDown(): void {
    this.#subscriberUp = false;
    this.#subscriberId = undefined;
    // the redirect target is gone: tracking must be re-enabled towards the next subscriber
    this.#tracking = undefined;
    this.#update();
  }

  /** Enables tracking where it is missing, one attempt at a time, until the state stops changing. */
  #reconcile(): Promise<void> {
    if (this.#reconciling) {
      this.#again = true;
      return this.#reconciling;
    }
    this.#reconciling = (async () => {
      do {
        this.#again = false;
        await this.#enableTracking();
        this.#update();
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#reconciling = undefined;
    });
    return this.#reconciling;
  }

  async #enableTracking(): Promise<void> {
    const connection = this.#connection;
    const clientId = this.#subscriberId;
    if (this.#mode !== 'tracking' || this.#closed || !connection || clientId === undefined) return;
    if (this.#tracking?.connection === connection && this.#tracking.clientId === clientId) return;
    try {
      // OFF first: tracking may already be on towards a subscriber that is gone. Both leave in one
      // write. L1 is emptied once invalidations flow again (#update), so what Redis remembers of
      // earlier reads does not matter here.
      await Promise.all([
        connection.send(['CLIENT', 'TRACKING', 'off']),
        connection.send(['CLIENT', 'TRACKING', 'on', 'REDIRECT', String(clientId), 'NOLOOP']),
      ]);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // the subscriber died between its id and now: its reconnection brings a new id
      if (/client ID you want redirect to does not exist/i.test(message)) return;
      if (isRefusal(err)) {
        this.#onRefused(`CLIENT TRACKING: ${message}`);
        return;
      }
      throw err;
    }
    if (this.#connection === connection && this.#subscriberId === clientId) {
      this.#tracking = { connection, clientId };
    } else {
      this.#again = true;
    }
  }

  /** Tracking is not allowed here: fall back to the pub/sub channel, which needs only SUBSCRIBE/PUBLISH. */
  #onRefused(reason: string): void {
    if (this.#mode === 'pubsub') {
      this.#log.error(
        { channel: this.#channel, reason },
        'cachette: the Redis user may not subscribe to the coherence channel; L1 copies live at most coherence.degradedL1TtlMs',
      );
      return;
    }
    this.#mode = 'pubsub';
    this.#tracking = undefined;
    // the current subscription is to the tracking channel: not connected until the new one is up
    this.#subscriberUp = false;
    this.#subscriberId = undefined;
    this.#log.warn(
      { reason, channel: this.#channel },
      'cachette: Redis refused client-side caching (CLIENT TRACKING); coherence falls back to pub/sub: writes made outside cachette reach other processes only when their L1 copy expires',
    );
    this.#subscriber.resubscribe(this.#subscription());
    this.#update();
  }

  /** Derives `connected` from the connections, and acts on its changes. */
  #update(): void {
    if (this.#closed) {
      this.#connected = false;
      return;
    }
    const connected =
      this.#subscriberUp &&
      (this.#mode === 'pubsub' ||
        (this.#tracking !== undefined &&
          this.#tracking.connection === this.#connection &&
          this.#tracking.clientId === this.#subscriberId));
    if (connected === this.#connected) return;
    this.#connected = connected;
    if (connected) {
      // what changed while invalidations were not flowing is unknown: start L1 afresh. Not on the
      // first connection, unless a connection served without it: nothing reached L1 before it
      // (reads wait for the first connection, writes fail)
      if (this.#everConnected || this.#servedUncovered) this.#target?.evictAll();
      if (this.#everConnected) {
        this.#l1Flushes++;
        this.#outage.up();
      }
      this.#everConnected = true;
    } else {
      this.#target?.capL1Ttl(this.#degradedL1TtlMs);
      if (this.#everConnected) {
        this.#disconnects++;
        this.#outage.down();
      }
    }
  }

  #onMessage(channel: string, payload: RespValue): void {
    const target = this.#target;
    if (channel === INVALIDATE_CHANNEL) {
      this.#messages++;
      if (payload === null) {
        // FLUSHDB / FLUSHALL
        this.#l1Flushes++;
        target?.evictAll();
        return;
      }
      if (!Array.isArray(payload)) return;
      for (const key of payload) {
        // reads of cachette's own keys (leases, tag indexes) are tracked too; L1 never holds them
        if (typeof key !== 'string' || !this.#isCached(key)) continue;
        this.#invalidatedKeys++;
        target?.evict(key);
      }
      return;
    }
    if (channel !== this.#channel || typeof payload !== 'string') return;
    const keys = payload.split('\n');
    if (keys[0] === this.#id) return;
    this.#messages++;
    if (keys.length === 1) {
      this.#l1Flushes++;
      target?.evictAll();
      return;
    }
    for (let i = 1; i < keys.length; i++) {
      this.#invalidatedKeys++;
      target?.evict(keys[i]!);
    }
  }
}
