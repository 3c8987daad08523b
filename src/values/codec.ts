import type { DomainCounters } from '../domains/stats.js';
import { CacheValueError } from '../errors.js';
import { describeError, type Logger, RateLimitedLog } from '../logger.js';
import { unwrap } from './envelope.js';
import { jsonSerializer, type Serializer } from './serializer.js';

/** Where decoded values go: this process's L1 (l1/l1.ts). */
export interface DecodeSink {
  /** Keeps a fresh value's text for at most `ttlMs`, unless the key changed since `ticket`. */
  fill(redisKey: string, text: string, ttlMs: number, ticket: number): void;
  /** Drops the key's copy (an unreadable value must not stay there either), without marking the key changed. */
  discard(redisKey: string): void;
}

/** A value read from Redis, decoded. */
export type Decoded<T> =
  /** `freshMs`: how long it stays fresh (`Infinity` without expiry); `ttl`: the TTL it was written with, when known. */
  | { kind: 'fresh'; value: T; freshMs: number; ttl: number | undefined }
  /** Past its TTL, kept only for getOrSet's grace. */
  | { kind: 'stale'; value: T }
  /** Absent, or unreadable (counted as an error and logged). */
  | { kind: 'miss' };

/** The reply of one key: its text (`null`: absent) and its remaining TTL in ms. */
export interface StoredText {
  text: string | null;
  pttlMs: number;
}

/**
 * Values to Redis text and back: the serializer, the size limit, and the grace envelope
 * (envelope.ts). Refused values and unreadable texts are counted and logged here, rate-limited per
 * key, so every call path answers them alike.
 */
export class Codec {
  readonly serializer: Serializer;
  /** Whether the serializer writes JSON (the grace envelope then embeds the value as JSON). */
  readonly json: boolean;
  readonly #maxValueBytes: number;
  readonly #log: Logger;
  readonly #sink: DecodeSink;
  readonly #problems = new RateLimitedLog();

  constructor(serializer: Serializer, maxValueBytes: number, log: Logger, sink: DecodeSink) {
    this.serializer = serializer;
    this.json = serializer === jsonSerializer;
    this.#maxValueBytes = maxValueBytes;
    this.#log = log;
    this.#sink = sink;
  }

  /** The value's text, or `undefined` when it is refused (unserialisable, too large): counted and logged. */
  serialize(value: unknown, redisKey: string, counters: DomainCounters): string | undefined {
    let problem: string;
    try {
      const text = this.serializer.serialize(value);
      const max = this.#maxValueBytes;
      // a UTF-16 unit is at most 3 UTF-8 bytes: short texts skip the exact count
      if (text.length * 3 <= max || Buffer.byteLength(text) <= max) return text;
      problem = `value is larger than maxValueBytes (${max} bytes)`;
    } catch (err) {
      problem = `value cannot be serialised (${describeError(err)})`;
    }
    counters.refused++;
    const refusal = new CacheValueError(`cachette: refused to cache ${redisKey}: ${problem}`);
    this.#problems.emit(`refused:${redisKey}`, (suppressed) =>
      this.#log.warn({ key: redisKey, reason: problem, suppressed }, refusal.message),
    );
    return undefined;
  }

  /**
   * Decodes what Redis holds under `redisKey`, read by `operation` after taking `ticket`: a fresh value also fills
   * L1 (unless the key changed since the ticket). A text the serializer cannot read (written by
   * another program, or corrupted) is answered as a miss, counted in `errors`, logged once per key
   * and interval, and dropped from L1; a getOrSet then replaces it.
   */
  decode<T>(
    operation: string,
    redisKey: string,
    reply: StoredText,
    ticket: number,
    counters: DomainCounters,
  ): Decoded<T> {
    if (reply.text === null) return { kind: 'miss' };
    let unwrapped: ReturnType<typeof unwrap>;
    let value: T;
    try {
      unwrapped = unwrap(reply.text, reply.pttlMs);
      value = this.serializer.deserialize(unwrapped.text) as T;
    } catch (err) {
      counters.errors++;
      this.#sink.discard(redisKey);
      const reason = describeError(err);
      this.#problems.emit(`unreadable:${redisKey}`, (suppressed) =>
        this.#log.warn(
          { operation, key: redisKey, err: reason, suppressed },
          `cachette: ${operation} failed: the value in Redis cannot be read; answered as a miss`,
        ),
      );
      return { kind: 'miss' };
    }
    const { text, freshMs, ttl } = unwrapped;
    if (freshMs <= 0) return { kind: 'stale', value };
    this.#sink.fill(redisKey, text, freshMs, ticket);
    return { kind: 'fresh', value, freshMs, ttl };
  }
}
