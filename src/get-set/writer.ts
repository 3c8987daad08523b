import type { Domain } from '../domains/registry.js';
import type { L2Failures } from '../domains/stats.js';
import type { L1 } from '../l1/l1.js';
import type { L2Driver, L2Entry } from '../l2/driver.js';
import type { SetTrace } from '../tracing/channels.js';
import type { Codec } from '../values/codec.js';
import type { LoaderParts } from './context.js';

/** One value to write: the key in its domain, the value, TTL in seconds, tag index keys. */
export interface WriteEntry {
  key: string;
  value: unknown;
  ttl: number;
  tags: string[];
}

/** The write path of `set` and `setMany`: both tiers, kept consistent when Redis fails. */
export class Writer {
  readonly #l1: L1;
  readonly #l2: L2Driver;
  readonly #codec: Codec;
  readonly #failures: L2Failures;

  constructor(parts: LoaderParts) {
    this.#l1 = parts.l1;
    this.#l2 = parts.l2;
    this.#codec = parts.codec;
    this.#failures = parts.failures;
  }

  /**
   * Serialises and writes entries of one domain in one round trip, then keeps them in L1; refused
   * values are logged and skipped. `false` if any was refused or Redis failed (`trace.outcome` says
   * which). Either way the value Redis still holds under such a key is older than the caller's: its
   * delete is owed to Redis.
   */
  async write(domain: Domain, entries: WriteEntry[], trace?: SetTrace): Promise<boolean> {
    const { counters } = domain;
    const { prefix } = domain.config;
    const writes: L2Entry[] = [];
    const tickets: number[] = [];
    const refused: string[] = [];
    const redisKeys = entries.map(({ key }) => prefix + key);
    // every old copy goes before any ticket is taken: an eviction after an earlier entry's ticket
    // would cancel that entry's fill whenever the two keys share a fill-guard bucket
    for (const redisKey of redisKeys) this.#l1.evict(redisKey);
    for (let i = 0; i < entries.length; i++) {
      const { value, ttl, tags } = entries[i]!;
      const redisKey = redisKeys[i]!;
      const text = this.#codec.serialize(value, redisKey, counters);
      if (text === undefined) {
        refused.push(redisKey);
        continue;
      }
      writes.push(tags.length > 0 ? { key: redisKey, text, ttl, tags } : { key: redisKey, text, ttl });
      tickets.push(this.#l1.ticket(redisKey));
    }
    if (trace) trace.outcome = refused.length === 0 ? 'stored' : 'refused';
    if (refused.length > 0) this.#l2.owe({ kind: 'keys', prefix, keys: refused });
    if (writes.length === 0) return false;
    try {
      await this.#l2.set(writes);
    } catch (err) {
      // the outcome is unknown: no copy may stay in L1, nor come in from a read in flight; and the
      // value Redis still holds is older than the caller's, so it is deleted once Redis answers
      for (const { key } of writes) this.#l1.evict(key);
      this.#l2.owe({ kind: 'keys', prefix, keys: writes.map(({ key }) => key) });
      this.#failures.report(writes.length === 1 ? 'set' : 'setMany', counters, err);
      if (trace) trace.outcome = 'error';
      return false;
    }
    counters.sets += writes.length;
    for (let i = 0; i < writes.length; i++) {
      const { key, text, ttl } = writes[i]!;
      // another writer's change reported while this write was in flight may have come after it in Redis;
      // L1 keeps the text (parsed on first read), so a caller mutating `value` after set() cannot change it
      this.#l1.fill(key, text, ttl * 1000, tickets[i]!);
    }
    return refused.length === 0;
  }
}
