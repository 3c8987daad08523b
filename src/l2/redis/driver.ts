import type { ResolvedConfig } from '../../config/options.js';
import { redactSecrets } from '../../config/redis-target.js';
import { L2BreakerOpenError, L2TimeoutError, L2UnavailableError } from '../../errors.js';
import { describeError, type Logger, RateLimitedLog } from '../../logger.js';
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
import type { FailedCalls, OutageLog } from '../outage.js';
import { announce, keysWritten } from './announce.js';
import { CircuitBreaker } from './breaker.js';
import { Coalescer } from './coalescer.js';
import { type Client, RedisConnection } from './connection.js';
import { DataCommands } from './data-commands.js';
import { commandOutageLog, type DataNode, NodeRecovery, soleServer } from './data-node.js';
import { type DeadlineHooks, Deadlines } from './deadlines.js';
import { commandFailure, type OutcomeHook } from './outcome.js';

/** One instance for every skipped call: an open breaker must cost no allocation per call. */
const BREAKER_OPEN = new L2BreakerOpenError();

/**
 * L2 on one Redis server, failing fast: a deadline on every command, a circuit breaker that skips
 * Redis while it is down or slow, writes that cannot land after their deadline, and a few log lines
 * per outage rather than one per call. What the cache owes this server (l2/pending/) is applied as
 * soon as it answers: before a new connection counts as ready, before the breaker closes, at once
 * while in use. The connection itself (reconnection, health check, replacement of a dead
 * connection) is connection.ts.
 */
export class RedisDriver implements L2Driver {
  readonly sharded = false;
  readonly keyspace: Keyspace;
  readonly #data: DataCommands;
  readonly #config: ResolvedConfig;
  readonly #log: Logger;
  readonly #breaker: CircuitBreaker;
  readonly #connection: RedisConnection;
  readonly #timeouts = new RateLimitedLog();
  readonly #timeoutMs: number;
  readonly #deadlines: Deadlines;
  readonly #hooks: ConnectionHooks | undefined;
  readonly #node: DataNode;
  /** Whether the pending work is this driver's own (one server), to give up on close. */
  readonly #ownsPending: boolean;
  readonly #outage: OutageLog<unknown>;
  readonly #recovery: NodeRecovery;
  #probeLogged = false;
  #closed = false;

  /**
   * `hooks`: what coherence must do on every new command connection, and its announcements.
   * `node`: what the topology shares with this server's driver (none for one server).
   */
  constructor(config: ResolvedConfig, hooks?: ConnectionHooks, node?: DataNode) {
    this.#config = config;
    this.#log = config.logger;
    this.#hooks = hooks;
    this.keyspace = new Keyspace(config.keyPrefix);
    this.#ownsPending = node === undefined;
    this.#node = node ?? soleServer(config);
    this.#outage = this.#node.outage ?? commandOutageLog(this.#log, config.redis.safeUrl, this.#node);
    this.#recovery = new NodeRecovery(this.#node, this.keyspace, config.breaker.probeIntervalMs);
    this.#timeoutMs = config.operationTimeoutMs;
    this.#deadlines = new Deadlines(config.operationTimeoutMs, () => new L2TimeoutError(this.#timeoutMs));
    this.#breaker = new CircuitBreaker(config.breaker, {
      probe: () => this.#probe(),
      onChange: (from, to, reason) => this.#onBreakerChange(from, to, reason),
    });
    this.#connection = new RedisConnection(config, hooks, {
      outcome: this.#onOutcome,
      up: (inTime) => {
        // A connection that just answered TIME within the deadline is as good as a passed probe. One
        // that answered only within the connect timeout proves Redis is up, not that it is fast enough:
        // closing the breaker on it would let every call wait out its deadline again, once per new
        // connection, while Redis stays slow. The breaker's probes decide then.
        if (inTime) this.#breaker.recovered('a fresh connection answered');
        this.#noteHealthy();
      },
      down: (err) => this.#noteTrouble(err),
      replacing: (reason) => {
        if (this.#outage.active) {
          this.#log.debug(
            { reason, redis: config.redis.safeUrl },
            'cachette: replacing the Redis connection',
          );
        }
      },
      checking: () => this.#breaker.allows(),
      recover: (client) => this.#applyOwed(client),
      unguarded: (err) =>
        this.#log.warn(
          { redis: config.redis.safeUrl, err: this.#redacted(err) },
          'cachette: the Redis user may not run TIME or scripts; writes use plain SET, and a write that times out may still land later',
        ),
    });
    this.#data = new DataCommands({
      connection: this.#connection,
      keyspace: this.keyspace,
      hooks,
      timeoutMs: this.#timeoutMs,
      track: (pending) => this.#track(pending),
    });
  }

  get state(): L2State {
    return this.#connection.state;
  }

  get breaker(): BreakerState {
    return this.#breaker.state;
  }

  get breakerOpens(): number {
    return this.#breaker.opens;
  }

  ready(timeoutMs: number): Promise<boolean> {
    return this.#connection.ready(timeoutMs);
  }

  get pending(): PendingStatus {
    return this.#node.pending.status();
  }

  get failedCalls(): FailedCalls {
    return this.#node.failedCalls;
  }

  owe(work: OwedWork): void {
    if (this.#node.pending.add(work) !== 'none') this.applyOwedSoon();
  }

  /**
   * Applies what this server owes at once if Redis is in use here (connected, breaker closed);
   * otherwise its recovery does, before the breaker closes or a new connection counts as ready.
   */
  applyOwedSoon(): void {
    this.#recovery.soon(() => {
      if (this.#closed || this.#connection.state !== 'ready' || !this.#breaker.allows()) return undefined;
      const client = this.#connection.client;
      return (args) => this.#send(client, args);
    });
  }

  get(key: string): Promise<L2Read> {
    if (!this.#breaker.allows()) return Promise.reject(BREAKER_OPEN);
    if (this.#connection.state === 'ready' && !this.#node.sharded) return this.#batches.read(key);
    return this.getMany([key]).then((reads) => reads[0]!);
  }

  async getMany(keys: string[]): Promise<L2Read[]> {
    this.#batches.flush();
    return this.#data.read(await this.#usable(), keys);
  }

  set(entries: L2Entry[]): Promise<void> {
    if (!this.#breaker.allows()) return Promise.reject(BREAKER_OPEN);
    if (this.#connection.state === 'ready' && !this.#node.sharded && this.#connection.guardedWrites) {
      return this.#batches.write(entries);
    }
    this.#batches.flush();
    return this.#usable().then((client) => this.#data.write(client, entries));
  }

  /**
   * This tick's reads and writes, each kind sent as one batch on the connection of the moment. Not
   * on a cluster node: a batch there could span hash slots, which Redis refuses.
   */
  readonly #batches = new Coalescer({
    reads: (keys) => this.#data.read(this.#sendingClient(), keys),
    writes: (entries) => this.#data.write(this.#sendingClient(), entries),
  });

  /** The client a batch is sent on: the breaker or the connection may have changed since it opened. */
  #sendingClient(): Client {
    const client = this.#readyClient();
    if (client !== undefined) return client;
    this.#breaker.failed('not connected');
    throw new L2UnavailableError();
  }

  async delete(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    this.#batches.flush();
    const client = await this.#usable();
    const removed = client.sendCommand<number>(['UNLINK', ...keys]);
    announce(this.#hooks, client, keys);
    return this.#track(removed);
  }

  async *scan(pattern: string, count = 1000): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      this.#batches.flush();
      const client = await this.#usable();
      const [next, keys] = await this.#track(
        client.sendCommand<[string, string[]]>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(count)]),
      );
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }

  async scanPage(cursor: string, pattern: string, count: number): Promise<[string, string[]]> {
    return this.command<[string, string[]]>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(count)]);
  }

  async command<T>(args: string[]): Promise<T> {
    return this.#send(this.#readyClient() ?? (await this.#usable()), args);
  }

  async commandOnPrimaries<T>(args: string[]): Promise<T[]> {
    return [await this.command<T>(args)];
  }

  async close(): Promise<void> {
    this.#closed = true;
    // this tick's batch leaves before the connection closes: its callers are answered by Redis or the close
    this.#batches.flush();
    const closing = this.#connection.close();
    this.#breaker.dispose();
    this.#deadlines.dispose();
    if (this.#node.outage === undefined) this.#outage.close();
    if (this.#ownsPending) this.#node.pending.abandon();
    await closing;
  }

  /** Sends `args` on `client` within the deadline; pub/sub coherence announces the keys it writes. */
  #send<T>(client: Client, args: string[]): Promise<T> {
    this.#batches.flush();
    const reply = client.sendCommand<T>(args);
    if (this.#hooks?.announcing) announce(this.#hooks, client, keysWritten(args));
    return this.#track(reply);
  }

  /** Applies what this server owes (l2/pending/) on `client`, past the breaker; rejects when Redis fails. */
  #applyOwed(client: Client): Promise<void> {
    return this.#recovery.apply((args) => this.#send(client, args));
  }

  /**
   * The client when it can take a command right now, without the promise of `#usable` (the L2 hit
   * and set paths); `undefined` when `#usable` must decide. Throws while the breaker is open.
   */
  #readyClient(): Client | undefined {
    if (!this.#breaker.allows()) throw BREAKER_OPEN;
    return this.#connection.state === 'ready' ? this.#connection.client : undefined;
  }

  /**
   * The client if it can take a command now. An open breaker answers before anything else, without
   * touching the socket; before the first connection attempt ends, calls wait for it.
   */
  async #usable(): Promise<Client> {
    if (!this.#breaker.allows()) throw BREAKER_OPEN;
    const connection = this.#connection;
    if (connection.state === 'ready') return connection.client;
    if (connection.state === 'connecting' && !connection.everConnected) {
      await connection.firstAttempt;
      // the state may have changed while waiting
      if (this.state === 'ready') return connection.client;
    }
    this.#breaker.failed('not connected');
    throw new L2UnavailableError();
  }

  /**
   * Bounds a command by the operation deadline and feeds its outcome to the breaker and to the
   * dead-connection detector. node-redis's own `timeout` only covers commands not yet written to
   * the socket, so the deadline is ours. A late reply is read and dropped by node-redis, keeping
   * the protocol in step; it does not count as an answer.
   */
  #track<T>(pending: Promise<T>): Promise<T> {
    return this.#deadlines.track(pending, this.#deadlineHooks);
  }

  readonly #onOutcome: OutcomeHook = (outcome, err) => {
    if (outcome === 'answered') {
      this.#connection.answered();
      this.#breaker.succeeded();
      // Redis answers again after a failure that left work owed while it stayed in use
      if (this.#node.pending.size > 0) this.applyOwedSoon();
      return;
    }
    this.#breaker.failed(outcome === 'timed-out' ? 'timeout' : describeError(err));
    if (outcome === 'timed-out') {
      this.#noteTimeout();
      this.#connection.timedOut('consecutive timeouts');
    }
  };

  readonly #deadlineHooks: DeadlineHooks = {
    answered: () => this.#onOutcome('answered'),
    failed: (err) => commandFailure(err, this.#onOutcome),
    timedOut: () => this.#onOutcome('timed-out'),
  };

  /**
   * The breaker's probe: Redis answered on the current connection within the operation deadline,
   * and what this server owes is applied (the breaker closes only then).
   */
  async #probe(): Promise<boolean> {
    if (this.#connection.state !== 'ready') return false;
    const client = this.#connection.client;
    try {
      await this.#connection.checkAnswer(this.#timeoutMs, this.#onProbeOutcome);
      await this.#applyOwed(client);
      return true;
    } catch {
      return false;
    }
  }

  /** Probe timeouts still count towards replacing a dead connection; they do not feed the breaker itself. */
  readonly #onProbeOutcome: OutcomeHook = (outcome) => {
    if (outcome === 'answered') this.#connection.answered();
    else if (outcome === 'timed-out') this.#connection.timedOut('probes timed out');
  };

  /** The outage starts with whichever symptom shows first (disconnect, timeouts, breaker): one warning. */
  #noteTrouble(err: unknown): void {
    if (this.#outage.active) return;
    this.#probeLogged = false;
    this.#outage.down(this.#redacted(err));
  }

  /**
   * A command that timed out. A run of them opens the breaker, which is the outage's one warning;
   * a timeout now and then is not worth a warning each: it is counted (`stats().errors`, the
   * exporter's L2 latency histogram) and logged at debug level, at most every 10 s.
   */
  #noteTimeout(): void {
    this.#timeouts.emit('timeout', (suppressed) =>
      this.#log.debug(
        { redis: this.#config.redis.safeUrl, timeoutMs: this.#timeoutMs, suppressed },
        'cachette: a Redis command did not answer within the operation deadline',
      ),
    );
  }

  /** The outage is over once connected with the breaker closed: one line, with what happened meanwhile. */
  #noteHealthy(): void {
    if (this.#connection.state !== 'ready' || !this.#breaker.allows()) return;
    this.#outage.up();
    // calls skipped while the last probe applied the pending work may have owed more
    this.applyOwedSoon();
  }

  /** Breaker transitions are part of the outage's lines; on their own they log at debug level. */
  #onBreakerChange(from: BreakerState, to: BreakerState, reason: string): void {
    const fields = { redis: this.#config.redis.safeUrl, from, to, reason };
    if (to === 'open' && from === 'closed') {
      this.#noteTrouble(new Error(`circuit breaker open: ${reason}`));
      this.#log.debug(
        fields,
        'cachette: circuit breaker open; Redis calls are skipped until it answers a probe',
      );
    } else if (to === 'closed') {
      this.#log.debug(fields, 'cachette: circuit breaker closed; Redis calls resume');
      this.#noteHealthy();
    } else if (to === 'half-open' && !this.#probeLogged) {
      // probes repeat every interval during a long outage: the first of each outage is enough
      this.#probeLogged = true;
      this.#log.debug(fields, 'cachette: circuit breaker half-open; probing Redis');
    }
  }

  #redacted(err: unknown): string {
    return redactSecrets(describeError(err), this.#config.redis.password);
  }
}
