/**
 * Redis's glob, as `SCAN … MATCH`, `KEYS` and `PSUBSCRIBE` apply it (`stringmatchlen` in Redis's
 * util.c), for the places where cachette matches a pattern itself: L1 eviction and lease revocation
 * must select exactly the keys Redis selects. Its rules, quirks included:
 *
 * - it works on bytes (a key's UTF-8), so `?` is one byte, not one character;
 * - `*` is any run of bytes, `?` one byte, `\x` the byte x (a trailing `\` is itself);
 * - `[…]` is one byte from a class: `^` first negates it; `\x` in it is x; `a-z` is a range, also
 *   when given backwards (`z-a`), compared as signed chars (bytes 0x80-0xFF are below 0 on x86,
 *   where Redis is built); a `]` right after `[` closes an empty class; a `[` that is never closed
 *   runs to the end of the pattern (`[ab` is `[ab]`), and a range may take the `]` as its end
 *   (`[a-]x` is the class of `]`..`a` and `x`, unclosed);
 * - an empty key matches only the empty pattern.
 *
 * A pattern compiles once into one-byte tokens and stars; a match then takes at most
 * (pattern length × key length) steps whatever the pattern, with no backtracking past the last
 * star (Redis's own matcher was exponential until 7.0.9).
 */

const STAR = -1;
const ANY = -2;
const BACKSLASH = 0x5c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const ASTERISK = 0x2a;
const QUESTION = 0x3f;

/** A token: a byte (0-255), `STAR`, `ANY`, or a class as the table of the bytes it accepts. */
type Token = number | Uint8Array;

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** `text` as UTF-8 in a reused buffer (lone surrogates become U+FFFD, as in what is sent to Redis). */
function utf8(text: string): Uint8Array {
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  const { written } = encoder.encodeInto(text, scratch);
  return scratch.subarray(0, written);
}

function signed(byte: number): number {
  return byte > 127 ? byte - 256 : byte;
}

/**
 * The class starting after the `[` at `start`: its table of accepted bytes, and the index of its
 * last pattern byte. Follows Redis's loop step by step, reading past the end as a NUL as Redis does.
 */
function readClass(p: Uint8Array, start: number): [Uint8Array, number] {
  const at = (i: number) => (i < p.length ? p[i]! : 0);
  let pos = start;
  const negate = at(pos) === CARET;
  if (negate) pos++;
  const bytes: number[] = [];
  const ranges: Array<[number, number]> = [];
  for (;;) {
    const left = p.length - pos;
    if (at(pos) === BACKSLASH && left >= 2) {
      pos++;
      bytes.push(at(pos));
    } else if (at(pos) === CLOSE) {
      break;
    } else if (left <= 0) {
      // never closed: the class ends with the pattern
      pos--;
      break;
    } else if (left >= 3 && at(pos + 1) === DASH) {
      const [a, b] = [signed(at(pos)), signed(at(pos + 2))];
      ranges.push(a <= b ? [a, b] : [b, a]);
      pos += 2;
    } else {
      bytes.push(at(pos));
    }
    pos++;
  }
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) {
    const s = signed(byte);
    const inside = bytes.includes(byte) || ranges.some(([lo, hi]) => s >= lo && s <= hi);
    table[byte] = inside !== negate ? 1 : 0;
  }
  return [table, pos];
}

function tokenize(pattern: string): Token[] {
  const p = encoder.encode(pattern);
  const tokens: Token[] = [];
  for (let pos = 0; pos < p.length; pos++) {
    const byte = p[pos]!;
    if (byte === ASTERISK) {
      if (tokens.at(-1) !== STAR) tokens.push(STAR);
    } else if (byte === QUESTION) {
      tokens.push(ANY);
    } else if (byte === OPEN) {
      const [table, end] = readClass(p, pos + 1);
      tokens.push(table);
      pos = end;
    } else if (byte === BACKSLASH && pos + 1 < p.length) {
      tokens.push(p[++pos]!);
    } else {
      tokens.push(byte);
    }
  }
  return tokens;
}

function accepts(token: Token, byte: number): boolean {
  if (typeof token === 'number') return token === ANY || token === byte;
  return token[byte] === 1;
}

/** A Redis glob compiled once; `matches(key)` tells whether Redis's `SCAN … MATCH` would select `key`. */
export class Glob {
  readonly #tokens: Token[];

  constructor(readonly pattern: string) {
    this.#tokens = tokenize(pattern);
  }

  matches(key: string): boolean {
    const tokens = this.#tokens;
    const n = tokens.length;
    const s = utf8(key);
    const m = s.length;
    if (m === 0) return n === 0;
    let i = 0;
    let j = 0;
    // the last star seen, and where in the key the run it stands for ends now
    let star = -1;
    let resume = 0;
    while (j < m) {
      const token = tokens[i];
      if (token === STAR) {
        star = i++;
        resume = j;
      } else if (i < n && accepts(token!, s[j]!)) {
        i++;
        j++;
      } else if (star >= 0) {
        // every token but a star takes one byte: only the last star needs to grow
        i = star + 1;
        j = ++resume;
      } else {
        return false;
      }
    }
    while (tokens[i] === STAR) i++;
    return i === n;
  }
}
