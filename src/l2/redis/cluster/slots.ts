/** Redis Cluster's key space: 16384 hash slots, CRC16 (XMODEM) of the key or of its `{hash tag}`. */
export const SLOT_COUNT = 16384;

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** The bytes of an ASCII `key`, in a buffer reused between calls (valid until the next call). */
function asciiBytes(key: string): Uint8Array {
  if (scratch.length < key.length) scratch = new Uint8Array(key.length * 2);
  for (let i = 0; i < key.length; i++) scratch[i] = key.charCodeAt(i);
  return scratch.subarray(0, key.length);
}

/**
 * The hash slot of `key`, as Redis computes it (on the UTF-8 bytes): if the key holds `{…}` with at
 * least one character between the first `{` and the next `}`, only that part is hashed.
 */
export function keySlot(key: string): number {
  // most keys are ASCII: hash their char codes without encoding them
  let ascii = true;
  for (let i = 0; i < key.length && ascii; i++) ascii = key.charCodeAt(i) < 0x80;
  const bytes = ascii ? asciiBytes(key) : encoder.encode(key);
  let from = 0;
  let to = bytes.length;
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      from = open + 1;
      to = close;
    }
  }
  return crc16(bytes, from, to) % SLOT_COUNT;
}

/** The hash tag of each slot found so far, and the next base-36 number to try. */
const tags: Array<string | undefined> = new Array(SLOT_COUNT);
let nextTry = 0;

/**
 * A short hash tag whose slot is `slot`: `{<tag>}…` puts a key in that slot whatever follows. It is
 * the smallest base-36 number that hashes to the slot. Numbers are tried in order once per process,
 * each remembered for the slot it hits, until the asked slot has one: about 160 000 tries cover
 * all 16 384 slots, where a search per slot would take about 16 000 tries each.
 */
export function slotTag(slot: number): string {
  let tag = tags[slot];
  while (tag === undefined) {
    const candidate = (nextTry++).toString(36);
    tags[keySlot(candidate)] ??= candidate;
    tag = tags[slot];
  }
  return tag;
}

/** `key` prefixed with `namespace` and a hash tag that keeps it in the slot of `sibling`. */
export function keyBeside(namespace: string, sibling: string): string {
  return `${namespace}{${slotTag(keySlot(sibling))}}${sibling}`;
}
