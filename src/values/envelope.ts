/**
 * The Redis format of values written by `getOrSet` with `grace`.
 *
 * A value written without grace is the serializer's text alone (plain JSON by default), exactly
 * what the original Python service reads and writes. A value written with grace must outlive its
 * TTL by `grace` seconds so that it can be served stale, so its Redis TTL is `ttl + grace` and its
 * text says how much of that is grace:
 *
 *     {"__cachette":1,"ttl":60,"grace":300,"value":<the JSON value>}
 *
 * (with a custom serializer, `"text":"<the serialised string>"` replaces `"value"`). The value is
 * fresh while its remaining Redis TTL is above `grace` seconds, so freshness never depends on the
 * clocks of the processes. Plain reads (`get`, `getMany`) treat a stale enveloped value as a miss.
 */

const HEAD = /^\{"__cachette":1,"ttl":(\d+),"grace":(\d+),"(value|text)":/;

/** A stored text, unwrapped. */
export interface Unwrapped {
  /** The serializer's text of the value. */
  text: string;
  /** How long the value stays fresh, in ms; `Infinity` without expiry, 0 or less once stale. */
  freshMs: number;
  /** The TTL (seconds) the value was written with, when the envelope records it. */
  ttl: number | undefined;
}

/** Wraps `text` (serialised value) for a write with `grace` seconds; without grace returns `text` itself. */
export function wrap(text: string, ttl: number, grace: number, json: boolean): string {
  if (grace <= 0) return text;
  const head = `{"__cachette":1,"ttl":${ttl},"grace":${grace},`;
  return json ? `${head}"value":${text}}` : `${head}"text":${JSON.stringify(text)}}`;
}

/** Unwraps a text read from Redis together with its remaining TTL (`PTTL`, ms; -1 without expiry). */
export function unwrap(stored: string, pttlMs: number): Unwrapped {
  const remainingMs = pttlMs === -1 ? Number.POSITIVE_INFINITY : pttlMs;
  // the common case (plain JSON) costs one character comparison
  const head = stored.startsWith('{"__cachette":1,') ? HEAD.exec(stored) : null;
  if (head === null) return { text: stored, freshMs: remainingMs, ttl: undefined };
  const body = stored.slice(head[0].length, -1);
  return {
    text: head[3] === 'value' ? body : (JSON.parse(body) as string),
    freshMs: remainingMs - Number(head[2]) * 1000,
    ttl: Number(head[1]),
  };
}
