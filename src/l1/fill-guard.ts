/**
 * Decides whether a value read from Redis may still be put into L1 when its reply arrives.
 *
 * A read is sent, then the key is written or invalidated (by this process or, through coherence,
 * by another one), then the read's now-outdated reply arrives: filling L1 with it would serve a
 * stale value for a whole L1 TTL. Each key hashes to one of a fixed number of counters; a write
 * bumps its counter, a bulk invalidation bumps the generation. A read remembers both and fills
 * L1 only if neither moved. Collisions only cost a skipped fill, and memory stays constant.
 */
export class FillGuard {
  readonly #counters = new Uint32Array(4096);
  #generation = 0;

  /** A ticket to take before sending a read of `key`. */
  ticket(key: string): number {
    return this.#counters[this.#bucket(key)]! + this.#generation * 0x1_0000_0000;
  }

  /** Whether nothing touched `key` since `ticket` was taken. */
  stillValid(key: string, ticket: number): boolean {
    return this.ticket(key) === ticket;
  }

  /** Records that `key` changed. */
  touch(key: string): void {
    const bucket = this.#bucket(key);
    this.#counters[bucket] = (this.#counters[bucket]! + 1) >>> 0;
  }

  /** Records that any key may have changed (pattern delete, flush, lost invalidations). */
  touchAll(): void {
    this.#generation++;
  }

  #bucket(key: string): number {
    // FNV-1a over the UTF-16 code units, folded to 12 bits
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
      hash ^= key.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash ^ (hash >>> 12) ^ (hash >>> 24)) & 0xfff;
  }
}
