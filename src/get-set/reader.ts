import type { Domain } from '../domains/registry.js';
import type { L2Failures } from '../domains/stats.js';
import type { L1 } from '../l1/l1.js';
import type { L2Driver, L2Read } from '../l2/driver.js';
import type { GetTrace } from '../tracing/channels.js';
import type { Codec } from '../values/codec.js';
import { assertValidKeys } from '../values/keys.js';
import type { LoaderParts } from './context.js';

/** The read paths of `get` past L1 and of `getMany`: L1 for each key, then one Redis round trip for the rest. */
export class Reader {
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
   * The value under `redisKey` of `domain` in Redis (after an L1 miss), filling L1; `undefined` on a
   * miss, for a value only kept for getOrSet's grace, and when Redis fails (`trace.outcome` says which).
   */
  async read<T>(domain: Domain, redisKey: string, trace: GetTrace | undefined): Promise<T | undefined> {
    const { counters } = domain;
    const ticket = this.#l1.ticket(redisKey);
    let reply: L2Read;
    try {
      reply = await this.#l2.get(redisKey);
    } catch (err) {
      counters.misses++;
      this.#failures.report('get', counters, err);
      if (trace) trace.outcome = 'error';
      return undefined;
    }
    const read = this.#codec.decode<T>('get', redisKey, reply, ticket, counters);
    if (trace) trace.outcome = read.kind === 'fresh' ? 'l2' : 'miss';
    if (read.kind !== 'fresh') {
      counters.misses++;
      return undefined;
    }
    counters.l2Hits++;
    return read.value;
  }

  /**
   * The values under `keys` of one domain, in order (`undefined` for misses and when Redis fails);
   * throws `CacheKeyError` for a bad key. A Redis failure sets `trace.outcome` to `error`.
   */
  async readMany<T>(
    domain: Domain,
    keys: readonly string[],
    trace?: GetTrace,
  ): Promise<Array<T | undefined>> {
    const { counters } = domain;
    const { prefix } = domain.config;
    assertValidKeys(keys);
    // dense: code that walks the answer with `for…in` or `forEach` (Keyv does) sees every miss
    const results = new Array<T | undefined>(keys.length).fill(undefined);
    const missing: number[] = [];
    // L1 holds the domain's keys as the caller gives them: only the misses need their Redis keys
    for (let i = 0; i < keys.length; i++) {
      const local = this.#l1.getIn(domain.l1, keys[i]!);
      if (local === undefined) missing.push(i);
      else {
        counters.l1Hits++;
        results[i] = local as T;
      }
    }
    if (missing.length === 0) return results;
    const redisKeys = missing.map((i) => prefix + keys[i]!);
    const tickets = redisKeys.map((redisKey) => this.#l1.ticket(redisKey));
    let replies: L2Read[];
    try {
      replies = await this.#l2.getMany(redisKeys);
    } catch (err) {
      counters.misses += missing.length;
      this.#failures.report('getMany', counters, err);
      if (trace) trace.outcome = 'error';
      return results;
    }
    let failure: unknown;
    replies.forEach((reply, j) => {
      // on a cluster, the server of this key may have failed while the others answered
      if (reply.failed !== undefined) failure ??= reply.failed;
      const read =
        reply.failed === undefined
          ? this.#codec.decode<T>('getMany', redisKeys[j]!, reply, tickets[j]!, counters)
          : undefined;
      if (read?.kind !== 'fresh') {
        counters.misses++;
        return;
      }
      counters.l2Hits++;
      results[missing[j]!] = read.value;
    });
    if (failure !== undefined) {
      this.#failures.report('getMany', counters, failure);
      if (trace) trace.outcome = 'error';
    }
    return results;
  }
}
