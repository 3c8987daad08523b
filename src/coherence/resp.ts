/**
 * Just enough of the Redis protocol (RESP2) for the coherence subscriber connection. node-redis 6
 * cannot carry that connection: it silently drops the `__redis__:invalidate` messages of RESP2
 * tracking (their payload is an array, not a string; checked with @redis/client 6.3.1), and it
 * resubscribes on reconnection before the new connection's `CLIENT ID` can be asked.
 */

import { RespProtocolError } from '../errors.js';

/** An error reply (`-ERR …`, `-NOPERM …`). */
export class RespError {
  constructor(readonly message: string) {}
}

/** A decoded reply: simple or bulk string, integer, null, error, or array of those. */
export type RespValue = string | number | null | RespError | RespValue[];

/** The bytes of one command, as an array of bulk strings. */
export function encodeCommand(args: readonly string[]): Buffer {
  let text = `*${args.length}\r\n`;
  for (const arg of args) text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return Buffer.from(text);
}

/**
 * Largest reply accepted, in bytes: an invalidation message lists keys this process read (at
 * most 1 KiB each), and Redis itself drops a subscriber whose output buffer passes 32 MiB.
 */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024;
/** Longest line (a type and its length or simple string), in bytes. */
const MAX_LINE_BYTES = 64 * 1024;
/** Deepest nesting of arrays: a message is an array holding an array of keys. */
const MAX_DEPTH = 8;
const LF = 0x0a;
const CR = 0x0d;
const INTEGER = /^-?\d{1,18}$/;
/** What a line that starts a bulk string or an array yields: its value comes later. */
const OPENED = Symbol('opened');

/**
 * Decodes replies from a byte stream split anywhere, in one pass: a reply split over many chunks
 * is never parsed again from its start. Reads RESP3's `_` null too: Redis 7.0 sends it on the
 * invalidation channel after a flush even to a RESP2 connection. Malformed input (an unknown type,
 * a length that is not a whole number, a line not ended by CRLF) and replies over `maxReplyBytes`
 * throw `RespProtocolError`, after which the reader is not usable: the connection must go.
 */
export class RespReader {
  readonly #maxReplyBytes: number;
  /** A line received in part. */
  #line: Buffer[] = [];
  #lineBytes = 0;
  /** A bulk string being received: its length and the bytes so far (with the final CRLF). */
  #bulk: { length: number; parts: Buffer[]; received: number } | undefined;
  /** The arrays being filled, outermost first. */
  readonly #open: Array<{ items: RespValue[]; remaining: number }> = [];
  /** Bytes of the reply being read so far. */
  #replyBytes = 0;

  constructor(maxReplyBytes = MAX_REPLY_BYTES) {
    this.#maxReplyBytes = maxReplyBytes;
  }

  /** Adds received bytes; returns every reply now complete, in order. Throws `RespProtocolError`. */
  push(chunk: Buffer): RespValue[] {
    const replies: RespValue[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#bulk !== undefined) {
        offset = this.#readBulk(chunk, offset, replies);
        continue;
      }
      const end = chunk.indexOf(LF, offset);
      const taken = (end === -1 ? chunk.length : end + 1) - offset;
      this.#count(taken);
      this.#lineBytes += taken;
      if (this.#lineBytes > MAX_LINE_BYTES)
        throw new RespProtocolError(`a line longer than ${MAX_LINE_BYTES} bytes`);
      this.#line.push(chunk.subarray(offset, offset + taken));
      offset += taken;
      if (end === -1) break;
      const line = this.#line.length === 1 ? this.#line[0]! : Buffer.concat(this.#line);
      this.#line = [];
      this.#lineBytes = 0;
      const value = this.#header(line);
      if (value !== OPENED) this.#value(value, replies);
    }
    return replies;
  }

  #count(bytes: number): void {
    this.#replyBytes += bytes;
    if (this.#replyBytes > this.#maxReplyBytes) {
      throw new RespProtocolError(`a reply larger than ${this.#maxReplyBytes} bytes`);
    }
  }

  /** One line ending in LF: a value, or `OPENED` when it starts a bulk string or an array. */
  #header(line: Buffer): RespValue | typeof OPENED {
    if (line.length < 3 || line[line.length - 2] !== CR) {
      throw new RespProtocolError('a line not ended by CRLF');
    }
    const body = line.toString('utf8', 1, line.length - 2);
    if (body.includes('\r')) throw new RespProtocolError('a CR inside a line');
    switch (line[0]) {
      case 0x2b: // +
        return body;
      case 0x2d: // -
        return new RespError(body);
      case 0x3a: // :
        return whole(body);
      case 0x5f: // _
        if (body !== '') throw new RespProtocolError('a RESP3 null with a body');
        return null;
      case 0x24: {
        // $
        const length = whole(body);
        if (length === -1) return null;
        if (length < 0 || length > this.#maxReplyBytes) {
          throw new RespProtocolError(`a bulk string of ${length} bytes`);
        }
        this.#bulk = { length, parts: [], received: 0 };
        return OPENED;
      }
      case 0x2a: // *
      case 0x3e: {
        // > (a RESP3 push)
        const count = whole(body);
        if (count === -1) return null;
        // every element takes 3 bytes at least
        if (count < 0 || count * 3 > this.#maxReplyBytes) {
          throw new RespProtocolError(`an array of ${count} elements`);
        }
        if (count === 0) return [];
        if (this.#open.length >= MAX_DEPTH)
          throw new RespProtocolError(`arrays nested deeper than ${MAX_DEPTH}`);
        this.#open.push({ items: [], remaining: count });
        return OPENED;
      }
      default:
        throw new RespProtocolError(`unexpected reply type ${JSON.stringify(String.fromCharCode(line[0]!))}`);
    }
  }

  #readBulk(chunk: Buffer, offset: number, replies: RespValue[]): number {
    const bulk = this.#bulk!;
    const taken = Math.min(bulk.length + 2 - bulk.received, chunk.length - offset);
    this.#count(taken);
    bulk.parts.push(chunk.subarray(offset, offset + taken));
    bulk.received += taken;
    if (bulk.received === bulk.length + 2) {
      const bytes = bulk.parts.length === 1 ? bulk.parts[0]! : Buffer.concat(bulk.parts);
      if (bytes[bulk.length] !== CR || bytes[bulk.length + 1] !== LF) {
        throw new RespProtocolError('a bulk string not ended by CRLF');
      }
      this.#bulk = undefined;
      this.#value(bytes.toString('utf8', 0, bulk.length), replies);
    }
    return offset + taken;
  }

  /** A complete value: into the innermost open array (closing those it fills), or out as a reply. */
  #value(value: RespValue, replies: RespValue[]): void {
    let done = value;
    for (;;) {
      const array = this.#open.at(-1);
      if (array === undefined) {
        replies.push(done);
        this.#replyBytes = 0;
        return;
      }
      array.items.push(done);
      if (--array.remaining > 0) return;
      this.#open.pop();
      done = array.items;
    }
  }
}

function whole(text: string): number {
  if (!INTEGER.test(text))
    throw new RespProtocolError(`${JSON.stringify(text.slice(0, 20))} is not a whole number`);
  return Number(text);
}
