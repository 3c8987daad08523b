import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import {
  ClientClosedError,
  ClientOfflineError,
  createClient,
  ErrorReply,
  type RedisClientType,
} from '@redis/client';
import type { ResolvedConfig } from '../../config/resolve.js';
import { CacheError } from '../../errors.js';
import { INDEX_LUA } from '../../invalidation/tags.js';
import { describeError, type Logger, RateLimitedLog } from '../../logger.js';
import { explainRefusal, L2PermissionError } from './acl.js';
import { type BreakerState, CircuitBreaker } from './breaker.js';
import { type DeadlineHooks, Deadlines } from './deadlines.js';

/** The L2 connection state, as reported by `cache.status()`. */
export type L2State = 'connecting' | 'ready' | 'reconnecting' | 'closed';

/** One key read from Redis: its text (or `null`) and its remaining TTL in ms (negative when none/missing). */
export interface L2Read {
  text: string | null;
  pttlMs: number;
  /**
   * Set by `getMany` on a cluster when the server holding this key failed while the others
   * answered: the key reads as missing, and this is why.
   */
  failed?: unknown;
}

/** One value to write: Redis key, serialised text, TTL in seconds, index keys of its tags. */
export interface L2Entry {
  key: string;
  text: string;
  ttl: number;
  /** Tag index keys (see tags.ts) that list `key`, written in the same atomic step. */
  tags?: readonly string[];
}

/**
 * The L2 driver: strings in and out, serialisation lives above it. Every method rejects on any
 * failure (unavailable, timeout, Redis error); the cache turns rejections into misses and `false`.
 */
export interface L2Driver {
  readonly state: L2State;
  /**
   * Keys live on several servers (Redis Cluster): a script or a multi-key command may only touch
   * keys of one hash slot, and keyless commands need `commandOnPrimaries`.
   */
  readonly sharded: boolean;
  /** The circuit breaker in front of Redis: while not `closed`, every operation is skipped at once. */
  readonly breaker: BreakerState;
  /** How many times the breaker has opened. */
  readonly breakerOpens: number;
  /** Resolves `true` once connected, or `false` after `timeoutMs` (never rejects). */
  ready(timeoutMs: number): Promise<boolean>;
  /** The text under `key` (or `null`) and its remaining TTL in ms (negative when none/missing). */
  get(key: string): Promise<L2Read>;
  /**
   * The texts under `keys` in order, with their remaining TTLs in ms, in one round trip. Rejects
   * when Redis fails; on a cluster only when every server involved failed (see `L2Read.failed`).
   */
  getMany(keys: string[]): Promise<L2Read[]>;
  /**
   * `SET key text EX ttl` for every entry, in one round trip. The write carries its deadline: if it
   * reaches Redis after the operation deadline (a paused Redis, a healed partition), it is dropped.
   */
  set(entries: L2Entry[]): Promise<void>;
  /** `UNLINK` of the keys; resolves to how many existed. */
  delete(keys: string[]): Promise<number>;
  /** Iterates `SCAN MATCH pattern`, yielding batches of keys. */
  scan(pattern: string, count?: number): AsyncIterable<string[]>;
  /**
   * One `SCAN cursor MATCH pattern COUNT count` step: the next cursor and a batch of keys. The
   * cursor is opaque (on a cluster it also names the node); `'0'` starts and ends the walk.
   */
  scanPage(cursor: string, pattern: string, count: number): Promise<[string, string[]]>;
  /**
   * Sends any command (admin and maintenance paths); still bounded by the operation deadline. On a
   * cluster it goes to the primary of its first key (`args[1]`, or the first key of EVAL/EVALSHA).
   */
  command<T>(args: string[]): Promise<T>;
  /** Sends a keyless command (INFO, DBSIZE…) to every primary; the replies in the primaries' order. */
  commandOnPrimaries<T>(args: string[]): Promise<T[]>;
  close(): Promise<void>;
}

/** One command connection, as coherence sees it (src/coherence.ts). */
export interface CommandConnection {
  readonly host: string;
  readonly port: number;
  /** Sends a command on this very connection, bounded by the connect timeout. */
  send<T>(args: string[]): Promise<T>;
}

/** What coherence asks of the driver (src/coherence.ts), through `ResolvedConfig.connectionHooks`. */
export interface ConnectionHooks {
  /** Runs on every new command connection before it counts as ready; a rejection keeps it not ready (retried). */
  prepare(connection: CommandConnection): Promise<void>;
  /** The connection failed, was replaced or closed: whatever `prepare` enabled on the server is gone. */
  lost(connection: CommandConnection): void;
  /** Whether writes and deletes are announced (pub/sub coherence). */
  readonly announcing: boolean;
  /**
   * The `[channel, message]` to PUBLISH right behind a write or delete of `keys` (`'all'`: the
   * database was flushed), or `undefined`.
   */
  announcement(keys: readonly string[] | 'all'): [string, string] | undefined;
}

/** The connection hooks of one cluster primary (`ResolvedConfig.nodeHooks`), until it is no longer a primary. */
export interface NodeConnectionHooks extends ConnectionHooks {
  /** The node is no longer a primary (failover) or the driver closes: nothing more will be prepared. */
  retire(): void;
}

/** Raised when L2 is not connected; the call is skipped at once instead of being queued. */
export class L2UnavailableError extends CacheError {
  constructor(code = 'E_L2_UNAVAILABLE', message = 'Redis is not connected', options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Raised while the circuit breaker is open: the call skipped L2 without touching the socket. */
export class L2BreakerOpenError extends L2UnavailableError {
  constructor() {
    super('E_L2_BREAKER_OPEN', 'Redis circuit breaker is open; L2 skipped');
  }
}

/** Raised when Redis did not answer within the operation deadline. */
export class L2TimeoutError extends CacheError {
  constructor(timeoutMs: number, message = `Redis did not answer within ${timeoutMs} ms`) {
    super('E_L2_TIMEOUT', message);
  }
}

/** One instance for every skipped call: an open breaker must cost no allocation per call. */
const BREAKER_OPEN = new L2BreakerOpenError();

/** Consecutive timeouts after which the connection is considered dead and replaced. */
const TIMEOUTS_BEFORE_RECYCLE = 3;
/** How long `close()` waits for a graceful QUIT before dropping the socket, in ms. */
const CLOSE_GRACE_MS = 500;
/**
 * Hard cap on commands queued or awaiting a reply on one connection. The breaker keeps the queue
 * short during an outage; this only stops a pathological caller from growing it without bound.
 */
const MAX_QUEUED_COMMANDS = 10_000;
/** Allowance for the two clocks drifting apart between calibrations (500 ppm, NTP's slew limit). */
const DRIFT_PER_MS = 0.0005;

/**
 * Every write goes through this script: it applies the SETs only if Redis runs it before the
 * write's deadline (ARGV[1], in ms of Redis's own clock). Without it a write that timed out on our
 * side can still land much later: once bytes are in Redis's socket buffer, neither closing nor
 * resetting the connection stops a paused Redis from executing them when it resumes (checked on
 * Linux), and a healed network partition delivers them too. A stale value landing after an
 * invalidation is a correctness bug; a dropped cache write is only a miss.
 *
 * The `EXISTS` after each `SET` is a read: with client-side caching on (coherence.ts), it makes Redis
 * remember that this connection holds the key, so that the next change by anyone else is reported
 * (the write itself is not reported back: NOLOOP). Every script that writes a value kept in L1 ends so.
 */
export const WRITE_SCRIPT = `local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000 > tonumber(ARGV[1]) then return 0 end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i * 2], 'EX', ARGV[i * 2 + 1])
  redis.call('EXISTS', KEYS[i])
end
return 1`;
export const WRITE_SCRIPT_SHA = createHash('sha1').update(WRITE_SCRIPT).digest('hex');

/**
 * The write script for entries with tags: the same deadline and SETs, then each value key added to
 * the index of each of its tags (tags.ts `index`). KEYS: the n value keys, then the tag index keys.
 * ARGV: deadline, n, text and ttl per entry, then per tag index: how many entries carry it and their
 * positions. Untagged writes keep the shorter script above.
 */
const TAGGED_WRITE_SCRIPT = `${INDEX_LUA}local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000 > tonumber(ARGV[1]) then return 0 end
local n = tonumber(ARGV[2])
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[i * 2 + 1], 'EX', ARGV[i * 2 + 2])
  redis.call('EXISTS', KEYS[i])
end
local at = n * 2 + 3
for t = n + 1, #KEYS do
  local count = tonumber(ARGV[at])
  for c = 1, count do
    local i = tonumber(ARGV[at + c])
    index(KEYS[t], KEYS[i], tonumber(ARGV[i * 2 + 2]) * 1000)
  end
  at = at + count + 1
end
return 1`;
const TAGGED_WRITE_SCRIPT_SHA = createHash('sha1').update(TAGGED_WRITE_SCRIPT).digest('hex');

/** A monotonic clock in epoch milliseconds: wall-clock steps on this machine cannot move it. */
function localNow(): number {
  return performance.timeOrigin + performance.now();
}

/** How Redis's clock relates to ours, measured with `TIME` on every connection and health check. */
interface ClockSample {
  /** Redis time minus local time, in ms. */
  offsetMs: number;
  /** Half the round trip of the measurement: the offset is exact within this, in ms. */
  uncertaintyMs: number;
  /** Local time of the measurement. */
  at: number;
}

type Client = RedisClientType;
type Outcome = 'answered' | 'timed-out' | 'failed';
type OutcomeHook = (outcome: Outcome, err?: unknown) => void;

/**
 * node-redis behind the L2 interface, configured to fail fast: no offline queue, a deadline on
 * every command, a circuit breaker that skips Redis while it is down or slow, reconnection forever
 * with capped backoff, a health check that replaces a connection that stopped answering, writes
 * that cannot land after their deadline, and one log line per outage rather than one per call.
 *
 * A connection counts as ready only after it answered `TIME` (which also calibrates the clock the
 * write deadlines use) and loaded the write script.
 */
export class RedisDriver implements L2Driver {
  readonly sharded = false;
  readonly #config: ResolvedConfig;
  readonly #log: Logger;
  readonly #breaker: CircuitBreaker;
  #client: Client;
  #state: L2State = 'connecting';
  #everConnected = false;
  #outageLogged = false;
  #probeLogged = false;
  #consecutiveTimeouts = 0;
  #firstAttempt: Promise<void>;
  #healthTimer: NodeJS.Timeout | undefined;
  #verifyTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #clock: ClockSample = { offsetMs: 0, uncertaintyMs: 0, at: 0 };
  /** `false` once Redis refused the write script (ACL without scripting): plain SETs, logged once. */
  #guardedWrites = true;
  readonly #readyWaiters = new Set<(ready: boolean) => void>();
  readonly #timeouts = new RateLimitedLog();
  readonly #timeoutMs: number;
  readonly #deadlines: Deadlines;
  readonly #hooks: ConnectionHooks | undefined;
  readonly #connections = new WeakMap<Client, CommandConnection>();

  constructor(config: ResolvedConfig) {
    this.#config = config;
    this.#log = config.logger;
    this.#hooks = config.connectionHooks;
    this.#timeoutMs = config.operationTimeoutMs;
    this.#deadlines = new Deadlines(config.operationTimeoutMs, () => new L2TimeoutError(this.#timeoutMs));
    this.#breaker = new CircuitBreaker(config.breaker, {
      probe: () => this.#probe(),
      onChange: (from, to, reason) => this.#onBreakerChange(from, to, reason),
    });
    const { client, firstAttempt } = this.#open();
    this.#client = client;
    this.#firstAttempt = firstAttempt;
    this.#healthTimer = setInterval(() => void this.#healthCheck(), config.healthCheckIntervalMs);
    this.#healthTimer.unref();
  }

  get state(): L2State {
    return this.#state;
  }

  get breaker(): BreakerState {
    return this.#breaker.state;
  }

  get breakerOpens(): number {
    return this.#breaker.opens;
  }

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

  async get(key: string): Promise<L2Read> {
    const client = this.#readyClient() ?? (await this.#usable());
    // Both commands leave in the same write (node-redis pipelines commands of one tick).
    const [text, pttlMs] = await this.#track(
      Promise.all([
        client.sendCommand<string | null>(['GET', key]),
        client.sendCommand<number>(['PTTL', key]),
      ]),
    );
    return { text, pttlMs };
  }

  async getMany(keys: string[]): Promise<L2Read[]> {
    const client = await this.#usable();
    const texts = client.sendCommand<Array<string | null>>(['MGET', ...keys]);
    const ttls = keys.map((key) => client.sendCommand<number>(['PTTL', key]));
    const [values, pttls] = await this.#track(Promise.all([texts, Promise.all(ttls)]));
    return values.map((text, i) => ({ text, pttlMs: pttls[i] ?? -2 }));
  }

  async set(entries: L2Entry[]): Promise<void> {
    const client = this.#readyClient() ?? (await this.#usable());
    const tagged = entries.some((entry) => entry.tags !== undefined && entry.tags.length > 0);
    if (!this.#guardedWrites) {
      // SET … EX is one atomic command (S5): never SET followed by EXPIRE.
      const writes: Array<Promise<unknown>> = entries.flatMap(({ key, text, ttl }) => [
        client.sendCommand(['SET', key, text, 'EX', String(ttl)]),
        // a read: the next change of the key by anyone else is reported (see WRITE_SCRIPT)
        client.sendCommand(['EXISTS', key]),
      ]);
      if (tagged) writes.push(...plainIndexing(client, entries));
      this.#announce(client, entries);
      await this.#track(Promise.all(writes));
      return;
    }
    const sentAt = performance.now();
    const [script, sha, args] = tagged
      ? [TAGGED_WRITE_SCRIPT, TAGGED_WRITE_SCRIPT_SHA, taggedWriteArgs(entries, this.#deadline(sentAt))]
      : [WRITE_SCRIPT, WRITE_SCRIPT_SHA, writeArgs(entries, this.#deadline(sentAt))];
    const write = client.sendCommand<number>(['EVALSHA', sha, ...args]);
    this.#announce(client, entries);
    let applied: number;
    try {
      try {
        applied = await this.#track(write);
      } catch (err) {
        // the script cache was flushed (restart, SCRIPT FLUSH): send the body, with the same deadline
        if (!(err instanceof ErrorReply && err.message.startsWith('NOSCRIPT'))) throw err;
        const retried = client.sendCommand<number>(['EVAL', script, ...args]);
        this.#announce(client, entries);
        applied = await this.#track(retried);
      }
    } catch (err) {
      if (err instanceof L2UnavailableError && mayHaveLeft(err)) await this.#outliveWrite(sentAt);
      throw err;
    }
    if (applied !== 1) {
      throw new L2TimeoutError(this.#timeoutMs, 'the write reached Redis after its deadline and was dropped');
    }
  }

  async delete(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const client = await this.#usable();
    const removed = client.sendCommand<number>(['UNLINK', ...keys]);
    this.#announce(client, keys);
    return this.#track(removed);
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

  async scanPage(cursor: string, pattern: string, count: number): Promise<[string, string[]]> {
    return this.command<[string, string[]]>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(count)]);
  }

  async command<T>(args: string[]): Promise<T> {
    const client = this.#readyClient() ?? (await this.#usable());
    const reply = client.sendCommand<T>(args);
    if (this.#hooks?.announcing) this.#announce(client, keysWritten(args));
    return this.#track(reply);
  }

  /**
   * Pub/sub coherence: PUBLISH the written keys right behind the write, in the same socket write
   * (node-redis pipelines the commands of one tick), so a write stays one round trip and the
   * message leaves only after Redis applied it.
   */
  #announce(client: Client, written: ReadonlyArray<string | { key: string }> | 'all'): void {
    if (!this.#hooks?.announcing) return;
    const keys =
      written === 'all' ? written : written.map((entry) => (typeof entry === 'string' ? entry : entry.key));
    const announcement = this.#hooks.announcement(keys);
    if (announcement) {
      client.sendCommand(['PUBLISH', ...announcement]).catch(() => {
        // a lost announcement is bounded by the receivers' L1 TTL; the write itself succeeded or failed on its own
      });
    }
  }

  async commandOnPrimaries<T>(args: string[]): Promise<T[]> {
    return [await this.command<T>(args)];
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'closed';
    clearInterval(this.#healthTimer);
    clearTimeout(this.#verifyTimer);
    this.#breaker.dispose();
    this.#deadlines.dispose();
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
   * The client when it can take a command right now, without the promise of `#usable` (the L2 hit
   * and set paths); `undefined` when `#usable` must decide. Throws while the breaker is open.
   */
  #readyClient(): Client | undefined {
    if (!this.#breaker.allows()) throw BREAKER_OPEN;
    return this.#state === 'ready' ? this.#client : undefined;
  }

  /**
   * The client if it can take a command now. An open breaker answers before anything else, without
   * touching the socket; before the first connection attempt ends, calls wait for it.
   */
  async #usable(): Promise<Client> {
    if (!this.#breaker.allows()) throw BREAKER_OPEN;
    if (this.#state === 'ready') return this.#client;
    if (this.#state === 'connecting' && !this.#everConnected) {
      await this.#firstAttempt;
      // the state may have changed while waiting
      if (this.state === 'ready') return this.#client;
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

  readonly #deadlineHooks: DeadlineHooks = {
    answered: () => this.#onOutcome('answered'),
    failed: (err) => commandFailure(err, this.#onOutcome),
    timedOut: () => this.#onOutcome('timed-out'),
  };

  readonly #onOutcome: OutcomeHook = (outcome, err) => {
    if (outcome === 'answered') {
      this.#consecutiveTimeouts = 0;
      this.#breaker.succeeded();
      return;
    }
    this.#breaker.failed(outcome === 'timed-out' ? 'timeout' : describeError(err));
    if (outcome === 'timed-out') this.#noteTimeout();
    if (outcome === 'timed-out' && this.#config.retryOnTimeout) {
      this.#consecutiveTimeouts++;
      if (this.#consecutiveTimeouts >= TIMEOUTS_BEFORE_RECYCLE) this.#recycle('consecutive timeouts');
    }
  };

  /**
   * Waits until a write sent at `sentAt` (performance.now) can no longer land. A write whose
   * connection failed under it (replaced after timeouts, reset) may still be in the network or in
   * Redis's socket buffer, and its script runs if it arrives before the deadline. Were its caller
   * told "failed" at once, an invalidation made next (by it or by anyone it tells) could be
   * overtaken by the write landing after it: a stale value after an invalidation. So the failure is
   * reported only once the deadline has passed; the call still settles within the deadline.
   */
  async #outliveWrite(sentAt: number): Promise<void> {
    const leftMs = sentAt + this.#timeoutMs - performance.now();
    // a referenced timer: the wait is short, and a script awaiting this write must not exit silently mid-await
    if (leftMs > 0) await sleep(leftMs);
  }

  /**
   * The deadline of a write sent at `sentAt` (performance.now), in Redis's clock, shortened by every
   * uncertainty so it errs early: Redis's clock reaches it before ours reaches `sentAt + timeout`.
   */
  #deadline(sentAt: number): number {
    const now = performance.timeOrigin + sentAt;
    const { offsetMs, uncertaintyMs, at } = this.#clock;
    const margin = uncertaintyMs + 1 + (now - at) * DRIFT_PER_MS;
    return Math.floor(now + this.#timeoutMs + offsetMs - margin);
  }

  /** Measures Redis's clock against ours with `TIME`, within `timeoutMs`; rejects on any failure. */
  async #calibrate(client: Client, timeoutMs: number, onOutcome?: OutcomeHook): Promise<void> {
    const sentAt = localNow();
    const [seconds, micros] = await withTimeout(
      client.sendCommand<[string, string]>(['TIME']),
      timeoutMs,
      onOutcome,
    );
    const receivedAt = localNow();
    const serverMs = Number(seconds) * 1000 + Number(micros) / 1000;
    this.#clock = {
      offsetMs: serverMs - (sentAt + receivedAt) / 2,
      uncertaintyMs: (receivedAt - sentAt) / 2,
      at: receivedAt,
    };
  }

  /**
   * Turns a node-redis connection into a ready one: clock calibrated, write script loaded (or, if
   * the Redis user may not run them, plain writes from now on and a PING instead). An error reply
   * (NOAUTH, LOADING…) or a timeout leaves it not ready and retries on the probe interval; commands
   * fail fast meanwhile.
   */
  async #verify(client: Client): Promise<void> {
    clearTimeout(this.#verifyTimer);
    if (client !== this.#client || this.#state === 'closed' || !client.isReady) return;
    const timeoutMs = this.#config.connectTimeoutMs;
    const startedAt = performance.now();
    try {
      if (this.#guardedWrites) {
        try {
          await Promise.all([
            this.#calibrate(client, timeoutMs, this.#onOutcome),
            withTimeout(client.sendCommand(['SCRIPT', 'LOAD', WRITE_SCRIPT]), timeoutMs),
          ]);
        } catch (err) {
          if (!isRefusal(err)) throw err;
          this.#unguardWrites(err);
        }
      }
      if (!this.#guardedWrites) await this.#checkAnswer(client, timeoutMs, this.#onOutcome);
      const connection = this.#connections.get(client);
      if (this.#hooks && connection) await this.#hooks.prepare(connection);
    } catch (err) {
      // the state may have changed while waiting
      if (client !== this.#client || this.state === 'closed') return;
      this.#markDown(err);
      this.#verifyTimer = setTimeout(() => void this.#verify(client), this.#config.breaker.probeIntervalMs);
      this.#verifyTimer.unref();
      return;
    }
    if (client === this.#client && this.state !== 'closed' && client.isReady) {
      this.#markUp(performance.now() - startedAt <= this.#timeoutMs);
    }
  }

  #unguardWrites(err: unknown): void {
    this.#guardedWrites = false;
    this.#log.warn(
      { redis: this.#config.redis.safeUrl, err: this.#redacted(err) },
      'cachette: the Redis user may not run TIME or scripts; writes use plain SET, and a write that times out may still land later',
    );
  }

  /** Asks Redis something cheap within `timeoutMs`: TIME (recalibrating the clock), or PING when writes are unguarded. */
  async #checkAnswer(client: Client, timeoutMs: number, onOutcome?: OutcomeHook): Promise<void> {
    if (this.#guardedWrites) await this.#calibrate(client, timeoutMs, onOutcome);
    else await withTimeout(client.sendCommand(['PING']), timeoutMs, onOutcome);
  }

  /** The breaker's probe: Redis answered on the current connection within the operation deadline. */
  async #probe(): Promise<boolean> {
    if (this.#state !== 'ready') return false;
    try {
      await this.#checkAnswer(this.#client, this.#timeoutMs, this.#onProbeOutcome);
      return true;
    } catch {
      return false;
    }
  }

  /** Probe timeouts still count towards replacing a dead connection; they do not feed the breaker itself. */
  readonly #onProbeOutcome: OutcomeHook = (outcome) => {
    if (outcome === 'answered') this.#consecutiveTimeouts = 0;
    else if (outcome === 'timed-out' && this.#config.retryOnTimeout) {
      this.#consecutiveTimeouts++;
      if (this.#consecutiveTimeouts >= TIMEOUTS_BEFORE_RECYCLE) this.#recycle('probes timed out');
    }
  };

  async #healthCheck(): Promise<void> {
    // while the breaker is open its probes do this job
    if (this.#state !== 'ready' || !this.#breaker.allows()) return;
    const client = this.#client;
    try {
      await this.#checkAnswer(client, this.#config.socketTimeoutMs);
    } catch (err) {
      const answered = err instanceof ErrorReply || err instanceof L2PermissionError;
      if (client === this.#client && this.#state === 'ready' && !answered) {
        this.#recycle(`health check failed (${describeError(err)})`);
      }
    }
  }

  /** Drops a connection that stopped answering and opens a fresh one. */
  #recycle(reason: string): void {
    if (this.#state === 'closed') return;
    this.#consecutiveTimeouts = 0;
    if (this.#outageLogged) {
      this.#log.debug(
        { reason, redis: this.#config.redis.safeUrl },
        'cachette: replacing the Redis connection',
      );
    }
    this.#markDown(new Error(`replacing the Redis connection: ${reason}`));
    const old = this.#client;
    old.removeAllListeners();
    old.on('error', () => {});
    // destroy() rejects whatever the old socket still had in flight; those callers already timed
    // out, and the write script stops any of their writes Redis still holds from landing late
    old.destroy();
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
      commandsQueueMaxLength: MAX_QUEUED_COMMANDS,
      pingInterval: healthCheckIntervalMs,
      disableClientInfo: true,
      // every command already carries our deadline (#track); node-redis's default 5 s one would add
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

  /** The connection passed its checks; `inTime`: it answered them within the operation deadline. */
  #markUp(inTime: boolean): void {
    this.#state = 'ready';
    this.#consecutiveTimeouts = 0;
    if (!this.#everConnected && !this.#outageLogged) {
      this.#log.debug({ redis: this.#config.redis.safeUrl }, 'cachette: connected to Redis');
    }
    this.#everConnected = true;
    // A connection that just answered TIME within the deadline is as good as a passed probe. One
    // that answered only within the connect timeout proves Redis is up, not that it is fast enough:
    // closing the breaker on it would let every call wait out its deadline again, once per new
    // connection, while Redis stays slow. The breaker's probes decide then.
    if (inTime) this.#breaker.recovered('a fresh connection answered');
    this.#noteHealthy();
    for (const waiter of [...this.#readyWaiters]) waiter(true);
  }

  #markDown(err: unknown): void {
    this.#loseConnection(this.#client);
    if (this.#state === 'ready') this.#state = 'reconnecting';
    this.#noteTrouble(err);
  }

  /** Tells coherence that whatever it enabled on `client`'s server-side connection is gone. */
  #loseConnection(client: Client): void {
    const connection = this.#connections.get(client);
    if (this.#hooks && connection) this.#hooks.lost(connection);
  }

  /** One warning per outage, whichever symptom shows first (disconnect, timeouts, breaker). */
  #noteTrouble(err: unknown): void {
    if (this.#outageLogged) return;
    this.#outageLogged = true;
    this.#probeLogged = false;
    this.#log.warn(
      { redis: this.#config.redis.safeUrl, err: this.#redacted(err) },
      'cachette: Redis unavailable; serving from memory and the application until it is back',
    );
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

  /** One info line when the outage is over: connected, and the breaker closed. */
  #noteHealthy(): void {
    if (!this.#outageLogged || this.#state !== 'ready' || !this.#breaker.allows()) return;
    this.#outageLogged = false;
    this.#log.info({ redis: this.#config.redis.safeUrl }, 'cachette: Redis connection restored');
  }

  #onBreakerChange(from: BreakerState, to: BreakerState, reason: string): void {
    const fields = { redis: this.#config.redis.safeUrl, from, to, reason };
    if (to === 'open' && from === 'closed') {
      this.#noteTrouble(new Error(reason));
      this.#log.info(
        fields,
        'cachette: circuit breaker open; Redis calls are skipped until it answers a probe',
      );
    } else if (to === 'closed') {
      this.#log.info(fields, 'cachette: circuit breaker closed; Redis calls resume');
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

/** EVALSHA arguments of WRITE_SCRIPT after the SHA. */
function writeArgs(entries: L2Entry[], deadline: number): string[] {
  const args = [String(entries.length), ...entries.map((entry) => entry.key), String(deadline)];
  for (const { text, ttl } of entries) args.push(text, String(ttl));
  return args;
}

/** EVALSHA arguments of TAGGED_WRITE_SCRIPT after the SHA. */
function taggedWriteArgs(entries: L2Entry[], deadline: number): string[] {
  const carriers = new Map<string, number[]>();
  entries.forEach(({ tags }, i) => {
    for (const tag of tags ?? []) {
      const positions = carriers.get(tag);
      if (positions === undefined) carriers.set(tag, [i + 1]);
      else positions.push(i + 1);
    }
  });
  const keys = [...entries.map((entry) => entry.key), ...carriers.keys()];
  const args = [String(keys.length), ...keys, String(deadline), String(entries.length)];
  for (const { text, ttl } of entries) args.push(text, String(ttl));
  for (const positions of carriers.values()) args.push(String(positions.length), ...positions.map(String));
  return args;
}

/**
 * Tag indexing without scripts (a Redis user that may not run them): SADD, then the set's expiry
 * set if it has none (NX) or raised if shorter (GT). Not atomic with the SET and without pruning;
 * the warning about unguarded writes already covers this mode.
 */
function plainIndexing(client: Client, entries: L2Entry[]): Array<Promise<unknown>> {
  const commands: Array<Promise<unknown>> = [];
  for (const { key, ttl, tags } of entries) {
    const ttlMs = String(ttl * 1000);
    for (const tag of tags ?? []) {
      commands.push(
        client.sendCommand(['SADD', tag, key]),
        client.sendCommand(['PEXPIRE', tag, ttlMs, 'NX']),
        client.sendCommand(['PEXPIRE', tag, ttlMs, 'GT']),
      );
    }
  }
  return commands;
}

/**
 * node-redis socket options for TLS. SNI carries a host name only (RFC 6066): for an IP address it
 * is left out and Node checks the certificate against the IP itself.
 */
export function tlsSocketOptions(host: string, extra: TlsOptions | undefined) {
  return { tls: true as const, ...(isIP(host) ? {} : { servername: host }), ...extra };
}

/** The keys a maintenance command writes, for pub/sub coherence: a script's KEYS, UNLINK/DEL's arguments. */
function keysWritten(args: string[]): string[] | 'all' {
  const name = args[0]?.toUpperCase();
  if (name === 'FLUSHDB' || name === 'FLUSHALL') return 'all';
  if (name === 'EVALSHA' || name === 'EVAL') return args.slice(3, 3 + Number(args[2]));
  if (name === 'UNLINK' || name === 'DEL') return args.slice(1);
  return [];
}

/** Whether Redis refused a command for good (ACL, disabled scripting) rather than failing this once. */
function isRefusal(err: unknown): boolean {
  return (
    err instanceof L2PermissionError ||
    (err instanceof ErrorReply && /unknown command|scripting is disabled/i.test(err.message))
  );
}

/** Removes a secret from a message in case a client error echoes it. */
export function redactSecrets(message: string, secret: string | undefined): string {
  return secret ? message.split(secret).join('***') : message;
}

/**
 * Rejects with `L2TimeoutError` if `pending` has not settled within `timeoutMs`. `onOutcome` hears
 * once what happened first: an answer (an error reply counts: Redis answered), a timeout, or a
 * failure of the connection. Whatever happens after the deadline is ignored.
 */
export function withTimeout<T>(pending: Promise<T>, timeoutMs: number, onOutcome?: OutcomeHook): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new L2TimeoutError(timeoutMs));
      onOutcome?.('timed-out');
    }, timeoutMs);
    pending.then(
      (result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        onOutcome?.('answered');
        resolve(result);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(commandFailure(err, onOutcome));
      },
    );
  });
}

/** Whether a command that failed with `err` may have reached the socket (node-redis refuses some before sending). */
function mayHaveLeft(err: L2UnavailableError): boolean {
  return !(err.cause instanceof ClientClosedError || err.cause instanceof ClientOfflineError);
}

/** The error a caller sees when its command failed before the deadline; tells `onOutcome` which kind. */
function commandFailure(err: unknown, onOutcome?: OutcomeHook): unknown {
  if (err instanceof ErrorReply) {
    onOutcome?.('answered', err);
    return explainRefusal(err);
  }
  onOutcome?.('failed', err);
  // a lost connection is an outage, which the driver logs once, not a failure of this call
  return new L2UnavailableError('E_L2_UNAVAILABLE', `Redis connection failed: ${describeError(err)}`, {
    cause: err,
  });
}
