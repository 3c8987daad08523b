import type { Keyspace } from './keyspace.js';
import type { FailedCalls } from './outage.js';

/** Where the circuit breaker in front of L2 stands, as reported by `cache.status().breaker`. */
export type BreakerState = 'closed' | 'open' | 'half-open';

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
  /** Tag index keys (see l2/keyspace.ts) that list `key`, written in the same atomic step. */
  tags?: readonly string[];
}

/**
 * Write-side work that did not complete in Redis, owed to it until it answers again (l2/pending/).
 * Always a delete, never a value: a value replayed later may be older than the database by then.
 */
export type OwedWork =
  /** These Redis keys, and their getOrSet leases, of the domain under `prefix`. */
  | { kind: 'keys'; prefix: string; keys: readonly string[] }
  /** The domain's keys matching the glob `pattern` (the part after `prefix`), and their leases. */
  | { kind: 'pattern'; prefix: string; pattern: string }
  /** The values listed in these tag indexes (from `tagKey`), in the app's domains. */
  | { kind: 'tags'; indexes: readonly string[] }
  /** Every key under the app's prefixes, and the app's entries in every tag index. */
  | { kind: 'flush' };

/** The work owed to Redis, as `cache.status().pending` reports it. */
export interface PendingStatus {
  /** Entries waiting for Redis now. */
  entries: number;
  /** The bound (`maxPending`); past it, entries widen: a domain's keys to the whole domain, then an app flush. */
  maxEntries: number;
  /** Entries applied since start, once Redis answered. */
  applied: number;
  /** Entries folded into a wider one to stay within the bound. */
  widened: number;
  /** Entries given up: Redis refused them (an error reply), or the cache closed before Redis answered. */
  dropped: number;
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
  /** The names of every key this driver's cache uses, its own included (after the app's key prefix). */
  readonly keyspace: Keyspace;
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
  /**
   * Owes `work` to Redis: applied on every server it concerns as soon as that server answers again,
   * before its breaker closes (at once where Redis is in use). Never throws.
   */
  owe(work: OwedWork): void;
  /** The work owed to Redis. */
  readonly pending: PendingStatus;
  /** Cache calls that failed against Redis, by kind (the outage log lines report them). */
  readonly failedCalls: FailedCalls;
  close(): Promise<void>;
}

/** What scripts and the tag index need of a driver: commands, whether keys live on several servers, the key names. */
export type L2Commands = Pick<L2Driver, 'command' | 'sharded' | 'keyspace'>;

/** One command connection, as coherence sees it (coherence/coherence.ts). */
export interface CommandConnection {
  readonly host: string;
  readonly port: number;
  /** Sends a command on this very connection, bounded by the connect timeout. */
  send<T>(args: string[]): Promise<T>;
}

/**
 * What coherence asks of the driver (coherence/coherence.ts), handed to the driver's constructor:
 * work to do on every new command connection, and announcements to send behind writes.
 */
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

/** The connection hooks of one server, or of one cluster primary until it is no longer a primary. */
export interface NodeConnectionHooks extends ConnectionHooks {
  /** The node is no longer a primary (failover) or the driver closes: nothing more will be prepared. */
  retire(): void;
}

/**
 * Where a driver gets the connection hooks of the server at `address` (`host:port`): coherence's,
 * when it is on. A single server or Sentinel's primary asks once; a cluster asks once per primary.
 */
export type HooksFor = (address: string) => NodeConnectionHooks;
