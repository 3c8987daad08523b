import type { ResolvedConfig } from '../../config/options.js';
import { describeError, type Logger, RateLimitedLog } from '../../logger.js';
import type { OwedWork, PendingStatus } from '../driver.js';

/**
 * Write-side work that did not complete in Redis, kept in memory until Redis answers again. Every
 * entry is a delete (a failed write becomes the delete of its key: the value itself may be older
 * than the database by the time Redis is back), so applying entries late, twice, or on a server
 * that did not need them only costs misses, never a stale value.
 *
 * Entries are de-duplicated and kept in the order they came. The work is bounded by `maxEntries`:
 * past it, it widens safely and says so in the log. First the domain with the most entries (keys
 * and patterns) becomes one delete of the whole domain; if no domain has more than one, everything
 * becomes one flush of the app's keys (which covers every other entry). A domain with more than
 * `MAX_PATTERNS_PER_DOMAIN` patterns widens the same way: every key of a server is matched against them.
 *
 * A key entry is applied by the server that holds its key (its slot's primary on a cluster). A
 * pattern, tag or flush entry concerns every server: each applies it once, and it is over when every
 * current server has (a server that replaced another, after a failover, applies it too).
 */

/** Pattern deletes kept per domain before the domain widens to one delete of all its keys. */
export const MAX_PATTERNS_PER_DOMAIN = 64;

/** One entry of the pending work; `done` lists the servers that applied an entry every server owes. */
export type PendingEntry =
  | { readonly kind: 'key'; readonly prefix: string; readonly key: string; readonly slot: number }
  | {
      readonly kind: 'pattern';
      readonly prefix: string;
      readonly pattern: string;
      readonly done: Set<string>;
    }
  | { readonly kind: 'tag'; readonly index: string; readonly done: Set<string> }
  | { readonly kind: 'flush'; readonly done: Set<string> };

/** The servers an `add` concerns: those serving these slots, every one, or none (nothing new). */
export type Concerned = readonly number[] | 'all' | 'none';

/** How a topology describes itself to its pending work. */
export interface PendingOptions {
  maxEntries: number;
  /** The app's key prefixes (a flush removes everything under them, and nothing else). */
  prefixes: readonly string[];
  log: Logger;
  /** Which Redis, for log lines (no password). */
  redis: string;
  /** The hash slot of a key (a cluster); one server: always 0. */
  slotOf?: (key: string) => number;
  /** The servers in use now (`host:port`), or `undefined` while unknown (a cluster not fully mapped). */
  servers: () => readonly string[] | undefined;
}

/** The pending work of one topology (one server, a Sentinel-managed primary, a cluster). */
export class PendingWork {
  readonly #options: PendingOptions;
  readonly #entries = new Map<string, PendingEntry>();
  readonly #refusals = new RateLimitedLog();
  #applied = 0;
  #widened = 0;
  #dropped = 0;
  /** The servers the broadcast entries were last checked against. */
  #checkedServers = '';
  #version = 0;

  constructor(options: PendingOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Moves each time work is added: a server that owed nothing at one version owes nothing new until it moves. */
  get version(): number {
    return this.#version;
  }

  get prefixes(): readonly string[] {
    return this.#options.prefixes;
  }

  status(): PendingStatus {
    this.#sweep();
    return {
      entries: this.#entries.size,
      maxEntries: this.#options.maxEntries,
      applied: this.#applied,
      widened: this.#widened,
      dropped: this.#dropped,
    };
  }

  /** Owes `work`; tells which servers it concerns, so that those in use can apply it at once. */
  add(work: OwedWork): Concerned {
    this.#version++;
    if (this.#covered('f')) return 'none';
    switch (work.kind) {
      case 'flush':
        this.#flush();
        return 'all';
      case 'keys':
        return this.#addKeys(work.prefix, work.keys);
      case 'pattern':
        return this.#addPattern(work.prefix, work.pattern) ? 'all' : 'none';
      case 'tags': {
        let added = false;
        for (const index of work.indexes) {
          const id = `t\0${index}`;
          if (this.#entries.has(id)) continue;
          this.#entries.set(id, { kind: 'tag', index, done: new Set() });
          added = true;
        }
        if (added) this.#bound(undefined);
        return added ? 'all' : 'none';
      }
    }
  }

  /** The entries the server at `address` still has to apply, in order; `owns(slot)`: whether it holds that slot's keys. */
  owedBy(address: string, owns: (slot: number) => boolean): PendingEntry[] {
    this.#sweep();
    const owed: PendingEntry[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.kind === 'key' ? owns(entry.slot) : !entry.done.has(address)) owed.push(entry);
    }
    return owed;
  }

  /** The server at `address` applied `entry` (or Redis refused it, `refusal`: then it is dropped, and logged). */
  settle(address: string, entry: PendingEntry, refusal?: unknown): void {
    const id = entryId(entry);
    if (this.#entries.get(id) !== entry) return;
    if (refusal !== undefined) {
      this.#entries.delete(id);
      this.#dropped++;
      const reason = describeError(refusal);
      this.#refusals.emit(reason, (suppressed) =>
        this.#options.log.warn(
          { redis: this.#options.redis, entry: describeEntry(entry), err: reason, suppressed },
          'cachette: Redis refused a pending delete; it is dropped',
        ),
      );
      return;
    }
    if (entry.kind === 'key') {
      this.#entries.delete(id);
      this.#applied++;
      return;
    }
    entry.done.add(address);
    if (this.#everyServerDid(entry)) {
      this.#entries.delete(id);
      this.#applied++;
    }
  }

  /** Gives up what is still owed (the cache closes); logged once when anything was. */
  abandon(): void {
    const left = this.#entries.size;
    if (left === 0) return;
    this.#dropped += left;
    this.#entries.clear();
    this.#options.log.warn(
      { redis: this.#options.redis, entries: left },
      'cachette: the cache closed before Redis answered; its pending deletes are dropped (the values expire with their TTL)',
    );
  }

  #addKeys(prefix: string, keys: readonly string[]): Concerned {
    if (this.#covered(wholeDomainId(prefix))) return 'none';
    const slotOf = this.#options.slotOf;
    const slots: number[] = [];
    for (const key of keys) {
      const id = `k\0${key}`;
      if (this.#entries.has(id)) continue;
      const slot = slotOf ? slotOf(key) : 0;
      this.#entries.set(id, { kind: 'key', prefix, key, slot });
      slots.push(slot);
    }
    if (slots.length === 0) return 'none';
    return this.#bound(prefix) ? 'all' : slots;
  }

  /** Adds a pattern delete; `false` when one already covers it. */
  #addPattern(prefix: string, pattern: string): boolean {
    if (this.#covered(wholeDomainId(prefix))) return false;
    if (pattern === '*') {
      this.#widenDomain(prefix, undefined);
      this.#bound(prefix);
      return true;
    }
    const id = `p\0${prefix}\0${pattern}`;
    if (this.#entries.has(id)) return false;
    this.#entries.set(id, { kind: 'pattern', prefix, pattern, done: new Set() });
    let patterns = 0;
    for (const entry of this.#entries.values())
      if (entry.kind === 'pattern' && entry.prefix === prefix) patterns++;
    if (patterns > MAX_PATTERNS_PER_DOMAIN)
      this.#widenDomain(prefix, 'more pattern deletes than a domain keeps');
    else this.#bound(prefix);
    return true;
  }

  /**
   * Keeps the entries within the bound: the domain with the most entries (ties: `preferred`) becomes
   * one delete of the whole domain, or everything one flush. `true` if it widened.
   */
  #bound(preferred: string | undefined): boolean {
    if (this.#entries.size <= this.#options.maxEntries) return false;
    const perDomain = new Map<string, number>();
    for (const entry of this.#entries.values()) {
      if (entry.kind === 'key' || entry.kind === 'pattern') {
        perDomain.set(entry.prefix, (perDomain.get(entry.prefix) ?? 0) + 1);
      }
    }
    let widest = preferred;
    let most = preferred === undefined ? 0 : (perDomain.get(preferred) ?? 0);
    for (const [prefix, count] of perDomain) {
      if (count > most) {
        widest = prefix;
        most = count;
      }
    }
    if (widest !== undefined && most > 1) this.#widenDomain(widest, 'more pending deletes than maxPending');
    else this.#flush('more pending deletes than maxPending');
    return true;
  }

  /** Every key and pattern entry of the domain under `prefix` becomes one delete of the whole domain. */
  #widenDomain(prefix: string, why: string | undefined): void {
    let folded = 0;
    for (const [id, entry] of this.#entries) {
      if ((entry.kind === 'key' || entry.kind === 'pattern') && entry.prefix === prefix) {
        this.#entries.delete(id);
        folded++;
      }
    }
    this.#entries.set(wholeDomainId(prefix), { kind: 'pattern', prefix, pattern: '*', done: new Set() });
    if (why === undefined) return;
    this.#widened += folded;
    this.#options.log.warn(
      { redis: this.#options.redis, prefix, entries: folded, maxEntries: this.#options.maxEntries, why },
      "cachette: pending deletes widened: the domain's owed keys become one delete of the whole domain when Redis is back",
    );
    // the domain's entry may still leave too many (tags, other domains)
    this.#bound(undefined);
  }

  /** Everything owed becomes one flush of the app's keys, which covers it all. */
  #flush(why?: string): void {
    const folded = this.#entries.size;
    this.#entries.clear();
    this.#entries.set('f', { kind: 'flush', done: new Set() });
    if (why === undefined) return;
    this.#widened += folded;
    this.#options.log.warn(
      { redis: this.#options.redis, entries: folded, maxEntries: this.#options.maxEntries, why },
      "cachette: pending deletes widened: everything owed becomes one flush of the app's keys when Redis is back",
    );
  }

  /**
   * Whether the entry `id` (a flush, a whole domain) is owed and no server applied it yet: it then
   * covers any later work of its scope. Once a server applied it, later work is owed on its own.
   */
  #covered(id: string): boolean {
    const entry = this.#entries.get(id);
    return entry !== undefined && entry.kind !== 'key' && entry.done.size === 0;
  }

  #everyServerDid(entry: { done: Set<string> }): boolean {
    const servers = this.#options.servers();
    return servers !== undefined && servers.length > 0 && servers.every((server) => entry.done.has(server));
  }

  /** The servers changed (a failover retired one): entries every remaining server applied are over. */
  #sweep(): void {
    const servers = this.#options.servers();
    const signature = servers?.join(',') ?? '';
    if (signature === this.#checkedServers) return;
    this.#checkedServers = signature;
    for (const [id, entry] of this.#entries) {
      if (entry.kind !== 'key' && entry.done.size > 0 && this.#everyServerDid(entry)) {
        this.#entries.delete(id);
        this.#applied++;
      }
    }
  }
}

/** The id of the entry that deletes every key of the domain under `prefix`. */
function wholeDomainId(prefix: string): string {
  return `p\0${prefix}\0*`;
}

function entryId(entry: PendingEntry): string {
  switch (entry.kind) {
    case 'key':
      return `k\0${entry.key}`;
    case 'pattern':
      return `p\0${entry.prefix}\0${entry.pattern}`;
    case 'tag':
      return `t\0${entry.index}`;
    case 'flush':
      return 'f';
  }
}

/** An entry for a log line: what it deletes (key names are the app's own, never values). */
function describeEntry(entry: PendingEntry): string {
  switch (entry.kind) {
    case 'key':
      return `key ${entry.key}`;
    case 'pattern':
      return `pattern ${entry.prefix}${entry.pattern}`;
    case 'tag':
      return `tag index ${entry.index}`;
    case 'flush':
      return 'app flush';
  }
}

/**
 * The pending work of a topology configured by `config`: its bound, the app's prefixes, its log.
 * `servers()` names the servers in use; `slotOf` maps a key to its hash slot on a cluster.
 */
export function pendingWorkFor(
  config: ResolvedConfig,
  servers: () => readonly string[] | undefined,
  slotOf?: (key: string) => number,
): PendingWork {
  return new PendingWork({
    maxEntries: config.maxPending,
    prefixes: [...new Set(Object.values(config.domains).map((domain) => domain.prefix))],
    log: config.logger,
    redis: config.redis.safeUrl,
    servers,
    ...(slotOf ? { slotOf } : {}),
  });
}
