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

const INCOMPLETE = Symbol('incomplete');

/**
 * Decodes replies from a byte stream split anywhere. Reads RESP3's `_` null too: Redis 7.0 sends it
 * on the invalidation channel after a flush even to a RESP2 connection.
 */
export class RespReader {
  #buffer: Buffer = Buffer.alloc(0);
  #offset = 0;

  /** Adds received bytes; returns every reply now complete, in order. Throws `RespProtocolError`. */
  push(chunk: Buffer): RespValue[] {
    this.#buffer =
      this.#offset < this.#buffer.length
        ? Buffer.concat([this.#buffer.subarray(this.#offset), chunk])
        : chunk;
    this.#offset = 0;
    const replies: RespValue[] = [];
    for (;;) {
      const start = this.#offset;
      const reply = this.#read();
      if (reply === INCOMPLETE) {
        this.#offset = start;
        return replies;
      }
      replies.push(reply);
    }
  }

  #line(): string | typeof INCOMPLETE {
    const end = this.#buffer.indexOf('\r\n', this.#offset);
    if (end === -1) return INCOMPLETE;
    const line = this.#buffer.toString('utf8', this.#offset, end);
    this.#offset = end + 2;
    return line;
  }

  #read(): RespValue | typeof INCOMPLETE {
    const line = this.#line();
    if (line === INCOMPLETE) return INCOMPLETE;
    const body = line.slice(1);
    switch (line[0]) {
      case '+':
        return body;
      case '-':
        return new RespError(body);
      case ':':
        return Number(body);
      case '_':
        return null;
      case '$': {
        const length = Number(body);
        if (length < 0) return null;
        if (this.#buffer.length < this.#offset + length + 2) return INCOMPLETE;
        const text = this.#buffer.toString('utf8', this.#offset, this.#offset + length);
        this.#offset += length + 2;
        return text;
      }
      case '*':
      case '>': {
        const count = Number(body);
        if (count < 0) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < count; i++) {
          const item = this.#read();
          if (item === INCOMPLETE) return INCOMPLETE;
          items.push(item);
        }
        return items;
      }
      default:
        throw new RespProtocolError(`unexpected reply type ${JSON.stringify(line.slice(0, 1))}`);
    }
  }
}
